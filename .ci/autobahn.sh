#!/usr/bin/env bash
# Runs the Autobahn TestSuite (wstest 0.8.2, fuzzingclient mode, cases 1 to 10
# without compression) against the echo example, and fails unless every case
# is OK (or INFORMATIONAL, the cases whose outcome the suite leaves open).
#
#   .ci/autobahn.sh            install the suite if needed, run every case
#   .ci/autobahn.sh '6.*,7.*'  only these cases
#
# The suite needs Python 2.7: it is taken from pyenv, or from PATH. Without
# one, the script says so and exits 0 (STDWS_REQUIRE_AUTOBAHN=1 makes that a
# failure). The suite is installed with pinned versions into
# target/autobahn-venv, outside version control.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${1:-1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*}"

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

cargo build --release --example echo --quiet
OUT=$(mktemp -d)
LOG="$OUT/echo.log"
target/release/examples/echo 127.0.0.1:0 --quiet 2>"$LOG" &
ECHO_PID=$!
trap 'kill $ECHO_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$LOG" && break
  sleep 0.1
done
URL=$(grep -o 'ws://[0-9.:]*' "$LOG" | head -1)
[ -n "$URL" ] || { echo "autobahn: the echo server did not start"; cat "$LOG"; exit 1; }

"$VENV/bin/python" - "$OUT/spec.json" "$URL" "$CASES" "$OUT/reports" <<'PY'
import json, sys
path, url, cases, outdir = sys.argv[1:5]
json.dump({"outdir": outdir, "servers": [{"agent": "stdws", "url": url}],
           "cases": [c for c in cases.split(",") if c], "exclude-cases": [],
           "exclude-agent-cases": {}}, open(path, "w"))
PY
echo "autobahn: cases $CASES against $URL"
(cd "$OUT" && timeout 900 "$VENV/bin/wstest" -m fuzzingclient -s spec.json) >"$OUT/wstest.log" 2>&1 \
  || { echo "autobahn: wstest failed"; tail -20 "$OUT/wstest.log"; exit 1; }

"$VENV/bin/python" - "$OUT/reports" <<'PY'
import json, os, sys
reports = sys.argv[1]
index = json.load(open(os.path.join(reports, "index.json")))["stdws"]
accepted = ("OK", "INFORMATIONAL")
counts, bad = {}, []
for case, result in sorted(index.items(), key=lambda kv: [int(p) for p in kv[0].split(".")]):
    counts[result["behavior"]] = counts.get(result["behavior"], 0) + 1
    if result["behavior"] not in accepted or result["behaviorClose"] not in accepted:
        detail = json.load(open(os.path.join(reports, result["reportfile"])))
        bad.append("  %s: %s / %s: %s %s" % (case, result["behavior"], result["behaviorClose"],
                                           detail.get("description", "").split("\n")[0], detail.get("result", "")))
print("autobahn: %d cases: %s" % (len(index), ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
if bad:
    print("autobahn: cases that are not OK:")
    print("\n".join(bad))
    sys.exit(1)
PY
