// One cluster of a stdws node and a Node socket.io node through one Redis
// (argv: stdws URL, Node URL, Redis URL), with the official client on
// each: room emits and broadcasts both ways, binary both ways, and
// @socket.io/redis-emitter reaching stdws's clients. Each delivery is
// counted: exactly once, and nothing to the sender or outside the room.
// Then the adapter's requests both ways (fetchSockets, socketsJoin,
// socketsLeave, disconnectSockets, serverSideEmit with and without ack,
// broadcasts with acks), and, with two more stdws nodes of a cluster of
// their own with recovery on (argv 4 and 5), the official client's session
// recovered on the other node. One line per check; exit status 1 if any
// failed.
"use strict";
const { io } = require("socket.io-client");
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");

const [stdwsUrl, nodeUrl, redisUrl, recoveryA, recoveryB] = process.argv.slice(2);
let failed = 0;
function check(name, ok, detail) {
  console.log(`${ok ? "ok  " : "FAIL"} socketio_redis: ${name}${ok ? "" : `: ${detail}`}`);
  if (!ok) failed++;
}

function client(url, name, transports) {
  const socket = io(url, { transports, reconnection: false, forceNew: true });
  socket.got = [];
  socket.onAny((event, ...args) => socket.got.push({ event, args }));
  socket.on("question-all", (x, callback) => callback(name));
  socket.label = name;
  return new Promise((resolve, reject) => {
    socket.on("connect", () => resolve(socket));
    socket.on("connect_error", (e) => reject(new Error(`${name}: ${e.message}`)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ask = (socket, ...args) => socket.timeout(5000).emitWithAck(...args);

// Until the async condition holds, or 5 s.
async function eventually(condition) {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(50);
  }
  return false;
}

async function waitFor(what, condition) {
  const deadline = Date.now() + 10000;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

async function main() {
  // s1, s2 on stdws (WebSocket; s2 by polling then the upgrade), n1, n2 on Node.
  const s1 = await client(stdwsUrl, "s1", ["websocket"]);
  const s2 = await client(stdwsUrl, "s2", ["polling", "websocket"]);
  const n1 = await client(nodeUrl, "n1", ["websocket"]);
  const n2 = await client(nodeUrl, "n2", ["websocket"]);
  const all = [s1, s2, n1, n2];
  await ask(s1, "join", "r");
  await ask(n1, "join", "r");

  // A room emit from a stdws client, one from a Node client.
  await ask(s2, "to-room", "r", "from-stdws");
  await ask(n2, "to-room", "r", "from-node");
  // Broadcasts from each side, one with binary.
  await ask(s1, "broadcast", { text: "é from stdws", n: [1, -2, 1.5, null, true] });
  await ask(n1, "broadcast", Buffer.from([1, 2, 3]));
  await ask(s2, "broadcast", Buffer.from([4, 5]));

  // The emitter, as a Node service that is no socket.io server.
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  const emitter = new Emitter(redis);
  emitter.emit("emitter-all", 1, "two", { three: 3 });
  emitter.to("r").emit("emitter-room", "x");
  emitter.except("r").emit("emitter-not-r", "y");
  emitter.emit("end");

  const ended = await waitFor("end everywhere", () =>
    all.every((s) => s.got.some((g) => g.event === "end")));
  check("the emitter's last event reached every client of both nodes", ended,
    all.map((s) => `${s.label}: ${JSON.stringify(s.got)}`).join("; "));
  await sleep(300); // anything that would come twice comes now

  const count = (s, event, pred = () => true) =>
    s.got.filter((g) => g.event === event && pred(g.args)).length;
  const roomFrom = (from) => (args) => args[0] === "r" && args[1] === from;
  check("a stdws client's room emit reaches the room on the Node node, once",
    count(n1, "room-message", roomFrom("from-stdws")) === 1 && count(s1, "room-message", roomFrom("from-stdws")) === 1,
    `n1 ${count(n1, "room-message", roomFrom("from-stdws"))}, s1 ${count(s1, "room-message", roomFrom("from-stdws"))}`);
  check("a Node client's room emit reaches the room on the stdws node, once",
    count(s1, "room-message", roomFrom("from-node")) === 1 && count(n1, "room-message", roomFrom("from-node")) === 1,
    `s1 ${count(s1, "room-message", roomFrom("from-node"))}, n1 ${count(n1, "room-message", roomFrom("from-node"))}`);
  check("room emits reach nobody outside the room, nor their sender",
    count(s2, "room-message") === 0 && count(n2, "room-message") === 0,
    `s2 ${JSON.stringify(s2.got)}, n2 ${JSON.stringify(n2.got)}`);

  const fromS1 = (args) => args[0] && args[0].text === "é from stdws";
  check("a broadcast from stdws reaches every other client of both nodes once, JSON types intact",
    [s2, n1, n2].every((s) => count(s, "broadcast-message", fromS1) === 1) && count(s1, "broadcast-message", fromS1) === 0
      && JSON.stringify(n2.got.find((g) => g.event === "broadcast-message" && fromS1(g.args)).args[0].n) === "[1,-2,1.5,null,true]",
    all.map((s) => `${s.label}: ${count(s, "broadcast-message", fromS1)}`).join(", "));
  const bin = (bytes) => (args) => Buffer.isBuffer(args[0]) && args[0].equals(Buffer.from(bytes));
  check("a binary broadcast from Node reaches stdws's clients as binary, once",
    [s1, s2, n2].every((s) => count(s, "broadcast-message", bin([1, 2, 3])) === 1) && count(n1, "broadcast-message", bin([1, 2, 3])) === 0,
    all.map((s) => `${s.label}: ${JSON.stringify(s.got.filter((g) => g.event === "broadcast-message"))}`).join(", "));
  check("a binary broadcast from stdws reaches Node's clients as binary, once",
    [s1, n1, n2].every((s) => count(s, "broadcast-message", bin([4, 5])) === 1) && count(s2, "broadcast-message", bin([4, 5])) === 0,
    all.map((s) => `${s.label}: ${count(s, "broadcast-message", bin([4, 5]))}`).join(", "));
  check("the emitter reaches every client of both nodes, once, arguments intact",
    all.every((s) => count(s, "emitter-all", (a) => JSON.stringify(a) === '[1,"two",{"three":3}]') === 1),
    all.map((s) => `${s.label}: ${JSON.stringify(s.got.filter((g) => g.event === "emitter-all"))}`).join(", "));
  check("the emitter's room emit reaches only the room, on both nodes",
    count(s1, "emitter-room") === 1 && count(n1, "emitter-room") === 1 && count(s2, "emitter-room") === 0 && count(n2, "emitter-room") === 0,
    all.map((s) => `${s.label}: ${count(s, "emitter-room")}`).join(", "));
  check("the emitter's except leaves out the room, on both nodes",
    count(s1, "emitter-not-r") === 0 && count(n1, "emitter-not-r") === 0 && count(s2, "emitter-not-r") === 1 && count(n2, "emitter-not-r") === 1,
    all.map((s) => `${s.label}: ${count(s, "emitter-not-r")}`).join(", "));
  check("nothing arrived twice",
    all.every((s) => new Set(s.got.map((g) => JSON.stringify(g))).size === s.got.length),
    all.map((s) => `${s.label}: ${JSON.stringify(s.got)}`).join("; "));

  await requests(all);
  for (const s of all) s.disconnect();
  await redis.quit();
  if (recoveryA && recoveryB) await recovery();
}

// The adapter's requests, from the Node node to the stdws node and back.
async function requests([s1, s2, n1, n2]) {
  const all = [s1, s2, n1, n2];
  const ids = JSON.stringify(all.map((s) => s.id).sort());
  const idsOf = (list) => (Array.isArray(list) ? JSON.stringify(list.map((s) => s.id).sort()) : JSON.stringify(list));
  const roomsOf = (list, id) => ((Array.isArray(list) ? list : []).find((s) => s.id === id) || { rooms: [] }).rooms;
  let list;
  const fetchedAll = await eventually(async () => idsOf(list = await ask(s1, "cluster-fetch")) === ids);
  check("stdws's fetch_sockets finds the Node node's sockets, with their rooms",
    fetchedAll && roomsOf(list, n1.id).includes("r") && roomsOf(list, n1.id).includes(n1.id), JSON.stringify(list));
  list = await ask(n1, "node-fetch");
  check("Node's fetchSockets() finds the stdws node's sockets, with their rooms",
    idsOf(list) === ids && roomsOf(list, s1.id).includes("r") && roomsOf(list, s1.id).includes(s1.id), JSON.stringify(list));

  const count = await ask(n1, "node-count");
  check("Node's serverCount() counts the stdws node", count === 2, JSON.stringify(count));
  const rooms = await ask(n1, "node-rooms");
  check("Node's allRooms() has the stdws node's rooms",
    Array.isArray(rooms) && rooms.includes("r") && rooms.includes(s1.id) && rooms.includes(s2.id), JSON.stringify(rooms));

  const inRoom = (asker, id, room) => async () => roomsOf(await ask(asker, asker.label[0] === "s" ? "cluster-fetch" : "node-fetch"), id).includes(room);
  const notInRoom = (asker, id, room) => async () => !(await inRoom(asker, id, room)());
  await ask(n1, "node-join", s2.id, "j");
  check("Node's socketsJoin reaches a stdws socket", await eventually(inRoom(s1, s2.id, "j")), "s2 never joined j");
  await ask(n1, "node-leave", s2.id, "j");
  check("Node's socketsLeave reaches a stdws socket", await eventually(notInRoom(s1, s2.id, "j")), "s2 never left j");
  await ask(s1, "cluster-join", n2.id, "k");
  check("stdws's sockets_join reaches a Node socket", await eventually(inRoom(n1, n2.id, "k")), "n2 never joined k");
  await ask(s1, "cluster-leave", n2.id, "k");
  check("stdws's sockets_leave reaches a Node socket", await eventually(notInRoom(n1, n2.id, "k")), "n2 never left k");

  let answer = await ask(n1, "node-ping", "x");
  check("Node's serverSideEmitWithAck is answered by the stdws node's handler",
    JSON.stringify(answer) === '[["pong stdws","x"]]', JSON.stringify(answer));
  answer = await ask(s1, "cluster-ping", "y");
  check("stdws's server_side_emit_with_ack is answered by the Node node's handler",
    JSON.stringify(answer) === '[["pong node","y"]]', JSON.stringify(answer));
  await ask(n1, "node-note", "z");
  await ask(s1, "cluster-note", "w");
  const noted = (s, x) => s.got.filter((g) => g.event === "noted" && g.args[0] === x).length;
  await waitFor("noted", () => noted(s1, "z") && noted(s2, "z") && noted(n1, "w") && noted(n2, "w"));
  check("Node's serverSideEmit runs the stdws node's handler (and stdws's, Node's), once",
    [s1, s2].every((s) => noted(s, "z") === 1) && [n1, n2].every((s) => noted(s, "w") === 1)
      && [n1, n2].every((s) => noted(s, "z") === 0) && [s1, s2].every((s) => noted(s, "w") === 0),
    all.map((s) => `${s.label}: ${JSON.stringify(s.got.filter((g) => g.event === "noted"))}`).join(", "));

  answer = await ask(n1, "node-ask", "q1");
  check("Node's timeout(..).emitWithAck gets the acks of the stdws node's clients",
    JSON.stringify(answer) === '["n1","n2","s1","s2"]', JSON.stringify(answer));
  answer = await ask(s1, "cluster-ask", "q2");
  check("stdws's Broadcast::emit_with_ack gets the acks of the Node node's clients",
    JSON.stringify(answer) === '["n1","n2","s1","s2"]', JSON.stringify(answer));

  const s3 = await client(stdwsUrl, "s3", ["websocket"]);
  const n3 = await client(nodeUrl, "n3", ["websocket"]);
  const reason = (s) => new Promise((resolve) => s.on("disconnect", resolve));
  const s3Gone = reason(s3);
  const n3Gone = reason(n3);
  await ask(n1, "node-disconnect", s3.id);
  await ask(s1, "cluster-disconnect", n3.id);
  const timeout = (p) => Promise.race([p, sleep(5000).then(() => "no disconnect in 5 s")]);
  const [r3, rn3] = [await timeout(s3Gone), await timeout(n3Gone)];
  check("Node's disconnectSockets disconnects a stdws socket, and stdws's a Node socket",
    r3 === "io server disconnect" && rn3 === "io server disconnect", `s3: ${r3}, n3: ${rn3}`);
}

// The official client, its session parked on stdws node A, recovered on
// stdws node B: same id, rooms kept, what it missed once each.
async function recovery() {
  const options = { transports: ["websocket"], reconnection: false, forceNew: true };
  const track = (s) => {
    s.got = [];
    s.onAny((event, ...args) => s.got.push({ event, args }));
    return new Promise((resolve, reject) => {
      s.on("connect", () => resolve(s));
      s.on("connect_error", reject);
    });
  };
  const c = await track(io(recoveryA, options));
  await ask(c, "join", "rr");
  const onA = await client(recoveryA, "onA", ["websocket"]);
  const onB = await client(recoveryB, "onB", ["websocket"]);
  await ask(onB, "to-room", "rr", "before");
  await waitFor("before", () => c.got.some((g) => g.event === "room-message"));
  const { id, _pid: pid, _lastOffset: offset } = c;
  // The transport goes, as when the network drops.
  c.io.engine.close();
  const parked = await eventually(async () => (await ask(onA, "disconnects")).includes(id));
  await ask(onB, "to-room", "rr", "missed-from-b");
  await ask(onA, "to-room", "rr", "missed-from-a");
  // The client keeps pid and offset in its Socket: a new one to node B,
  // given them, sends them in its CONNECT as a reconnection would.
  const back = io(recoveryB, { ...options, autoConnect: false });
  back._pid = pid;
  back._lastOffset = offset;
  const connected = track(back);
  back.connect();
  await connected;
  check("the official client's session, parked on one stdws node, is recovered on another (same id)",
    parked && pid && offset && back.recovered === true && back.id === id,
    `parked ${parked}, pid ${pid}, offset ${offset}, recovered ${back.recovered}, id ${back.id} vs ${id}`);
  await ask(onA, "to-room", "rr", "live");
  await waitFor("live", () => back.got.some((g) => g.event === "room-message" && g.args[1] === "live"));
  const got = back.got.filter((g) => g.event === "room-message").map((g) => g.args[1]);
  check("it got what it missed from both nodes once each, then live broadcasts, its room kept",
    JSON.stringify(got.slice(0, 2).sort()) === '["missed-from-a","missed-from-b"]' && got.length === 3 && got[2] === "live",
    JSON.stringify(got));
  for (const s of [back, onA, onB]) s.disconnect();
}

main()
  .catch((e) => {
    console.log(`FAIL socketio_redis: ${e.stack || e}`);
    failed++;
  })
  .finally(() => process.exit(failed ? 1 : 0));
