// The official socket.io-client against examples/socketio_suite.rs, one line
// per check ("ok ..." or "FAIL ..."), exit status 1 if any failed.
// Usage: node node_client.js URL SERVER_BINARY
"use strict";
const { io } = require("socket.io-client");
const WebSocket = require("ws");
const { spawn } = require("child_process");

const URL = process.argv[2];
const SERVER = process.argv[3];
let failed = 0;

function check(name, fn, ms = 5000) {
  return Promise.race([
    Promise.resolve().then(fn),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)),
  ]).then(
    () => console.log(`ok   node: ${name}`),
    (e) => { failed++; console.log(`FAIL node: ${name}: ${e && e.message}`); },
  );
}

function eq(actual, expected, what) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

function connect(opts = {}, nsp = "/", url = URL) {
  const socket = io(url + nsp, { forceNew: true, reconnection: false, ...opts });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (e) => { socket.close(); reject(e); });
  });
}

// Emits with an ack and resolves with all of the ack's arguments
// (emitWithAck gives only the first).
function call(socket, event, ...args) {
  return new Promise((resolve) => socket.emit(event, ...args, (...answer) => resolve(answer)));
}

function once(socket, event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}

const EVERY_TYPE = [null, true, false, 0, -1, 3.25, 1e21, "", "héllo wörld ✓ 日本語 😀", [], [1, [2, [3]]],
  { a: { b: [null, "x"] }, "ключ": "значение" }];

async function roundTrip(transports) {
  const socket = await connect({ transports });
  try {
    const auth = await once(socket, "auth");
    eq(auth, [{}], "auth");
    socket.emit("message", ...EVERY_TYPE);
    eq(await once(socket, "message-back"), EVERY_TYPE, "message-back");
    eq(await call(socket, "message-with-ack", "a", 1), ["a", 1], "ack");
    const [who] = await call(socket, "whoami");
    eq(who.transport, transports[0], "transport");
    eq(who.sid, socket.id, "sid");
  } finally {
    socket.close();
  }
}

async function main() {
  await check("polling: every JSON type and non-ASCII text, acks", () => roundTrip(["polling"]));
  await check("websocket: every JSON type and non-ASCII text, acks", () => roundTrip(["websocket"]));

  await check("default transports: polling, then the upgrade to websocket", async () => {
    const socket = io(URL, { forceNew: true, reconnection: false });
    // The manager opens before the upgrade can start.
    const upgraded = new Promise((resolve) => socket.io.once("open", () => {
      eq(socket.io.engine.transport.name, "polling", "first transport");
      socket.io.engine.once("upgrade", resolve);
    }));
    try {
      await once(socket, "connect");
      await upgraded;
      const [who] = await call(socket, "whoami");
      eq(who.transport, "websocket", "transport after the upgrade");
      socket.emit("message", "after upgrade");
      eq(await once(socket, "message-back"), ["after upgrade"], "message-back");
    } finally {
      socket.close();
    }
  });

  for (const transports of [["polling"], ["websocket"]]) {
    await check(`${transports[0]}: binary attachments both ways (nested, several, empty)`, async () => {
      const socket = await connect({ transports });
      try {
        const payload = { a: Buffer.from([1, 2, 3]), list: [Buffer.from([]), Buffer.from("héllo")] };
        socket.emit("message", payload, Buffer.from([255, 0]));
        const [back, bytes] = await once(socket, "message-back");
        eq([...back.a], [1, 2, 3], "nested binary");
        eq(back.list.map((b) => [...b]), [[], [...Buffer.from("héllo")]], "several binaries");
        eq([...bytes], [255, 0], "top-level binary");
        const acked = await call(socket, "message-with-ack", Buffer.from([7]));
        eq([...acked[0]], [7], "binary ack");
      } finally {
        socket.close();
      }
    });
  }

  await check("server asks, client acks (server-side emit_with_ack)", async () => {
    const socket = await connect({ transports: ["websocket"] });
    try {
      socket.on("question", (q, answer) => answer(`answer to ${q}`, 42));
      eq(await call(socket, "ask", "why"), [true], "ask acked");
      eq(await once(socket, "answer"), ["answer to why", 42], "answer");
    } finally {
      socket.close();
    }
  });

  await check("rooms, to-room excluding the sender, broadcast", async () => {
    const a = await connect({ transports: ["websocket"] });
    const b = await connect({ transports: ["polling"] });
    const c = await connect({ transports: ["websocket"] });
    try {
      eq(await call(a, "join", "r1"), ["r1"], "join ack");
      eq(await call(b, "join", "r1"), ["r1"], "join ack");
      let cGotRoom = false;
      c.on("room-message", () => { cGotRoom = true; });
      let bGotOwn = false;
      b.on("room-message", () => { bGotOwn = true; });
      const got = once(a, "room-message");
      eq(await call(b, "to-room", "r1", { x: "ü" }), [true], "to-room ack");
      eq(await got, ["r1", { x: "ü" }], "room-message");
      const gotA = once(a, "broadcast-message");
      const gotC = once(c, "broadcast-message");
      let bGotBroadcast = false;
      b.on("broadcast-message", () => { bGotBroadcast = true; });
      eq(await call(b, "broadcast", "all"), [true], "broadcast ack");
      eq(await gotA, ["all"], "broadcast to a");
      eq(await gotC, ["all"], "broadcast to c");
      eq(await call(a, "leave", "r1"), ["r1"], "leave ack");
      // A round trip through the server after its sends: nothing else came.
      await call(b, "whoami");
      eq([cGotRoom, bGotOwn, bGotBroadcast], [false, false, false], "excluded sockets got nothing");
    } finally {
      a.close(); b.close(); c.close();
    }
  });

  await check("namespaces: auth refused, accepted, unknown namespace", async () => {
    try {
      await connect({ auth: { token: "wrong" } }, "/admin");
      throw new Error("a wrong token was accepted");
    } catch (e) {
      eq(e.message, "unauthorized", "refusal");
    }
    try {
      await connect({}, "/nowhere");
      throw new Error("an unknown namespace was accepted");
    } catch (e) {
      eq(e.message, "Invalid namespace", "refusal");
    }
    const admin = await connect({ auth: { token: "s3cret-token" } }, "/admin");
    try {
      const [who] = await call(admin, "whoami");
      eq(who.nsp, "/admin", "nsp");
      const custom = await connect({ auth: { k: "v" } }, "/custom");
      eq(await once(custom, "auth"), [{ k: "v" }], "auth payload");
      custom.close();
    } finally {
      admin.close();
    }
  });

  await check("server disconnect, client disconnect, the disconnects list", async () => {
    const a = await connect({ transports: ["websocket"] });
    const b = await connect({ transports: ["polling"] });
    const aId = a.id, bId = b.id;
    const gone = once(a, "disconnect");
    a.emit("disconnect-me");
    eq((await gone)[0], "io server disconnect", "reason on the client");
    b.disconnect();
    const c = await connect();
    try {
      // b's DISCONNECT reaches the server with its own request: retry a little.
      for (let i = 0; i < 50; i++) {
        const [ids] = await call(c, "disconnects");
        if (ids.includes(aId) && ids.includes(bId)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("a or b missing from the disconnects list");
    } finally {
      c.close();
    }
  });

  await check("a client that stops answering pings is dropped on time", async () => {
    const ws = new WebSocket(`${URL.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
    const opened = Date.now();
    const [code] = await new Promise((resolve) => ws.on("close", (...a) => resolve(a)));
    const elapsed = Date.now() - opened;
    // pingInterval 300 + pingTimeout 200 (the connect timeout is 1000).
    if (elapsed < 450 || elapsed > 1500) throw new Error(`dropped after ${elapsed} ms`);
    void code;
  });

  await check("reconnection after a server restart", async () => {
    const port = 30000 + Math.floor(Math.random() * 20000);
    const url = `http://127.0.0.1:${port}`;
    const start = () => {
      const child = spawn(SERVER, ["--port", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
      return new Promise((resolve) => child.stdout.once("data", () => resolve(child)));
    };
    let server = await start();
    const socket = io(url, { forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200, transports: ["websocket"] });
    try {
      await once(socket, "connect");
      const firstId = socket.id;
      const lost = once(socket, "disconnect");
      server.kill();
      await lost;
      server = await start();
      await once(socket, "connect");
      if (socket.id === firstId) throw new Error("same id after a restart");
      eq(await call(socket, "message-with-ack", "back"), ["back"], "ack after reconnecting");
    } finally {
      socket.close();
      server.kill();
    }
  }, 10000);

  await check("connection state recovery: id, rooms and missed broadcasts back", async () => {
    const port = 30000 + Math.floor(Math.random() * 20000);
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(SERVER, ["--port", String(port), "--recovery"], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((resolve) => child.stdout.once("data", resolve));
    const opts = { forceNew: true, transports: ["websocket"], reconnectionDelay: 50, reconnectionDelayMax: 100 };
    const a = io(url, opts);
    const b = io(url, { ...opts, reconnection: false });
    try {
      await Promise.all([once(a, "connect"), once(b, "connect")]);
      eq(await call(a, "join", "r"), ["r"], "join");
      const first = once(a, "room-message");
      await call(b, "to-room", "r", 1);
      eq((await first).slice(0, 2), ["r", 1], "before the loss");
      const id = a.id;
      const lost = once(a, "disconnect");
      a.io.engine.close(); // the transport is lost: "transport close"
      await lost;
      await call(b, "to-room", "r", 2); // missed while away
      const missed = once(a, "room-message");
      await once(a, "connect");
      eq([a.recovered, a.id], [true, id], "recovered with its id");
      eq((await missed).slice(0, 2), ["r", 2], "the missed broadcast");
      const third = once(a, "room-message");
      await call(b, "to-room", "r", 3);
      eq((await third).slice(0, 2), ["r", 3], "still in the room");
    } finally {
      a.close(); b.close(); child.kill();
    }
  }, 10000);

  process.exit(failed ? 1 : 0);
}

main();
