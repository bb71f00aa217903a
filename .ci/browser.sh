#!/usr/bin/env bash
# A real browser against the examples, driven by playwright-core:
# - the README's quick tour (.ci/browser/quick_tour_test.js): the echo's
#   page, the README's own snippet run in it, and the server's trace;
# - the chat example (.ci/browser/chat_test.js): the page connects, sends
#   two messages with its form, which a second client (the client example)
#   must receive, and leaves: the page must then show "closed code=1000
#   clean=true"; then the page's own behaviour (chat_page_test.js);
# - the inspector (.ci/browser/inspector_test.js): the page draws its own
#   connection, handshake, frames, ping, close and a failed connection.
# Screenshots go to target/browser/.
#
# Then compression (RFC 7692): Chromium connects to the echo example
# (.ci/browser/deflate_test.js), `ws.extensions` must name permessage-deflate,
# and a 100 KB JSON-like text, a 64 KiB binary message and a short message
# twice are echoed byte for byte; the echo server's trace must show them
# compressed (RSV1) in both directions, the second short message much smaller
# than the first each way (both ends keep their context).
#
# Installs what is missing: the chromium Debian package (when /usr/bin/chromium
# is absent; needs root, as CI has) and playwright-core, pinned by
# .ci/browser/package-lock.json, into target/browser/ (it downloads no
# browser). Fails with the browser's console and the server's log printed.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=$PWD
DIR=$ROOT/target/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
STARTED=$SECONDS
mkdir -p "$DIR"
RUN=$(mktemp -d "$DIR/run.XXXXXX")

SERVER_PID=""
ECHO_PID=""
cleanup() {
  local pid
  for pid in $SERVER_PID $ECHO_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

die() {
  echo "browser: $*"
  exit 1
}

# ---- install
if [ ! -x "$CHROMIUM" ]; then
  t=$SECONDS
  [ "$(id -u)" = 0 ] || die "$CHROMIUM is missing and installing the chromium package needs root"
  export DEBIAN_FRONTEND=noninteractive
  { timeout 300 apt-get update -qq && timeout 300 apt-get install -y -qq --no-install-recommends chromium; } \
    >"$RUN/apt.log" 2>&1 || { tail -30 "$RUN/apt.log"; die "cannot install the chromium package"; }
  [ -x "$CHROMIUM" ] || die "the chromium package did not install $CHROMIUM"
  echo "browser: installed the chromium package ($((SECONDS - t)) s)"
fi
if ! cmp -s .ci/browser/package-lock.json "$DIR/package-lock.json" || [ ! -f "$DIR/node_modules/playwright-core/package.json" ]; then
  t=$SECONDS
  cp .ci/browser/package.json .ci/browser/package-lock.json "$DIR/"
  timeout 300 npm ci --prefix "$DIR" --ignore-scripts --no-audit --no-fund --loglevel=error >"$RUN/npm.log" 2>&1 \
    || { cat "$RUN/npm.log"; die "npm ci failed for .ci/browser/package-lock.json"; }
  echo "browser: installed playwright-core into target/browser/node_modules ($((SECONDS - t)) s)"
fi

# wait_for_address PID LOG PATTERN NAME: prints the first match of PATTERN
# in LOG (the address the server reports once it listens), or fails.
wait_for_address() {
  local found=""
  for _ in $(seq 100); do
    found=$(grep -o -m1 "$3" "$2" | head -1) || true
    [ -n "$found" ] && break
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$found" ] || { cat "$2" >&2; echo "browser: the $4 example did not start" >&2; exit 1; }
  echo "$found"
}

# Only the examples used here, so that a broken unrelated example cannot hide these results.
cargo build --release --example chat --example client --example echo --example inspector --quiet

# ---- the README's quick tour: the echo example's page, and the snippet the
# README says to paste into its console
LOG=$RUN/echo.log
STDWS_TRACE=1 target/release/examples/echo 127.0.0.1:0 --no-compression 2>"$LOG" &
SERVER_PID=$!
URL=$(wait_for_address "$SERVER_PID" "$LOG" 'ws://[0-9.:]*' echo | sed 's|^ws|http|')
CHROMIUM=$CHROMIUM NODE_PATH=$DIR/node_modules timeout 90 \
  node .ci/browser/quick_tour_test.js "$URL/" README.md "$DIR/quick_tour.png" \
  || { sed 's/^/    /' "$LOG"; die "the quick tour failed"; }
# Step 3: the server printed the handshake and the frames, as the README shows.
for line in 'handshake request  GET / HTTP/1.1' 'op=0x1 TEXT   MASK=1 key=' '"Hello"' 'code=1000 (normal closure) reason="bye"'; do
  grep -qF -- "$line" "$LOG" || { sed 's/^/    /' "$LOG"; die "the echo's trace lacks: $line"; }
done
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
echo "browser: the README's quick tour OK"

# ---- the chat server, every frame traced to its log
LOG=$RUN/chat.log
STDWS_TRACE=1 target/release/examples/chat 127.0.0.1:0 2>"$LOG" &
SERVER_PID=$!
URL=$(wait_for_address "$SERVER_PID" "$LOG" 'http://[0-9.:]*/' chat)

rm -f "$DIR/chat.png"
status=0
CHROMIUM=$CHROMIUM NODE_PATH=$DIR/node_modules timeout 180 \
  node .ci/browser/chat_test.js "$URL" "$ROOT/target/release/examples/client" "$DIR/chat.png" || status=$?
if [ "$status" != 0 ]; then
  [ "$status" = 124 ] && echo "browser: the test was killed after 180 s"
  echo "browser: the chat server's log (STDWS_TRACE=1):"
  sed 's/^/    /' "$LOG"
  die "the Chromium chat test failed ($((SECONDS - STARTED)) s)"
fi
echo "browser: Chromium chat test OK ($((SECONDS - STARTED)) s)"
# The page itself: the room follows /join, long words wrap, own lines stand out.
CHROMIUM=$CHROMIUM NODE_PATH=$DIR/node_modules timeout 120 \
  node .ci/browser/chat_page_test.js "$URL" \
  || { sed 's/^/    /' "$LOG"; die "the chat page test failed"; }
echo "browser: chat page test OK ($((SECONDS - STARTED)) s)"
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

# ---- the README's quick tour, step 4: the inspector draws the page's own
# connection (.ci/browser/inspector_test.js checks the DOM)
LOG=$RUN/inspector.log
target/release/examples/inspector --port 0 >"$LOG" 2>&1 &
SERVER_PID=$!
URL=$(wait_for_address "$SERVER_PID" "$LOG" 'http://[0-9.:]*/' inspector)
rm -f "$DIR/inspector.png"
status=0
CHROMIUM=$CHROMIUM NODE_PATH=$DIR/node_modules timeout 60 \
  node .ci/browser/inspector_test.js "$URL" "$DIR/inspector.png" || status=$?
if [ "$status" != 0 ]; then
  [ "$status" = 124 ] && echo "browser: the inspector test was killed after 60 s"
  echo "browser: the inspector's log:"
  sed 's/^/    /' "$LOG"
  die "the Chromium inspector test failed ($((SECONDS - STARTED)) s)"
fi
echo "browser: Chromium inspector test OK ($((SECONDS - STARTED)) s)"

# ---- compression: Chromium and the echo example, which accepts permessage-deflate
t=$SECONDS
ECHO_LOG=$RUN/deflate-echo.log
STDWS_TRACE=1 target/release/examples/echo 127.0.0.1:0 2>"$ECHO_LOG" &
ECHO_PID=$!
ECHO_URL=$(wait_for_address "$ECHO_PID" "$ECHO_LOG" 'ws://[0-9.:]*' echo)
status=0
CHROMIUM=$CHROMIUM NODE_PATH=$DIR/node_modules timeout 90 \
  node .ci/browser/deflate_test.js "$ECHO_URL/" || status=$?
# What went over the wire, from the server's side: each message compressed
# both ways (the trace shows the frame headers, RSV=100 is RSV1).
missing=()
for frame in "<- FIN=1 RSV=100 op=0x1" "-> FIN=1 RSV=100 op=0x1" "<- FIN=1 RSV=100 op=0x2" "-> FIN=1 RSV=100 op=0x2"; do
  grep -q -- "] $frame " "$ECHO_LOG" || missing+=("$frame")
done
# The context kept both ways: the last two text frames each way are the
# short message twice, and the second refers back to the first.
for dir in "<-" "->"; do
  lens=$(grep -o -- "] $dir FIN=1 RSV=100 op=0x1 .* len=[0-9]*" "$ECHO_LOG" | sed 's/.*len=//' | tail -2 | tr '\n' ' ')
  read -r first second <<<"$lens"
  if [ -z "${second:-}" ] || [ "$second" -ge $((first / 2)) ]; then
    missing+=("a second short message ($dir) much smaller than the first: $lens")
  else
    echo "browser deflate: the short message twice ($dir): $first then $second bytes"
  fi
done
if [ "$status" != 0 ] || [ ${#missing[@]} != 0 ]; then
  [ "$status" = 124 ] && echo "browser: the compression test was killed after 90 s"
  [ ${#missing[@]} != 0 ] && echo "browser: the echo server's trace lacks compressed frames: ${missing[*]}"
  echo "browser: the echo server's log (STDWS_TRACE=1), frame lines cut at 200 characters:"
  cut -c1-200 "$ECHO_LOG" | sed 's/^/    /'
  die "the Chromium compression test failed ($((SECONDS - t)) s)"
fi
grep -o -- '\(<- FIN=1 RSV=100 op=0x[12].*\[deflate: [0-9]* -> [0-9]* bytes\]\|\*\* deflate: .*\)' "$ECHO_LOG" \
  | sed -e 's/^<- .*\[deflate: \([0-9]*\) -> \([0-9]*\) bytes\]/Chromium sent \2 bytes as \1/' -e 's/^\*\* deflate: a message of/stdws sent/' \
  | sed 's/^/browser deflate: on the wire: /'
echo "browser: Chromium compression test OK ($((SECONDS - t)) s)"
rm -rf "$RUN"
