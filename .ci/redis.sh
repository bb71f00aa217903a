#!/usr/bin/env bash
# The backplane's tests against a real Redis (Debian's redis-server): installs
# it if missing, starts it on a free loopback port, runs the tests with
# STDWS_REDIS_URL (the shared server) and STDWS_REDIS_SERVER (the binary, for
# the tests that start, kill and restart a Redis of their own), and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null; then
    echo "redis-server missing: installing Debian's package"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
server="$(command -v redis-server)"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
dir="$(mktemp -d)"
"$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize no >"$dir/redis.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
    grep -q "Ready to accept connections" "$dir/redis.log" && break
    kill -0 "$pid" || { cat "$dir/redis.log"; exit 1; }
    sleep 0.1
done
grep -q "Ready to accept connections" "$dir/redis.log" || { cat "$dir/redis.log"; exit 1; }
echo "redis-server $("$server" --version | awk '{print $3}') on 127.0.0.1:$port"

export STDWS_REDIS_URL="redis://127.0.0.1:$port"
export STDWS_REDIS_SERVER="$server"
cargo test --test backplane --test socketio_redis -- --test-threads 1 "$@"
