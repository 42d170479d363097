#!/usr/bin/env bash
# Prepare what the benchmark needs besides our own venv: nginx (Debian's nginx-light) and two
# virtualenvs, one with the pinned peers (+ matplotlib for the chart), one with PyPI's Rust
# httpr alone (it imports as `httpr`, like the checkout under test). Idempotent: a venv whose
# stamp matches its requirements and whose imports work is left as it is (about a second).
#
#   bash bench/setup_peers.sh              # default dirs under /var/tmp/httpr-bench
#   PEERS_VENV=... HTTPR_PYPI_VENV=... PYTHON=python3.11 bash bench/setup_peers.sh
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
BASE="${HTTPR_BENCH_DIR:-/var/tmp/httpr-bench}"
PEERS_VENV="${PEERS_VENV:-$BASE/peers-venv}"
PYPI_VENV="${HTTPR_PYPI_VENV:-$BASE/httpr-pypi-venv}"
PYTHON="${PYTHON:-python3}"
U3F_VERSION=2.25.904 # the urllib3-future niquests 3.21.2 resolves to
export PIP_DISABLE_PIP_VERSION_CHECK=1

# -- nginx (Debian's nginx-light), as root after `apt-get update` --------------------------
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bench: installing nginx-light (apt-get)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light
		# The package starts the system-wide nginx (port 80, all addresses) where an init
		# system lets it; the benchmark runs its own on 127.0.0.1, so stop that one again.
		if command -v invoke-rc.d >/dev/null 2>&1; then invoke-rc.d nginx stop >/dev/null 2>&1 || true; fi
	else
		echo "bench: nginx is missing. Debian/Ubuntu, as root: apt-get update && apt-get install -y nginx-light" >&2
		exit 1
	fi
fi

# Bump SETUP_REV when the steps below change: venvs with an older stamp are rebuilt.
SETUP_REV=1
stamp_of() { { echo "rev $SETUP_REV $("$PYTHON" -V 2>&1)"; cat "$@"; } | sha256sum | cut -d' ' -f1; }

# venv_ready VENV STAMP CHECK: the venv exists, carries STAMP and passes the import CHECK
venv_ready() {
	[ -x "$1/bin/python" ] && [ "$(cat "$1/.bench-stamp" 2>/dev/null)" = "$2" ] &&
		"$1/bin/python" -I -c "$3" >/dev/null 2>&1
}

# -- the peers venv ------------------------------------------------------------------------
PEERS_REQ="$HERE/requirements-peers.txt"
U3_PIN="$(grep '^urllib3==' "$PEERS_REQ")"
PEERS_CHECK="
import urllib3, urllib3_future, requests, httpx, aiohttp, niquests, pycurl, curl_cffi, primp, matplotlib
assert urllib3.__version__ == '${U3_PIN#urllib3==}', 'urllib3 is shadowed: ' + urllib3.__version__
import requests.adapters, urllib3.poolmanager
assert requests.adapters.PoolManager is urllib3.poolmanager.PoolManager
import importlib.util
assert importlib.util.find_spec('httpr') is None, 'an httpr in the peers venv'
"
stamp="$(stamp_of "$PEERS_REQ")"
if venv_ready "$PEERS_VENV" "$stamp" "$PEERS_CHECK"; then
	echo "bench: peers venv up to date ($PEERS_VENV)"
else
	echo "bench: building the peers venv in $PEERS_VENV (a few minutes)"
	rm -rf "$PEERS_VENV"
	mkdir -p "$(dirname "$PEERS_VENV")"
	"$PYTHON" -m venv "$PEERS_VENV"
	"$PEERS_VENV/bin/pip" install -q -U pip
	"$PEERS_VENV/bin/pip" install -q -r "$PEERS_REQ"
	# niquests pulls urllib3-future, whose wheel installs a `urllib3` package over the real
	# one (requests and urllib3 would then be measured on urllib3-future). Rebuild it from
	# source with URLLIB3_NO_OVERRIDE=true so it lives only under `urllib3_future`, and put
	# the real urllib3 back.
	"$PEERS_VENV/bin/pip" uninstall -y -q urllib3-future urllib3
	purelib="$("$PEERS_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
	rm -rf "$purelib/urllib3"
	"$PEERS_VENV/bin/pip" install -q "$U3_PIN"
	URLLIB3_NO_OVERRIDE=true "$PEERS_VENV/bin/pip" install -q --no-cache-dir \
		--no-binary urllib3-future "urllib3-future==$U3F_VERSION"
	"$PEERS_VENV/bin/python" -I -c "$PEERS_CHECK"
	echo "$stamp" >"$PEERS_VENV/.bench-stamp"
	echo "bench: peers venv ready"
fi

# -- PyPI's Rust httpr, alone ----------------------------------------------------------------
PYPI_REQ="$HERE/requirements-httpr-pypi.txt"
PYPI_CHECK="import httpr; assert hasattr(httpr, 'RClient'), httpr.__file__"
stamp="$(stamp_of "$PYPI_REQ")"
if venv_ready "$PYPI_VENV" "$stamp" "$PYPI_CHECK"; then
	echo "bench: PyPI httpr venv up to date ($PYPI_VENV)"
else
	echo "bench: building the PyPI httpr venv in $PYPI_VENV"
	rm -rf "$PYPI_VENV"
	mkdir -p "$(dirname "$PYPI_VENV")"
	"$PYTHON" -m venv "$PYPI_VENV"
	"$PYPI_VENV/bin/pip" install -q -U pip
	"$PYPI_VENV/bin/pip" install -q -r "$PYPI_REQ"
	"$PYPI_VENV/bin/python" -I -c "$PYPI_CHECK"
	echo "$stamp" >"$PYPI_VENV/.bench-stamp"
	echo "bench: PyPI httpr venv ready"
fi
