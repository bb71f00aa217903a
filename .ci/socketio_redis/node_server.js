// A Node socket.io node of the same cluster as stdws's socketio_suite
// --redis: @socket.io/redis-adapter on the Redis at argv[2], the suite's
// room events (join, to-room, broadcast) on "/". Prints its URL.
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
  const io = new Server(server, { adapter: createAdapter(pub, sub) });
  io.on("connection", (socket) => {
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
