#!/usr/bin/env bash
# wss:// and https:// through real TLS-terminating proxies, as the README's
# deployment section documents them: Debian's nginx and HAProxy, each with
# its configuration from .ci/tls/ (nginx.conf, haproxy.cfg: only the @NAME@
# ports and paths are filled in), in front of the echo example on one port
# and the chat example on another, with a self-signed certificate for
# 127.0.0.1 made here with openssl (in target/tls/). Then:
#
#   - Python websockets (the venv of .ci/interop.sh) verifies the certificate
#     and exchanges text, binary and 1 MiB with the echo example, and closes
#     cleanly, through each proxy (.ci/tls/wss_client.py exchange);
#   - an idle connection survives 8 s behind copies of both configurations
#     whose timeouts are cut to 5 s, because the server pings every 2 s;
#     the control, a server that does not ping behind the same copies, must
#     be cut by the proxy (wss_client.py idle);
#   - Chromium (.ci/browser's playwright-core, --ignore-certificate-errors)
#     loads the chat page over https:// and chats over wss:// through each
#     proxy (.ci/tls/chat_tls.js);
#   - the echo example's log shows the client address both proxies sent in
#     X-Forwarded-For (--trusted-proxy 127.0.0.1).
#
# Installs nginx and haproxy (apt-get update only when the install needs it)
# and what .ci/interop.sh and .ci/browser.sh install, if missing. Everything
# started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=$PWD
DIR=$ROOT/target/tls
STARTED=$SECONDS
mkdir -p "$DIR"
RUN=$(mktemp -d "$DIR/run.XXXXXX")
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

die() {
  echo "tls: $*"
  for log in "$RUN"/*.log; do
    [ -s "$log" ] || continue
    echo "tls: $(basename "$log"):"
    tail -20 "$log" | sed 's/^/    /'
  done
  exit 1
}

# ---- install
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 $sudo apt-get install -y -qq --no-install-recommends "$@" >"$RUN/apt.log" 2>&1 \
    || { timeout 300 $sudo apt-get update -qq >>"$RUN/apt.log" 2>&1 \
      && timeout 300 $sudo apt-get install -y -qq --no-install-recommends "$@" >>"$RUN/apt.log" 2>&1; } \
    || die "cannot install $*"
}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
missing=()
[ -x "$NGINX" ] || missing+=(nginx)
[ -x "$HAPROXY" ] || missing+=(haproxy)
[ -x "$CHROMIUM" ] || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
  echo "tls: installed ${missing[*]}"
fi
VENV=$ROOT/target/interop/venv
if ! cmp -s .ci/interop/requirements.txt "$VENV/requirements.txt"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "cannot create a venv"
  timeout 300 "$VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
    -r .ci/interop/requirements.txt || die "cannot install .ci/interop/requirements.txt"
  cp .ci/interop/requirements.txt "$VENV/requirements.txt"
fi
BROWSER_DIR=$ROOT/target/browser
if ! cmp -s .ci/browser/package-lock.json "$BROWSER_DIR/package-lock.json" || [ ! -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ]; then
  mkdir -p "$BROWSER_DIR"
  cp .ci/browser/package.json .ci/browser/package-lock.json "$BROWSER_DIR/"
  timeout 300 npm ci --prefix "$BROWSER_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error >"$RUN/npm.log" 2>&1 \
    || die "npm ci failed for .ci/browser/package-lock.json"
fi

# The README shows these two files as they are.
for conf in .ci/tls/nginx.conf .ci/tls/haproxy.cfg; do
  python3 -c 'import sys; sys.exit(open(sys.argv[1]).read() not in open("README.md").read())' "$conf" \
    || die "README.md does not show $conf as it is: copy it into the deployment section"
done

# ---- the certificate: self-signed, for 127.0.0.1 and localhost
CERT=$DIR/cert.pem KEY=$DIR/key.pem PEM=$DIR/haproxy.pem
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$KEY" -out "$CERT" >"$RUN/openssl.out" 2>&1 || { cat "$RUN/openssl.out"; die "openssl req failed"; }
cat "$CERT" "$KEY" >"$PEM"

# ---- the servers: pings every 2 s; the control pings never
cargo build --release --example echo --example chat --example wss_openssl --quiet
BIN=$ROOT/target/release/examples
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { # PORT NAME
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  die "$2 is not listening on port $1"
}
ECHO=$(free_port) ECHO2=$(free_port) CHAT=$(free_port) NOPING=$(free_port)
# The first echo node drains when told on its standard input, a FIFO held
# open here (so that it never sees the end of its input).
mkfifo "$RUN/echo.in"
exec 8<>"$RUN/echo.in"
"$BIN/echo" "127.0.0.1:$ECHO" --workers 64 --ping-interval 2 --trusted-proxy 127.0.0.1 \
  --drain-on-stdin <&8 2>"$RUN/echo.log" &
ECHO_PID=$!
PIDS+=($!)
"$BIN/echo" "127.0.0.1:$ECHO2" --workers 64 --ping-interval 2 --trusted-proxy 127.0.0.1 2>"$RUN/echo2.log" &
PIDS+=($!)
"$BIN/chat" "127.0.0.1:$CHAT" --ping-interval 2 --trusted-proxy 127.0.0.1 2>"$RUN/chat.log" &
PIDS+=($!)
"$BIN/echo" "127.0.0.1:$NOPING" --workers 16 --ping-interval 3600 2>"$RUN/noping.log" &
PIDS+=($!)
wait_port "$ECHO" "the echo example"
wait_port "$ECHO2" "the second echo example"
wait_port "$CHAT" "the chat example"
wait_port "$NOPING" "the echo example without pings"

# ---- the proxies: the documented configurations, and the idle copies
# fill TEMPLATE OUT LISTEN_ECHO LISTEN_CHAT ECHO CHAT SUBDIR (ECHO2: the second node)
fill() {
  mkdir -p "$RUN/$7"
  sed -e "s|@RUN@|$RUN/$7|g" -e "s|@CERT@|$CERT|g" -e "s|@KEY@|$KEY|g" -e "s|@PEM@|$PEM|g" \
    -e "s|@LISTEN_ECHO@|127.0.0.1:$3|g" -e "s|@LISTEN_CHAT@|127.0.0.1:$4|g" \
    -e "s|@ECHO@|127.0.0.1:$5|g" -e "s|@ECHO2@|127.0.0.1:$ECHO2|g" -e "s|@CHAT@|127.0.0.1:$6|g" "$1" >"$2"
  ! grep -v '^ *#' "$2" | grep -q '@[A-Z_]*@' || die "$2 has a placeholder left"
}
# shorten FILE FROM TO: a timeout cut for the idle test, which must be there.
shorten() {
  grep -q "$2" "$1" || die "$1 has no '$2' to shorten"
  sed -i "s|$2|$3|g" "$1"
}
N_ECHO=$(free_port) N_CHAT=$(free_port) H_ECHO=$(free_port) H_CHAT=$(free_port)
NI_KEPT=$(free_port) NI_CUT=$(free_port) HI_KEPT=$(free_port) HI_CUT=$(free_port)
fill .ci/tls/nginx.conf "$RUN/nginx.conf" "$N_ECHO" "$N_CHAT" "$ECHO" "$CHAT" nginx
fill .ci/tls/haproxy.cfg "$RUN/haproxy.cfg" "$H_ECHO" "$H_CHAT" "$ECHO" "$CHAT" haproxy
# The idle copies: the echo port goes to the pinging echo, the chat port to
# the one that does not ping.
fill .ci/tls/nginx.conf "$RUN/nginx-idle.conf" "$NI_KEPT" "$NI_CUT" "$ECHO" "$NOPING" nginx-idle
shorten "$RUN/nginx-idle.conf" "proxy_read_timeout 60s" "proxy_read_timeout 5s"
shorten "$RUN/nginx-idle.conf" "proxy_send_timeout 60s" "proxy_send_timeout 5s"
fill .ci/tls/haproxy.cfg "$RUN/haproxy-idle.cfg" "$HI_KEPT" "$HI_CUT" "$ECHO" "$NOPING" haproxy-idle
shorten "$RUN/haproxy-idle.cfg" "timeout tunnel 1h" "timeout tunnel 5s"
shorten "$RUN/haproxy-idle.cfg" "timeout client 60s" "timeout client 5s"
shorten "$RUN/haproxy-idle.cfg" "timeout server 60s" "timeout server 5s"

for conf in nginx nginx-idle; do
  "$NGINX" -p "$RUN/$conf" -c "$RUN/$conf.conf" 2>"$RUN/$conf.log" &
  PIDS+=($!)
done
for conf in haproxy haproxy-idle; do
  "$HAPROXY" -db -f "$RUN/$conf.cfg" 2>"$RUN/$conf.log" &
  PIDS+=($!)
done
for port in "$N_ECHO" "$N_CHAT" "$NI_KEPT" "$NI_CUT"; do wait_port "$port" nginx; done
for port in "$H_ECHO" "$H_CHAT" "$HI_KEPT" "$HI_CUT"; do wait_port "$port" haproxy; done
echo "tls: nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') and HAProxy $("$HAPROXY" -v | head -1 | awk '{print $3}') terminating TLS on loopback ports"

# ---- the checks, the idle one (8 s) alongside the others
failed=0
"$VENV/bin/python" .ci/tls/wss_client.py idle "$CERT" 8 \
  "nginx (5 s timeouts)=wss://127.0.0.1:$NI_KEPT/" "haproxy (5 s timeouts)=wss://127.0.0.1:$HI_KEPT/" \
  --cut "nginx (5 s timeouts)=wss://127.0.0.1:$NI_CUT/" "haproxy (5 s timeouts)=wss://127.0.0.1:$HI_CUT/" \
  >"$RUN/idle.out" 2>&1 &
IDLE=$!
timeout 60 "$VENV/bin/python" .ci/tls/wss_client.py exchange "$CERT" \
  "nginx=wss://127.0.0.1:$N_ECHO/" "haproxy=wss://127.0.0.1:$H_ECHO/" || failed=1
# The stdws client over wss://, its TLS an `openssl s_client` child (the
# README's "any stream" example), the certificate checked against the CA.
for proxy in "nginx=$N_ECHO" "haproxy=$H_ECHO"; do
  if timeout 30 target/release/examples/wss_openssl "wss://localhost:${proxy#*=}/" --cafile "$CERT" \
    "hello through ${proxy%%=*}" >"$RUN/wss_openssl.out" 2>&1 \
    && grep -q "hello through ${proxy%%=*}" "$RUN/wss_openssl.out"; then
    echo "tls: the stdws client (examples/wss_openssl) over wss:// through ${proxy%%=*} OK"
  else
    echo "tls: the stdws client over wss:// through ${proxy%%=*}: FAILED"; sed 's/^/    /' "$RUN/wss_openssl.out"; failed=1
  fi
done
CHROMIUM=$CHROMIUM NODE_PATH=$BROWSER_DIR/node_modules timeout 90 \
  node .ci/tls/chat_tls.js "nginx=https://127.0.0.1:$N_CHAT/" "haproxy=https://127.0.0.1:$H_CHAT/" || failed=1
wait "$IDLE" || failed=1
cat "$RUN/idle.out"

# The client address the proxies forwarded (the echo example trusts 127.0.0.1).
# Every connection to the echo nodes came through a proxy: each must show it.
forwarded=$(cat "$RUN/echo.log" "$RUN/echo2.log" | grep -c "^connect .* from 127.0.0.1:0 via 127.0.0.1:" || true)
direct=$(cat "$RUN/echo.log" "$RUN/echo2.log" | grep "^connect " | grep -vc " via " || true)
if [ "$forwarded" -gt 0 ] && [ "$direct" = 0 ]; then
  echo "tls: the echo nodes logged the forwarded client address of all $forwarded connections (from 127.0.0.1:0 via 127.0.0.1:PORT) OK"
else
  echo "tls: forwarded client addresses: FAILED ($forwarded shown, $direct connections without one)"
  failed=1
fi

# ---- a restart behind nginx: the first echo node drains, its clients move
# to the second.
before=$(grep -c "^connect " "$RUN/echo2.log" || true)
"$VENV/bin/python" .ci/tls/wss_client.py drain "$CERT" "wss://127.0.0.1:$N_ECHO/" 8 \
  "$RUN/echo.in" "$RUN/drained" >"$RUN/drain.out" 2>&1 &
DRAIN=$!
# The node exits once its clients have gone (at most 10 s).
timeout 20 tail --pid="$ECHO_PID" -f /dev/null || { echo "tls: the draining node did not exit"; failed=1; }
touch "$RUN/drained"
wait "$DRAIN" || failed=1
cat "$RUN/drain.out"
drained=$(grep -o "drained: [0-9]* of [0-9]* clients left in time, 0 cut" "$RUN/echo.log" || true)
moved=$(grep -o "moved=[0-9]*" "$RUN/drain.out" | cut -d= -f2 || true)
after=$(grep -c "^connect " "$RUN/echo2.log" || true)
if [ -n "$drained" ] && [ -n "$moved" ] && [ "$drained" = "drained: $moved of $moved clients left in time, 0 cut" ] \
  && [ "$((after - before))" = 8 ]; then
  echo "tls: the drained node logged '$drained'; the other node took all 8 clients ($((after - before)) connects) OK"
else
  echo "tls: drain through nginx: FAILED (node log: '${drained:-nothing}', clients moved: ${moved:-?}, connects on the other node: $((after - before)))"
  failed=1
fi

[ "$failed" = 0 ] || die "FAILED ($((SECONDS - STARTED)) s)"
echo "tls: nginx and HAProxy in front of stdws OK ($((SECONDS - STARTED)) s)"
rm -rf "$RUN"
