// A Node socket.io node of the same cluster as stdws's socketio_suite
// --redis: @socket.io/redis-adapter on the Redis at argv[2], the suite's
// room events (join, to-room, broadcast) on "/", and the adapter's requests
// toward the other nodes, each acked with its result or {error}:
// node-fetch (fetchSockets, as [{id, rooms}] sorted by id), node-rooms
// (adapter.allRooms(), sorted), node-count (adapter.serverCount()), node-join /
// node-leave (target, room: socketsJoin / socketsLeave), node-disconnect
// (target: disconnectSockets), node-ping (serverSideEmitWithAck "ping"),
// node-note (serverSideEmit "note"), node-ask (timeout(2000).emitWithAck
// "question-all" to every socket, answers sorted). Server-side: "ping"(x)
// is answered ["pong node", x], "note"(x) emits "noted"(x) to this node's
// sockets. Prints its URL.
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

async function main() {
  const url = process.argv[2];
  const pub = createClient({ url });
  const sub = pub.duplicate();
  pub.on("error", (e) => console.error("redis pub:", e.message));
  sub.on("error", (e) => console.error("redis sub:", e.message));
  await Promise.all([pub.connect(), sub.connect()]);
  const server = http.createServer();
  const io = new Server(server, { adapter: createAdapter(pub, sub, { requestsTimeout: 3000 }) });
  const reply = (ack, promise) => promise.then((v) => ack(v), (e) => ack({ error: e.message }));
  const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  io.on("ping", (...args) => {
    const callback = args.pop();
    callback(["pong node", ...args]);
  });
  io.on("note", (...args) => io.local.emit("noted", ...args));
  io.on("connection", (socket) => {
    socket.on("node-fetch", (ack) => reply(ack, io.fetchSockets().then((list) =>
      list.map((s) => ({ id: s.id, rooms: [...s.rooms].sort() })).sort(byId))));
    socket.on("node-rooms", (ack) => reply(ack, io.of("/").adapter.allRooms().then((rooms) => [...rooms].sort())));
    socket.on("node-count", (ack) => reply(ack, io.of("/").adapter.serverCount()));
    socket.on("node-join", (target, room, ack) => { io.in(target).socketsJoin(room); ack(true); });
    socket.on("node-leave", (target, room, ack) => { io.in(target).socketsLeave(room); ack(true); });
    socket.on("node-disconnect", (target, ack) => { io.in(target).disconnectSockets(); ack(true); });
    socket.on("node-ping", (x, ack) => reply(ack, io.serverSideEmitWithAck("ping", x)));
    socket.on("node-note", (x, ack) => { io.serverSideEmit("note", x); ack(true); });
    socket.on("node-ask", (x, ack) => reply(ack,
      io.timeout(2000).emitWithAck("question-all", x).then((answers) => answers.sort())));
    socket.on("join", (room, ack) => {
      socket.join(room);
      ack(room);
    });
    socket.on("to-room", (room, payload, ack) => {
      socket.to(room).emit("room-message", room, payload);
      ack(true);
    });
    socket.on("broadcast", (payload, ack) => {
      socket.broadcast.emit("broadcast-message", payload);
      ack(true);
    });
  });
  server.listen(0, "127.0.0.1", () => {
    console.log(`node socket.io listening on http://127.0.0.1:${server.address().port}`);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
