#!/usr/bin/env bash
# A CI health check on httpr's command line (api.md section 15).
#
#   examples/probe.sh URL [EXPECTED_STATUS[,STATUS...]]
#   examples/probe.sh http://127.0.0.1:8000/healthz && echo healthy
#
# One request with a deadline and connect retries, its --json-output report piped into a
# check that prints one verdict line, for instance:
#
#   probe: UP http://127.0.0.1:8000/healthz 200 OK HTTP/1.1 in 1.9 ms
#   probe: DOWN http://127.0.0.1:8000/healthz: expected status 200, got 500 ... (exit 1)
#
# The exit status is httpr's, so a CI step can tell the failures apart:
#   0 up (status accepted)   1 answered with another status   2 bad URL or option
#   3 connection or transport failure (refused, DNS, TLS, reset...)   4 timed out
# and 5 when the report itself is unusable, or (with PROBE_MAX_MS) the probe was up but
# slower than that budget.
#
# Settings (environment):
#   PROBE_TIMEOUT    seconds for the whole request, retries included (default 5)
#   PROBE_RETRIES    extra connection attempts after a refused or stalled connect (default 2)
#   PROBE_MAX_MS     fail (exit 5) when the request took longer, in milliseconds (default: none)
#   PROBE_JSON_FILE  also keep the JSON report there (a CI artifact)
#   PYTHON           the interpreter with httpr (default: the repository's .venv, else python3)
set -uo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 URL [EXPECTED_STATUS[,STATUS...]]" >&2
    exit 2
fi
url=$1
expect=${2:-200}
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3
    [ -x "$here/../.venv/bin/python" ] && PYTHON="$here/../.venv/bin/python"
fi

# The check: reads the report on stdin, prints the verdict, exits 5 if the report is
# unusable or over budget. It does not decide up or down: httpr's exit status does.
read -r -d '' CHECK <<'PY'
import json, os, sys
raw = sys.stdin.read()
if os.environ.get("PROBE_JSON_FILE"):
    with open(os.environ["PROBE_JSON_FILE"], "w") as f:
        f.write(raw)
try:
    r = json.loads(raw)
    url, status, error = r["url"], r["status"], r["error"]
except (ValueError, KeyError, TypeError) as e:
    print(f"probe: unusable report ({type(e).__name__}: {e}): {raw[:200]!r}")
    sys.exit(5)
if error is None:
    ms = r["timings"]["total"] * 1000
    print(f"probe: UP {url} {status} {r['reason']} {r['http_version']} in {ms:.1f} ms")
    budget = os.environ.get("PROBE_MAX_MS")
    if budget and ms > float(budget):
        print(f"probe: SLOW {url}: {ms:.1f} ms is over PROBE_MAX_MS={budget}")
        sys.exit(5)
else:
    got = f" (status {status})" if status is not None else ""
    print(f"probe: DOWN {url}{got}: {error['type']}: {error['message']}")
PY

"$PYTHON" -m httpr --quiet --json-output \
    --expect-status "$expect" \
    --timeout "${PROBE_TIMEOUT:-5}" \
    --retries "${PROBE_RETRIES:-2}" \
    "$url" | PROBE_JSON_FILE="${PROBE_JSON_FILE:-}" "$PYTHON" -c "$CHECK"
codes=("${PIPESTATUS[@]}")
probe=${codes[0]}
check=${codes[1]}
if [ "$probe" -ne 0 ]; then
    exit "$probe"
fi
exit "$check"
