#!/usr/bin/env bash
# Runs the Autobahn TestSuite (wstest 0.8.2, cases 1 to 13, with the
# permessage-deflate cases 12 and 13) both ways, and fails unless every case is OK (or INFORMATIONAL,
# the cases whose outcome the suite leaves open):
#
#   - the server: the suite's fuzzing client against the echo example;
#   - the client: the autobahn_client example against the suite's fuzzing
#     server.
#
#   .ci/autobahn.sh            install the suite if needed, run the CI set:
#                              cases 1 to 10; of the compression cases, 12.1
#                              and 13.1 in full, and of every other group of
#                              12 and 13 (each test file, offer and
#                              fragmentation) the cases with messages up to
#                              4 KiB and 8 KiB in 256-byte fragments (x.1-x.5,
#                              x.11): 168 compression cases, about 5 min both
#                              ways here
#   .ci/autobahn.sh all        every case, 12 and 13 in full (216 compression
#                              cases per role: about 25 min on 2 cores)
#   .ci/autobahn.sh '6.*,7.*'  only these cases
#
# STDWS_ECHO_ARGS adds options to the echo example (for instance
# '--context-takeover 12', a compression context per client), and
# STDWS_AUTOBAHN_ROLES=server runs the server's side only.
#
# The suite needs Python 2.7: it is taken from pyenv, or from PATH. Without
# one, the script says so and exits 0 (STDWS_REQUIRE_AUTOBAHN=1 makes that a
# failure). The suite is installed with pinned versions into
# target/autobahn-venv, outside version control.
set -euo pipefail
cd "$(dirname "$0")/.."
# A pattern holding '*' is a regular expression matched from the start of
# the case id ('.' literal, '*' any run): '$' ends it.
CASES="${1:-1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.1.*,13.1.*,12.[2-5]*.[1-5]\$,12.[2-5]*.11\$,13.[2-7]*.[1-5]\$,13.[2-7]*.11\$}"
if [ "$CASES" = all ]; then
  CASES="1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,12.*,13.*"
fi
# Each role's run is bounded; the compression cases (12, 13) send 216 x
# 1,000 messages of up to 128 KiB, which takes many minutes on a busy machine.
WSTEST_TIMEOUT="${WSTEST_TIMEOUT:-2400}"

PY2=""
for candidate in "$HOME"/.pyenv/versions/2.7*/bin/python /root/.pyenv/versions/2.7*/bin/python "$(command -v python2.7 || true)"; do
  if [ -x "$candidate" ]; then PY2="$candidate"; break; fi
done
if [ -z "$PY2" ]; then
  echo "autobahn: no Python 2.7 on this machine; the conformance suite was not run"
  [ "${STDWS_REQUIRE_AUTOBAHN:-0}" = 1 ] && exit 1
  exit 0
fi

VENV="$PWD/target/autobahn-venv"
if [ ! -x "$VENV/bin/wstest" ]; then
  echo "autobahn: installing wstest 0.8.2 with $PY2"
  "$PY2" -m pip install --quiet --disable-pip-version-check --target "$PWD/target/autobahn-bootstrap" "virtualenv==16.7.12"
  PYTHONPATH="$PWD/target/autobahn-bootstrap" "$PY2" -m virtualenv --quiet "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "pip==20.3.4" "setuptools==44.1.1" "wheel==0.37.1"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r .ci/autobahn-requirements.txt
fi

cargo build --release --example echo --example autobahn_client --quiet
OUT=$(mktemp -d)
PIDS=()
trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT

# check_report DIR AGENT: prints the counts, lists every case that is not OK,
# and fails if there is one.
check_report() {
  "$VENV/bin/python" - "$1" "$2" <<'PY'
import json, os, sys
reports, agent = sys.argv[1:3]
index = json.load(open(os.path.join(reports, "index.json")))[agent]
accepted = ("OK", "INFORMATIONAL")
counts, bad = {}, []
for case, result in sorted(index.items(), key=lambda kv: [int(p) for p in kv[0].split(".")]):
    counts[result["behavior"]] = counts.get(result["behavior"], 0) + 1
    if result["behavior"] not in accepted or result["behaviorClose"] not in accepted:
        detail = json.load(open(os.path.join(reports, result["reportfile"])))
        bad.append("  %s: %s / %s: %s %s" % (case, result["behavior"], result["behaviorClose"],
                                           detail.get("description", "").split("\n")[0], detail.get("result", "")))
print("autobahn: %s: %d cases: %s" % (agent, len(index), ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
if bad:
    print("autobahn: cases that are not OK:")
    print("\n".join(bad))
    sys.exit(1)
PY
}

# spec FILE KEY VALUE: the suite's configuration, with the cases to run.
spec() {
  "$VENV/bin/python" - "$@" "$CASES" <<'PY'
import json, sys
path, key, value, cases = sys.argv[1:5]
spec = {"outdir": path + ".reports", "cases": [c for c in cases.split(",") if c],
        "exclude-cases": [], "exclude-agent-cases": {}}
spec[key] = json.loads(value)
json.dump(spec, open(path, "w"))
PY
}

# The server: the echo example, on an ephemeral port it reports.
LOG="$OUT/echo.log"
# shellcheck disable=SC2086 # the options are split on purpose
target/release/examples/echo 127.0.0.1:0 --quiet ${STDWS_ECHO_ARGS:-} 2>"$LOG" &
PIDS+=($!)
for _ in $(seq 100); do
  grep -q "listening on" "$LOG" && break
  sleep 0.1
done
URL=$(grep -o 'ws://[0-9.:]*' "$LOG" | head -1)
[ -n "$URL" ] || { echo "autobahn: the echo server did not start"; cat "$LOG"; exit 1; }

spec "$OUT/server.json" servers "[{\"agent\": \"stdws\", \"url\": \"$URL\"}]"
echo "autobahn: cases $CASES, the suite's client against the echo example at $URL${STDWS_ECHO_ARGS:+ (with $STDWS_ECHO_ARGS)}"
(cd "$OUT" && timeout "$WSTEST_TIMEOUT" "$VENV/bin/wstest" -m fuzzingclient -s server.json) >"$OUT/fuzzingclient.log" 2>&1 \
  || { echo "autobahn: wstest failed"; tail -20 "$OUT/fuzzingclient.log"; exit 1; }
SERVER_OK=0
check_report "$OUT/server.json.reports" stdws || SERVER_OK=1
if [ "${STDWS_AUTOBAHN_ROLES:-both}" = server ]; then
  exit "$SERVER_OK"
fi

# The client: the suite's fuzzing server needs a port in its URL; take one
# the kernel hands out and release it for the suite.
PORT=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
spec "$OUT/client.json" url "\"ws://127.0.0.1:$PORT\""
(cd "$OUT" && exec timeout "$WSTEST_TIMEOUT" "$VENV/bin/wstest" -m fuzzingserver -s client.json --webport 0) >"$OUT/fuzzingserver.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  "$VENV/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break
  sleep 0.1
done
echo "autobahn: cases $CASES, the autobahn_client example against the suite's server at port $PORT"
timeout "$WSTEST_TIMEOUT" target/release/examples/autobahn_client "ws://127.0.0.1:$PORT" --agent stdws-client \
  >"$OUT/autobahn_client.log" 2>&1 \
  || { echo "autobahn: the client run failed"; tail -20 "$OUT/autobahn_client.log"; tail -20 "$OUT/fuzzingserver.log"; exit 1; }
CLIENT_OK=0
check_report "$OUT/client.json.reports" stdws-client || CLIENT_OK=1

[ "$SERVER_OK" = 0 ] && [ "$CLIENT_OK" = 0 ]
