#!/usr/bin/env bash
# One Socket.IO cluster of a stdws node and a Node socket.io node through a
# real Redis (Debian's redis-server, started here on a free loopback port as
# .ci/redis.sh does): examples/socketio_suite.rs --redis, and
# .ci/socketio_redis/node_server.js with @socket.io/redis-adapter; then
# .ci/socketio_redis/check.js puts the official client on each node, sends
# room emits and broadcasts both ways (binary too), and has
# @socket.io/redis-emitter reach the clients of both, then has each node
# ask the other the adapter's requests (fetchSockets, socketsJoin/Leave,
# disconnectSockets, serverSideEmit, broadcasts with acks); two more stdws
# nodes, a cluster of their own (key "rec") with connection state recovery
# on, see the official client's session parked on one recovered on the
# other. The npm packages are
# installed with pinned versions into target/socketio_redis/ (outside version
# control) from .ci/socketio_redis/package-lock.json. One line per check; the
# exit status is non-zero if any failed. Everything started here is stopped
# on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=$PWD
DIR=$ROOT/target/socketio_redis
CI_DIR=$ROOT/.ci/socketio_redis
mkdir -p "$DIR"

die() {
  echo "socketio_redis: $*"
  exit 1
}

if ! command -v redis-server >/dev/null; then
  echo "redis-server missing: installing Debian's package"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

if ! cmp -s "$CI_DIR/package-lock.json" "$DIR/package-lock.json" \
  || [ ! -f "$DIR/node_modules/@socket.io/redis-adapter/package.json" ]; then
  cp "$CI_DIR/package.json" "$CI_DIR/package-lock.json" "$DIR/"
  timeout 300 npm ci --prefix "$DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
    >"$DIR/npm.log" 2>&1 || { cat "$DIR/npm.log"; die "npm ci failed for .ci/socketio_redis/package-lock.json"; }
  echo "socketio_redis: installed socket.io, @socket.io/redis-adapter, @socket.io/redis-emitter into target/socketio_redis"
fi

cargo build --release --example socketio_suite --quiet
BIN=$ROOT/target/release/examples/socketio_suite

PIDS=()
WORK=$(mktemp -d)
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --daemonize no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  grep -q "Ready to accept connections" "$WORK/redis.log" && break
  sleep 0.1
done
grep -q "Ready to accept connections" "$WORK/redis.log" || { cat "$WORK/redis.log"; die "redis-server did not start"; }
REDIS=redis://127.0.0.1:$port

# wait_url FILE: the first http:// URL the process writing FILE prints.
wait_url() {
  local url=
  for _ in $(seq 100); do
    url=$(grep -o -m1 'http://[0-9.:]*' "$1" 2>/dev/null) || true
    [ -n "$url" ] && break
    sleep 0.1
  done
  echo "$url"
}

"$BIN" --port 0 --redis "$REDIS" >"$DIR/stdws.out" 2>"$DIR/stdws.err" &
PIDS+=($!)
for n in a b; do
  "$BIN" --port 0 --redis "$REDIS" --redis-key rec --recovery >"$DIR/rec-$n.out" 2>"$DIR/rec-$n.err" &
  PIDS+=($!)
done
NODE_PATH=$DIR/node_modules node "$CI_DIR/node_server.js" "$REDIS" >"$DIR/node.out" 2>"$DIR/node.err" &
PIDS+=($!)
STDWS_URL=$(wait_url "$DIR/stdws.out")
NODE_URL=$(wait_url "$DIR/node.out")
[ -n "$STDWS_URL" ] || { cat "$DIR/stdws.err"; die "the socketio_suite example did not start"; }
[ -n "$NODE_URL" ] || { cat "$DIR/node.err"; die "the Node socket.io node did not start"; }
REC_A=$(wait_url "$DIR/rec-a.out")
REC_B=$(wait_url "$DIR/rec-b.out")
[ -n "$REC_A" ] && [ -n "$REC_B" ] || { cat "$DIR"/rec-*.err; die "the recovery nodes did not start"; }
# Both subscribed: the stdws node logs its subscriber, Node's adapter
# subscribes before it listens.
for f in stdws rec-a rec-b; do
  for _ in $(seq 100); do
    grep -q "subscriber connected" "$DIR/$f.err" && break
    sleep 0.1
  done
done

status=0
NODE_PATH=$DIR/node_modules timeout 120 node "$CI_DIR/check.js" "$STDWS_URL" "$NODE_URL" "$REDIS" "$REC_A" "$REC_B" || status=1
[ "$status" = 0 ] && echo "socketio_redis: all checks passed"
exit "$status"
