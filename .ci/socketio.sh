#!/usr/bin/env bash
# Socket.IO with the official clients: npm's socket.io-client
# (.ci/socketio/node_client.js) and PyPI's python-socketio client
# (.ci/socketio/py_client.py) against examples/socketio_suite.rs, over both
# transports and the upgrade (see the scripts for the list of checks).
#
# The official protocol test suites (the test-suite folders of the
# engine.io-protocol and socket.io-protocol repositories) are not published
# on a package registry, so they are not run here; they were run by hand
# against the same example (see the Socket.IO notes in the README).
#
# The clients are installed with pinned versions into target/socketio/
# (outside version control): `npm ci` from .ci/socketio/package-lock.json and
# a venv from .ci/socketio/requirements.txt. A second run reuses them. One
# line per check; the exit status is non-zero if any check failed. The
# server started here is killed on exit. Then Debian's Chromium (driven by
# playwright-core, installed as .ci/browser.sh does) uses the socketio_chat
# example's page, which loads the official browser client from the npm
# package installed here (.ci/socketio/chat_page.js).
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=$PWD
DIR=$ROOT/target/socketio
CI_DIR=$ROOT/.ci/socketio
PYTHON=${PYTHON:-python3}
mkdir -p "$DIR"

PID=
CHAT_PID=
cleanup() {
  local pid
  for pid in $PID $CHAT_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

die() {
  echo "socketio: $*"
  exit 1
}

# ---- install the clients (skipped when the pinned set is there already)
if ! cmp -s "$CI_DIR/package-lock.json" "$DIR/package-lock.json" \
  || [ ! -f "$DIR/node_modules/socket.io-client/package.json" ]; then
  cp "$CI_DIR/package.json" "$CI_DIR/package-lock.json" "$DIR/"
  timeout 300 npm ci --prefix "$DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
    >"$DIR/npm.log" 2>&1 || { cat "$DIR/npm.log"; die "npm ci failed for .ci/socketio/package-lock.json"; }
  echo "socketio: installed socket.io-client into target/socketio/node_modules"
fi
VENV=$DIR/venv
if ! cmp -s "$CI_DIR/requirements.txt" "$VENV/requirements.txt"; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "cannot create a venv with $PYTHON"
  timeout 300 "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    -r "$CI_DIR/requirements.txt" || die "cannot install .ci/socketio/requirements.txt"
  cp "$CI_DIR/requirements.txt" "$VENV/requirements.txt"
  echo "socketio: installed python-socketio into target/socketio/venv"
fi

BROWSER_DIR=$ROOT/target/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ] && { ! cmp -s .ci/browser/package-lock.json "$BROWSER_DIR/package-lock.json" \
  || [ ! -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ]; }; then
  mkdir -p "$BROWSER_DIR"
  cp .ci/browser/package.json .ci/browser/package-lock.json "$BROWSER_DIR/"
  timeout 300 npm ci --prefix "$BROWSER_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
    >"$DIR/npm-browser.log" 2>&1 || { cat "$DIR/npm-browser.log"; die "npm ci failed for .ci/browser/package-lock.json"; }
  echo "socketio: installed playwright-core into target/browser/node_modules"
fi

cargo build --release --example socketio_suite --example socketio_chat --quiet
BIN=$ROOT/target/release/examples/socketio_suite

# ---- the server, on a free port
"$BIN" --port 0 >"$DIR/server.out" 2>"$DIR/server.err" &
PID=$!
URL=
for _ in $(seq 100); do
  URL=$(grep -o -m1 'http://[0-9.:]*' "$DIR/server.out" 2>/dev/null) || true
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$URL" ] || { cat "$DIR/server.err"; die "the socketio_suite example did not start"; }

status=0
NODE_PATH=$DIR/node_modules timeout 120 node "$CI_DIR/node_client.js" "$URL" "$BIN" || status=1
timeout 120 "$VENV/bin/python" "$CI_DIR/py_client.py" "$URL" || status=1

# ---- Chromium on the chat example's page (the official browser client)
if [ -x "$CHROMIUM" ]; then
  "$ROOT/target/release/examples/socketio_chat" 127.0.0.1:0 \
    --client "$DIR/node_modules" >"$DIR/chat.out" 2>"$DIR/chat.err" &
  CHAT_PID=$!
  CHAT_URL=
  for _ in $(seq 100); do
    CHAT_URL=$(grep -o -m1 'http://[0-9.:]*' "$DIR/chat.out" 2>/dev/null) || true
    [ -n "$CHAT_URL" ] && break
    sleep 0.1
  done
  CHROMIUM=$CHROMIUM NODE_PATH=$BROWSER_DIR/node_modules:$DIR/node_modules timeout 120 \
    node "$CI_DIR/chat_page.js" "$CHAT_URL/" || status=1
  kill "$CHAT_PID" 2>/dev/null || true
  wait "$CHAT_PID" 2>/dev/null || true
else
  echo "socketio: $CHROMIUM is missing: the chat page was not tested (.ci/browser.sh installs it)"
  status=1
fi

[ "$status" = 0 ] && echo "socketio: all checks passed"
exit "$status"
