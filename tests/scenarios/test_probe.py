"""Probe scenario (issue 11): examples/probe.sh, the CLI as a CI health check.

The script runs against a healthy endpoint, a failing one (500), a slow one (past the
timeout) and a closed port, and must exit with api.md section 15's codes (0, 1, 4, 3), print
its one verdict line, and keep the ``--json-output`` report (``PROBE_JSON_FILE``) with the
fields a CI step reads: url, method, status, reason, http_version, headers, redirects,
timings, size, error.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.scenarios.conftest import REPO_ROOT

pytestmark = pytest.mark.scenario

PROBE = REPO_ROOT / "examples" / "probe.sh"
PROBE_TIMEOUT_SECONDS = 1.0
SLOW_SECONDS = 5.0  # the slow endpoint's delay: well past the probe's timeout
# The probe's own run: an interpreter start, one request, the check's interpreter.
RUN_SECONDS = 30.0
REPORT_FIELDS = {
    "url",
    "method",
    "status",
    "reason",
    "http_version",
    "headers",
    "redirects",
    "timings",
    "size",
    "error",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(SLOW_SECONDS)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/healthz")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = {"/healthz": 200, "/slow": 200, "/fail": 500}.get(self.path, 404)
        body = b'{"ok": true}\n' if status == 200 else b"broken\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # /slow: the probe gave up (its timeout) before the answer, as it must


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def closed_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connections are refused
    return f"http://127.0.0.1:{port}/healthz"


def probe(
    tmp_path: Path, *args: str, **env: str
) -> tuple[int, str, str, dict[str, Any] | None, float]:
    """Runs the probe; returns (exit code, stdout, stderr, the JSON report or None, seconds)."""
    report = tmp_path / "report.json"
    report.unlink(missing_ok=True)
    environ = {
        **os.environ,
        "PYTHON": sys.executable,
        "PROBE_JSON_FILE": str(report),
        "PROBE_TIMEOUT": str(PROBE_TIMEOUT_SECONDS),
        **env,
    }
    started = time.monotonic()
    proc = subprocess.run(
        [str(PROBE), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=RUN_SECONDS,
    )
    took = time.monotonic() - started
    doc = json.loads(report.read_text()) if report.exists() else None
    return proc.returncode, proc.stdout, proc.stderr, doc, took


@pytest.mark.timeout(60)
def test_probe_healthy_endpoint_exits_0(tmp_path: Path, endpoint: str) -> None:
    url = f"{endpoint}/healthz"
    code, out, err, doc, _ = probe(tmp_path, url)
    assert code == 0, (out, err)
    assert err == ""
    assert out.startswith(f"probe: UP {url} 200 OK HTTP/1.1 in ") and out.endswith(" ms\n")
    assert doc is not None and set(doc) == REPORT_FIELDS
    assert doc["url"] == url and doc["method"] == "GET"
    assert (doc["status"], doc["reason"], doc["http_version"]) == (200, "OK", "HTTP/1.1")
    assert ["content-type", "application/json"] in [[k.lower(), v] for k, v in doc["headers"]]
    assert doc["size"] == len(b'{"ok": true}\n') and doc["redirects"] == 0
    assert doc["error"] is None
    assert 0 < doc["timings"]["total"] < PROBE_TIMEOUT_SECONDS


@pytest.mark.timeout(60)
def test_probe_follows_a_redirect_and_accepts_a_status_list(tmp_path: Path, endpoint: str) -> None:
    code, out, _, doc, _ = probe(tmp_path, f"{endpoint}/moved")
    assert code == 0, out
    assert doc is not None and doc["redirects"] == 1 and doc["url"] == f"{endpoint}/healthz"
    code, out, _, doc, _ = probe(tmp_path, f"{endpoint}/fail", "200,500")
    assert code == 0, out
    assert doc is not None and doc["status"] == 500 and doc["error"] is None


@pytest.mark.timeout(60)
def test_probe_failing_endpoint_exits_1(tmp_path: Path, endpoint: str) -> None:
    url = f"{endpoint}/fail"
    code, out, err, doc, _ = probe(tmp_path, url)
    assert code == 1, (out, err)
    assert out.startswith(f"probe: DOWN {url} (status 500): UnexpectedStatus: expected status")
    assert err.startswith("httpr: expected status 200, got 500") and err.count("\n") == 1
    assert doc is not None and set(doc) == REPORT_FIELDS
    assert doc["status"] == 500 and doc["size"] == len(b"broken\n")
    assert doc["error"]["type"] == "UnexpectedStatus"
    assert "got 500" in doc["error"]["message"]


@pytest.mark.timeout(60)
def test_probe_slow_endpoint_times_out_with_exit_4(tmp_path: Path, endpoint: str) -> None:
    url = f"{endpoint}/slow"
    code, out, err, doc, took = probe(tmp_path, url)
    assert code == 4, (out, err)
    assert out.startswith(f"probe: DOWN {url}: ReadTimeout: ")
    assert err.startswith("httpr: ReadTimeout: ") and "Traceback" not in err
    assert doc is not None and set(doc) == REPORT_FIELDS
    assert doc["status"] is None and doc["timings"] is None and doc["headers"] == []
    assert doc["error"]["type"] == "ReadTimeout"
    # --timeout S bounds the whole request: the probe gave up long before the server answered.
    assert took < SLOW_SECONDS


@pytest.mark.timeout(60)
def test_probe_closed_endpoint_exits_3(tmp_path: Path, closed_url: str) -> None:
    code, out, err, doc, _ = probe(tmp_path, closed_url)
    assert code == 3, (out, err)
    assert out.startswith(f"probe: DOWN {closed_url}: ConnectError: ")
    assert err.startswith("httpr: ConnectError: ")
    assert doc is not None and doc["status"] is None
    assert doc["error"]["type"] == "ConnectError"


@pytest.mark.timeout(60)
def test_probe_usage_and_budget_exits(tmp_path: Path, endpoint: str) -> None:
    # A URL httpr refuses before any I/O, and a bad call of the script: exit 2.
    code, _, err, _, _ = probe(tmp_path, "ftp://127.0.0.1/healthz")
    assert code == 2, err
    code, _, err, doc, _ = probe(tmp_path)
    assert code == 2 and err.startswith("usage: ") and doc is None
    # Up, but over PROBE_MAX_MS: the script's own exit 5.
    code, out, _, doc, _ = probe(tmp_path, f"{endpoint}/healthz", PROBE_MAX_MS="0.001")
    assert code == 5, out
    assert out.splitlines()[1].startswith("probe: SLOW ")
    assert doc is not None and doc["status"] == 200
