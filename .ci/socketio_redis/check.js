// One cluster of a stdws node and a Node socket.io node through one Redis
// (argv: stdws URL, Node URL, Redis URL), with the official client on
// each: room emits and broadcasts both ways, binary both ways, and
// @socket.io/redis-emitter reaching stdws's clients. Each delivery is
// counted: exactly once, and nothing to the sender or outside the room.
// One line per check; exit status 1 if any failed.
"use strict";
const { io } = require("socket.io-client");
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");

const [stdwsUrl, nodeUrl, redisUrl] = process.argv.slice(2);
let failed = 0;
function check(name, ok, detail) {
  console.log(`${ok ? "ok  " : "FAIL"} socketio_redis: ${name}${ok ? "" : `: ${detail}`}`);
  if (!ok) failed++;
}

function client(url, name, transports) {
  const socket = io(url, { transports, reconnection: false, forceNew: true });
  socket.got = [];
  socket.onAny((event, ...args) => socket.got.push({ event, args }));
  socket.label = name;
  return new Promise((resolve, reject) => {
    socket.on("connect", () => resolve(socket));
    socket.on("connect_error", (e) => reject(new Error(`${name}: ${e.message}`)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ask = (socket, ...args) => socket.timeout(5000).emitWithAck(...args);

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

  for (const s of all) s.disconnect();
  await redis.quit();
}

main()
  .catch((e) => {
    console.log(`FAIL socketio_redis: ${e.stack || e}`);
    failed++;
  })
  .finally(() => process.exit(failed ? 1 : 0));
