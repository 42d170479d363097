"""Service scenario (issue 11): examples/service.py, one shared Client on a thread pool.

8 threads x 2,000 requests go through the example service (each answer is two upstream
calls made in parallel on one `httpr.Client`) to the example's upstream, on 127.0.0.1:

- every answer is correct (the user and the orders of the id asked for);
- p50 and p99 latency are reported (``-s``);
- no leaked connections, counted at the upstream: the client opened at most one per pool
  worker, and once the service is closed the upstream has no connection left open; this
  process's fds and the engine's live counters are back at their baseline.

The example's failure answers (502 for a dead upstream, 504 for a slow one) and its command
line (``--self-test``, as the README documents it) are checked too.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable
from urllib.request import urlopen

import pytest

from httpr._curl import counters
from tests.scenarios.conftest import REPO_ROOT, load_example

pytestmark = pytest.mark.scenario

service = load_example("service")

THREADS = 8
REQUESTS_PER_THREAD = 2_000
WORKERS = service.DEFAULT_WORKERS
# Bounds, generous for a 2-core machine (measured: ~17 s, p99 ~20 ms).
LOAD_BUDGET_SECONDS = 120.0
P99_LIMIT_SECONDS = 1.0
SETTLE_SECONDS = 10.0


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def wait_for(condition: Callable[[], bool], timeout: float = SETTLE_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.02)


@pytest.mark.timeout(LOAD_BUDGET_SECONDS + 60)
def test_service_under_load_answers_correctly_on_few_connections() -> None:
    gc.collect()
    fds_before, live_before = fd_count(), counters()
    upstream = service.Upstream()
    ps = service.ProfileService(upstream.url, workers=WORKERS)
    with service.running(upstream):
        with service.running(ps):
            started = time.perf_counter()
            latencies, wrong = service.load(ps.url, THREADS, REQUESTS_PER_THREAD)
            elapsed = time.perf_counter() - started
            open_while_serving = upstream.open_connections
        # The service (and its client) is closed: the upstream sees every connection go.
        wait_for(lambda: upstream.open_connections == 0)
        open_after_close = upstream.open_connections
        accepted = upstream.accepted
    wait_for(lambda: fd_count() <= fds_before and counters() == live_before)
    fds_after, live_after = fd_count(), counters()

    total = THREADS * REQUESTS_PER_THREAD
    p50 = statistics.median(latencies)
    p99 = service.percentile(latencies, 0.99)
    print(
        f"\nservice: {len(latencies)} requests from {THREADS} threads in {elapsed:.1f} s"
        f" ({len(latencies) / elapsed:.0f}/s); latency p50 {p50 * 1e3:.2f} ms,"
        f" p99 {p99 * 1e3:.2f} ms, max {max(latencies) * 1e3:.1f} ms;"
        f" {2 * total} upstream calls on {accepted} connections"
    )
    assert len(latencies) == total
    assert wrong == 0
    assert elapsed < LOAD_BUDGET_SECONDS
    assert p99 < P99_LIMIT_SECONDS
    # One shared pool: at most one connection per worker, kept alive across 32,000 calls.
    assert 1 <= accepted <= WORKERS
    assert open_while_serving == accepted
    assert open_after_close == 0
    assert live_after == live_before, f"live counters {live_before} -> {live_after}"
    assert fds_after <= fds_before, f"fds {fds_before} -> {fds_after}"


def get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except OSError as e:  # HTTPError: a status answer with a body
        status = getattr(e, "code", None)
        if status is None:
            raise
        return int(status), json.loads(e.read())  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
def test_service_answers_502_and_504_when_the_upstream_fails() -> None:
    slow = service.Upstream(delay=service.UPSTREAM_TIMEOUT.read + 1.0)
    with service.running(slow):
        dead_port = slow.server_port  # a closed port once `slow` is gone: see below
        ps = service.ProfileService(slow.url)
        with service.running(ps):
            started = time.monotonic()
            status, doc = get_json(f"{ps.url}/profile/7")
            took = time.monotonic() - started
            assert (status, doc) == (504, {"error": "ReadTimeout"})
            assert took < service.UPSTREAM_TIMEOUT.read + 1.0
            assert get_json(f"{ps.url}/profile/x") == (404, {"error": "not found"})
            assert get_json(f"{ps.url}/healthz") == (200, "ok")  # type: ignore[comparison-overlap]
    ps = service.ProfileService(f"http://127.0.0.1:{dead_port}")
    with service.running(ps):
        assert get_json(f"{ps.url}/profile/7") == (502, {"error": "ConnectError"})


@pytest.mark.timeout(60)
def test_service_example_self_test_runs_as_documented() -> None:
    proc = subprocess.run(
        [sys.executable, "examples/service.py", "--self-test", "50"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("upstream http://127.0.0.1:")
    assert "400 requests from 8 threads" in lines[1] and "0 wrong answers" in lines[1]
    assert "p50" in lines[1] and "p99" in lines[1]
    assert lines[2].startswith("the upstream served 800 calls on ")
