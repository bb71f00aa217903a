#!/usr/bin/env bash
# A real browser against the inspector example: Debian's Chromium, driven by
# playwright-core (.ci/browser/inspector_test.js), loads the page, and the
# test checks from its DOM that it draws its own connection: the handshake
# and the accept value, a text frame's diagram, a ping, a close, and the
# browser failing the connection on a masked frame from the server. A
# screenshot goes to target/browser/inspector.png.
#
# Uses the same Chromium and playwright-core as .ci/browser.sh (installed by
# it when missing, the same way). Fails with the page's text, the browser's
# console and the server's log printed.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=$PWD
DIR=$ROOT/target/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
STARTED=$SECONDS
mkdir -p "$DIR"
RUN=$(mktemp -d "$DIR/run.XXXXXX")

SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

die() {
  echo "inspector: $*"
  exit 1
}

# ---- install (as .ci/browser.sh does)
if [ ! -x "$CHROMIUM" ]; then
  [ "$(id -u)" = 0 ] || die "$CHROMIUM is missing and installing the chromium package needs root"
  export DEBIAN_FRONTEND=noninteractive
  { timeout 300 apt-get update -qq && timeout 300 apt-get install -y -qq --no-install-recommends chromium; } \
    >"$RUN/apt.log" 2>&1 || { tail -30 "$RUN/apt.log"; die "cannot install the chromium package"; }
  [ -x "$CHROMIUM" ] || die "the chromium package did not install $CHROMIUM"
fi
if ! cmp -s .ci/browser/package-lock.json "$DIR/package-lock.json" || [ ! -f "$DIR/node_modules/playwright-core/package.json" ]; then
  cp .ci/browser/package.json .ci/browser/package-lock.json "$DIR/"
  timeout 300 npm ci --prefix "$DIR" --ignore-scripts --no-audit --no-fund --loglevel=error >"$RUN/npm.log" 2>&1 \
    || { cat "$RUN/npm.log"; die "npm ci failed for .ci/browser/package-lock.json"; }
fi

cargo build --release --example inspector --quiet

# ---- the inspector on a port of the kernel's choosing
LOG=$RUN/inspector.log
target/release/examples/inspector --port 0 >"$LOG" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 100); do
  URL=$(grep -o -m1 'http://[0-9.:]*/' "$LOG" | head -1) || true
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$URL" ] || { cat "$LOG"; die "the inspector example did not start"; }

rm -f "$DIR/inspector.png"
status=0
CHROMIUM=$CHROMIUM NODE_PATH=$DIR/node_modules timeout 60 \
  node .ci/browser/inspector_test.js "$URL" "$DIR/inspector.png" || status=$?
if [ "$status" != 0 ]; then
  [ "$status" = 124 ] && echo "inspector: the test was killed after 60 s"
  echo "inspector: the server's log:"
  sed 's/^/    /' "$LOG"
  die "the Chromium inspector test failed ($((SECONDS - STARTED)) s)"
fi
echo "inspector: Chromium inspector test OK ($((SECONDS - STARTED)) s)"
rm -rf "$RUN"
