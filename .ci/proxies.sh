#!/usr/bin/env bash
# The client example through real proxies (issue 17, item 4): Debian's
# tinyproxy (HTTP CONNECT, with BasicAuth) and microsocks (SOCKS 5, with a
# user and password), started on free loopback ports in front of the echo
# example. Checks: echoes through each proxy (socks5 and socks5h), the
# proxy's refusals reported with the status or the SOCKS reply in words, and
# the environment's HTTP_PROXY and NO_PROXY. Installs the two packages if
# missing (root, or sudo); skips, saying so, when it cannot. One line per
# check; non-zero exit if any failed; every process started here is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tinyproxy >/dev/null || ! command -v microsocks >/dev/null; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
        echo "proxies: SKIPPED: tinyproxy or microsocks missing, and neither root nor sudo to install them"
        exit 0
    fi
    echo "proxies: installing Debian's tinyproxy and microsocks"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tinyproxy microsocks >/dev/null
fi

cargo build --release --example echo --example client --quiet
BIN=target/release/examples
DIR=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_port PORT: until something listens there (5 s at most).
wait_port() {
    for _ in $(seq 50); do
        python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

ECHO=$(free_port)
HTTP=$(free_port)
SOCKS=$(free_port)
CLOSED=$(free_port)  # nothing listens here

"$BIN/echo" "127.0.0.1:$ECHO" --quiet >"$DIR/echo.log" 2>&1 &
PIDS+=($!)
cat >"$DIR/tinyproxy.conf" <<CONF
Port $HTTP
Listen 127.0.0.1
Timeout 60
MaxClients 20
Allow 127.0.0.1
LogLevel Connect
LogFile "$DIR/tinyproxy.log"
BasicAuth user s3cret
ConnectPort $ECHO
DisableViaHeader Yes
CONF
tinyproxy -d -c "$DIR/tinyproxy.conf" >"$DIR/tinyproxy.out" 2>&1 &
PIDS+=($!)
microsocks -i 127.0.0.1 -p "$SOCKS" -u user -P s3cret >"$DIR/microsocks.log" 2>&1 &
PIDS+=($!)
for port in "$ECHO" "$HTTP" "$SOCKS"; do
    wait_port "$port" || { echo "proxies: nothing listens on $port"; cat "$DIR"/*.log "$DIR"/*.out; exit 1; }
done
echo "proxies: echo on $ECHO, tinyproxy $(tinyproxy -v 2>&1 | awk '{print $2}') on $HTTP, microsocks on $SOCKS"

FAILED=0
# check NAME WANT_STATUS WANT_OUT WANT_ERR [ENV=VALUE...] -- CLIENT ARGS...:
# runs the client with 'a' and 'b' as input, compares its exit status and
# output, and looks for WANT_ERR in its standard error.
check() {
    local name=$1 want_status=$2 want_out=$3 want_err=$4 status=0
    shift 4
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    printf 'a\nb\n' | env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY -u all_proxy \
        -u ALL_PROXY -u no_proxy -u NO_PROXY "${envs[@]}" \
        timeout 30 "$BIN/client" --wait 0.5 "$@" >"$DIR/out" 2>"$DIR/err" || status=$?
    if [ "$status" = "$want_status" ] && [ "$(cat "$DIR/out")" = "$want_out" ] \
        && grep -q -- "$want_err" "$DIR/err"; then
        echo "proxies: $name OK"
    else
        echo "proxies: $name FAILED (status $status, wanted $want_status)"
        sed 's/^/    out: /' "$DIR/out"
        sed 's/^/    err: /' "$DIR/err"
        FAILED=1
    fi
}
ECHOES=$'a\nb'
check "http://user:pass@ (tinyproxy, BasicAuth): both echoes, exit 0" 0 "$ECHOES" "connected" \
    -- --proxy "http://user:s3cret@127.0.0.1:$HTTP" "ws://127.0.0.1:$ECHO/"
# tinyproxy 1.11 answers bad credentials with 401 Unauthorized (RFC 9110 says 407).
check "tinyproxy, wrong password: its status and reason, exit 3" 3 "" "refused the tunnel: 401 Unauthorized" \
    -- --proxy "http://user:wrong@127.0.0.1:$HTTP" "ws://127.0.0.1:$ECHO/"
check "tinyproxy, a port it may not CONNECT to: its refusal, exit 3" 3 "" "the HTTP proxy refused the tunnel: 403" \
    -- --proxy "http://user:s3cret@127.0.0.1:$HTTP" "ws://127.0.0.1:$CLOSED/"
check "socks5://user:pass@ (microsocks): both echoes, exit 0" 0 "$ECHOES" "connected" \
    -- --proxy "socks5://user:s3cret@127.0.0.1:$SOCKS" "ws://127.0.0.1:$ECHO/"
check "socks5h:// (the proxy resolves localhost): both echoes, exit 0" 0 "$ECHOES" "connected" \
    -- --proxy "socks5h://user:s3cret@127.0.0.1:$SOCKS" "ws://localhost:$ECHO/"
check "microsocks, wrong password: refused in words, exit 3" 3 "" "refused the user name and password\|accepts none of the offered" \
    -- --proxy "socks5://user:wrong@127.0.0.1:$SOCKS" "ws://127.0.0.1:$ECHO/"
check "microsocks, nothing at the destination: 'connection refused', exit 3" 3 "" "connection refused (reply 0x05)" \
    -- --proxy "socks5://user:s3cret@127.0.0.1:$SOCKS" "ws://127.0.0.1:$CLOSED/"
check "HTTP_PROXY from the environment: both echoes, exit 0" 0 "$ECHOES" "connected" \
    "HTTP_PROXY=http://user:s3cret@127.0.0.1:$HTTP" -- "ws://127.0.0.1:$ECHO/"
check "ALL_PROXY=socks5h:// from the environment: both echoes, exit 0" 0 "$ECHOES" "connected" \
    "ALL_PROXY=socks5h://user:s3cret@127.0.0.1:$SOCKS" -- "ws://localhost:$ECHO/"
check "HTTP_PROXY with a wrong password, the host in NO_PROXY: direct, exit 0" 0 "$ECHOES" "connected" \
    "HTTP_PROXY=http://user:wrong@127.0.0.1:$HTTP" "NO_PROXY=example.com,127.0.0.1" -- "ws://127.0.0.1:$ECHO/"
check "HTTP_PROXY with a wrong password, --no-proxy: direct, exit 0" 0 "$ECHOES" "connected" \
    "HTTP_PROXY=http://user:wrong@127.0.0.1:$HTTP" -- --no-proxy "ws://127.0.0.1:$ECHO/"
check "HTTP_PROXY with a wrong password, used: refused, exit 3" 3 "" "refused the tunnel: 401" \
    "HTTP_PROXY=http://user:wrong@127.0.0.1:$HTTP" -- "ws://127.0.0.1:$ECHO/"

# Not proxies, but the client example's other ends (issue 12, item 1):
# a refused handshake (tinyproxy answers a plain GET with an error page), and
# a server that stops answering while the client's input is still open (the
# echo example, stopped with SIGSTOP), found by the keepalive ping.
check "a refused handshake: exit 4" 4 "" "opening handshake failed" \
    -- --no-proxy "ws://127.0.0.1:$HTTP/"
STOPPED=$(free_port)
"$BIN/echo" "127.0.0.1:$STOPPED" --quiet >"$DIR/stopped.log" 2>&1 &
STOPPED_PID=$!
PIDS+=($STOPPED_PID)
wait_port "$STOPPED"
mkfifo "$DIR/input"
exec 8<>"$DIR/input"  # held open: the client's input never ends
"$BIN/client" --ping-interval 1 --no-proxy "ws://127.0.0.1:$STOPPED/" <"$DIR/input" >"$DIR/dead.out" 2>"$DIR/dead.err" 8>&- &
CLIENT=$!
for _ in $(seq 50); do grep -q connected "$DIR/dead.err" && break; sleep 0.1; done
kill -STOP "$STOPPED_PID"
START=$SECONDS
status=0
for _ in $(seq 100); do kill -0 "$CLIENT" 2>/dev/null || break; sleep 0.1; done
kill "$CLIENT" 2>/dev/null || true
wait "$CLIENT" || status=$?
exec 8>&-
kill -CONT "$STOPPED_PID"
if [ "$status" = 6 ] && grep -q "did not answer a ping" "$DIR/dead.err"; then
    echo "proxies: a server that stops answering, input open: exit 6 after $((SECONDS - START)) s (ping interval 1 s) OK"
else
    echo "proxies: a server that stops answering, input open: FAILED (status $status)"
    sed 's/^/    err: /' "$DIR/dead.err"
    FAILED=1
fi

# The tunnels went through the proxies, not around them.
grep -q "CONNECT" "$DIR/tinyproxy.log" 2>/dev/null || { echo "proxies: tinyproxy logged no CONNECT"; FAILED=1; }
exit $FAILED
