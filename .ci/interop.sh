#!/usr/bin/env bash
# Interoperability with WebSocket libraries written by others, both ways:
#
#   - Python's websockets and Node's ws, as clients of the echo example:
#     permessage-deflate negotiated, text (non-ASCII), binary, a fragmented
#     message, 1 MiB byte-exact, ping/pong, and the closing handshake
#     (.ci/interop/py_client.py, node_client.js);
#   - the client example against echo servers on those two libraries:
#     permessage-deflate negotiated (from the servers' logs), stdin lines
#     echoed and printed, the server's ping answered, a close from either
#     side completed, exit status 0 (.ci/interop/py_server.py,
#     node_server.js).
#
# The peers are installed with pinned versions into target/interop/ (outside
# version control): a venv from .ci/interop/requirements.txt (hash-checked)
# and `npm ci` from .ci/interop/package-lock.json. A second run reuses them.
# One line per check; the exit status is non-zero if any check failed. Every
# server started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=$PWD
DIR=$ROOT/target/interop
CI_DIR=$ROOT/.ci/interop
PYTHON=${PYTHON:-python3}
STARTED=$SECONDS
mkdir -p "$DIR"
RUN=$(mktemp -d "$DIR/run.XXXXXX")

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  exec 7>&-  # the FIFO of a client run, if one was interrupted
}
trap cleanup EXIT

die() {
  echo "interop: $*"
  exit 1
}

# ---- install the peers (skipped when the pinned set is there already)
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  die "websockets 17.4 needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1 || echo missing)"
fi
VENV=$DIR/venv
if ! cmp -s "$CI_DIR/requirements.txt" "$VENV/requirements.txt"; then
  t=$SECONDS
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "cannot create a venv with $PYTHON"
  timeout 300 "$VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
    -r "$CI_DIR/requirements.txt" || die "cannot install .ci/interop/requirements.txt"
  cp "$CI_DIR/requirements.txt" "$VENV/requirements.txt"
  echo "interop: installed websockets into target/interop/venv ($((SECONDS - t)) s)"
fi
if ! cmp -s "$CI_DIR/package-lock.json" "$DIR/package-lock.json" || [ ! -f "$DIR/node_modules/ws/package.json" ]; then
  t=$SECONDS
  cp "$CI_DIR/package.json" "$CI_DIR/package-lock.json" "$DIR/"
  timeout 300 npm ci --prefix "$DIR" --ignore-scripts --no-audit --no-fund --loglevel=error >"$RUN/npm.log" 2>&1 \
    || { cat "$RUN/npm.log"; die "npm ci failed for .ci/interop/package-lock.json"; }
  echo "interop: installed ws into target/interop/node_modules ($((SECONDS - t)) s)"
fi
export NODE_PATH=$DIR/node_modules
PY_NAME="python websockets $("$VENV/bin/python" -c 'import websockets; print(websockets.__version__)')"
NODE_NAME="node ws $(node -p 'require("ws/package.json").version')"

# Only the examples used here, so that a broken unrelated example cannot hide these results.
cargo build --release --example echo --example client --quiet
BIN=$ROOT/target/release/examples

# ---- helpers
# start NAME LOG COMMAND...: starts a server with its standard output in
# LOG.out and its standard error in LOG, waits (10 s at most) for its
# "listening on ws://..." line, and sets URL.
start() {
  local name=$1 log=$2
  shift 2
  "$@" >"$log.out" 2>"$log" &
  PIDS+=($!)
  local pid=$!
  for _ in $(seq 100); do
    URL=$(cat "$log.out" "$log" 2>/dev/null | grep -o -m1 'ws://[0-9.:]*' | head -1) || true
    [ -n "$URL" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "interop: $name did not start:"
  cat "$log.out" "$log"
  exit 1
}

PASSED=0
FAILED=0
pass() {
  echo "interop: $*"
  PASSED=$((PASSED + 1))
}
fail() {
  echo "interop: $*"
  FAILED=$((FAILED + 1))
}

# ---- a. their clients against the echo example
start "the echo example" "$RUN/echo.log" "$BIN/echo" 127.0.0.1:0
ECHO_URL=$URL/
for client in "$PY_NAME|$VENV/bin/python $CI_DIR/py_client.py" "$NODE_NAME|node $CI_DIR/node_client.js"; do
  name=${client%%|*}
  # shellcheck disable=SC2086 # the command is split on purpose
  if out=$(timeout 60 ${client#*|} "$ECHO_URL" 2>&1); then
    PASSED=$((PASSED + 1))
    echo "$out"
  else
    status=$?
    FAILED=$((FAILED + 1))
    echo "${out:-interop: $name client -> stdws echo: FAILED with status $status and no output}"
    [ "$status" = 124 ] && echo "interop: ($name client killed after 60 s)"
    echo "interop: the echo server's log:"
    sed 's/^/    /' "$RUN/echo.log"
  fi
done

# ---- b. the client example against their servers
LONG=$(head -c 52500 /dev/zero | base64 -w0)  # 70 000 characters: a 64-bit length
printf '%s\n' "hello from stdws" "héllo wörld ✓ — ünïcødé 日本語 😀" "" "$LONG" "last line" >"$RUN/lines.txt"

# client_run OUT URL: starts the client example with its standard input on a
# FIFO that this shell holds open as fd 7 (so that input ends only when we say
# so), its output in OUT and OUT.err; sets PID.
client_run() {
  rm -f "$RUN/fifo" && mkfifo "$RUN/fifo"
  exec 7<>"$RUN/fifo"
  "$BIN/client" "$2" <"$RUN/fifo" >"$1" 2>"$1.err" 7>&- &  # no writer of its own: EOF when we close 7
  PID=$!
}

# client_end LABEL: closes fd 7 if still open, waits up to 10 s for the
# client to exit (killing it then), and adds a problem unless it exited 0.
client_end() {
  exec 7>&-
  for _ in $(seq 100); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$PID" 2>/dev/null; then
    problems+=("$1: the client was still running 10 s after the end of its input")
    kill "$PID" 2>/dev/null || true
  fi
  local status=0
  wait "$PID" || status=$?
  [ "$status" = 0 ] || problems+=("$1: the client exited with status $status")
}

# wait_lines FILE N: waits up to 10 s for FILE to have N lines.
wait_lines() {
  for _ in $(seq 100); do
    [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# check_client NAME URL LOG: two connections to one echo server. First the
# lines of lines.txt, then, once all are echoed, the end of input: the client
# closes. Then "close-please" with standard input still open: the server
# closes, and the client must exit by itself.
check_client() {
  local name=$1 url=$2 log=$3 problems=()
  local out=$RUN/client-$RANDOM

  # 1. Echoes, the server's ping, and the client's close at the end of input.
  client_run "$out.1" "$url"
  # More than a pipe's buffer: bounded, in case the client stopped reading.
  timeout 10 cat "$RUN/lines.txt" >&7 || problems+=("the client did not read its input within 10 s")
  wait_lines "$out.1" "$(wc -l <"$RUN/lines.txt")" || problems+=("not every line was echoed within 10 s")
  client_end "client close"
  cmp -s "$RUN/lines.txt" "$out.1" \
    || problems+=("the echoes printed differ from the lines sent: $(cmp "$RUN/lines.txt" "$out.1" 2>&1 | head -1 || true)")

  # 2. A close started by the server while standard input is still open.
  client_run "$out.2" "$url"
  printf 'before the close\nclose-please\n' >&7  # far less than a pipe's buffer
  for _ in $(seq 100); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$PID" 2>/dev/null && problems+=("server close: the client did not exit within 10 s of the server's close")
  client_end "server close"
  [ "$(cat "$out.2")" = "before the close" ] \
    || problems+=("server close: the client printed '$(head -c 200 "$out.2" | tr '\n' '|')', not 'before the close'")

  # What the server saw: #1 closed by the client, #2 by the server; both
  # answered the server's ping and completed the closing handshake.
  sleep 0.2
  local n want
  for n in 1 2; do
    # The client example offers permessage-deflate; both servers accept it.
    grep -q "^connect #$n .* permessage-deflate" "$log" \
      || problems+=("connection #$n did not negotiate permessage-deflate: $(grep "^connect #$n " "$log")")
    grep -q "^pong #$n ok" "$log" || problems+=("the server got no pong on connection #$n")
    case "$name" in
      node*) want="closed #$n code=1000 rcvd=true sent=true" ;;
      *) want="closed #$n code=1000 rcvd=1000 sent=1000" ;;
    esac
    grep -q "^$want" "$log" || problems+=("the server did not log '$want'")
  done

  if [ ${#problems[@]} = 0 ]; then
    pass "stdws client -> $name echo server: deflate negotiated ($(grep -m1 "^connect #1 " "$log" | cut -d' ' -f4-)), text, non-ASCII, empty, 70 000 chars echoed, ping answered, client close 1000, server close 1000, exit 0 OK"
  else
    fail "stdws client -> $name echo server: FAILED:"
    printf '    %s\n' "${problems[@]}"
    echo "    client stderr (client close):"
    sed 's/^/      /' "$out.1.err"
    echo "    client stderr (server close):"
    sed 's/^/      /' "$out.2.err"
    echo "    server log:"
    sed 's/^/      /' "$log"
  fi
}

start "the $PY_NAME echo server" "$RUN/py_server.log" "$VENV/bin/python" "$CI_DIR/py_server.py"
check_client "$PY_NAME" "$URL/" "$RUN/py_server.log"
# Input from a pipe that ends at once: the client waits for the replies
# before it closes (that server stops sending once it has a close).
piped=$(printf 'a\nb\n' | timeout 30 "$BIN/client" "$URL/" 2>"$RUN/piped.err") || true
if [ "$piped" = $'a\nb' ]; then
  pass "printf 'a\\nb\\n' | client -> $PY_NAME echo server: both echoes printed OK"
else
  fail "printf 'a\\nb\\n' | client -> $PY_NAME echo server: FAILED, printed '$(printf '%s' "$piped" | tr '\n' '|')'"
  sed 's/^/    /' "$RUN/piped.err"
fi
start "the $NODE_NAME echo server" "$RUN/node_server.log" node "$CI_DIR/node_server.js"
check_client "$NODE_NAME" "$URL/" "$RUN/node_server.log"

echo "interop: $PASSED passed, $FAILED failed ($((SECONDS - STARTED)) s)"
[ "$FAILED" = 0 ] && rm -rf "$RUN"
[ "$FAILED" = 0 ]
