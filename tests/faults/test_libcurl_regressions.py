"""Regressions of libcurl bugs httpr works around, run in the default suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_CRASH_SCRIPT = """
import httpr
from tests.servers.raw import RawServer, serve_bytes

good = serve_bytes(b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n")
evil = serve_bytes(b"HTTP/1.1 200 OK\\r\\n a:b\\r\\n\\r\\n")
with RawServer(good) as g, RawServer(evil) as e, httpr.Client(timeout=5) as client:
    client.get(g.url + "/")  # the easy handle now has a past
    try:
        client.get(e.url + "/")
    except httpr.HTTPError:
        pass
    client.get(g.url + "/")
print("survived")
"""


@pytest.mark.timeout(60)
def test_leading_obs_fold_after_handle_reuse_does_not_crash() -> None:
    """Found by FZ-03: on libcurl < 8.1.0 a reused easy handle turned a response whose
    first header line starts with whitespace into a double free (curl/curl#11101), so any
    server could crash the process. Records now get a fresh handle there. The client runs
    in a child process, so a regression is a failed test, not a dead test run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-500:]}"
    assert "survived" in proc.stdout
