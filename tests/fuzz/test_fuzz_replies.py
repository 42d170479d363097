"""FZ-03: fuzzed server replies (security.md section 3 "Fuzzing", R7, R10, R15, R16).

The harness itself is ``tests/fuzz/_replies.py``, run in a child process for the budget of
each delivery mode (whole, dribbled): a crash of the C engine or of libcurl then kills the
child, and this test reports the reply that was being served (logged before it was sent),
a hang is caught by the child's own per-request bound or by the child timeout here, and any
other violation fails the child with hypothesis's shrunk example.

A crash that matches a known bug (pinned by a strict xfail test below) is tallied and the
run goes on in a fresh child, so the harness keeps looking for new ones.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import httpr
from tests.fuzz._harness import FUZZ_SECONDS, FUZZ_TIMEOUT_SECONDS
from tests.fuzz._replies import TIMEOUT, Plan

pytestmark = pytest.mark.fuzz

ROOT = Path(__file__).resolve().parents[2]
# A child's startup (imports, servers) and shutdown on top of the seconds it fuzzes.
CHILD_SLACK_SECONDS = 60.0
# Fewer examples than this in a run means the harness is broken.
MIN_EXAMPLES = 200
# Below this many seconds left, no new child is started.
MIN_CHILD_SECONDS = 5.0

KNOWN_CRASH = (
    "libcurl 7.88.1 double free / SIGSEGV (curl/curl#11101, fixed in 8.1.0 by #11103): on a "
    "reused easy handle, a response whose first header line is an obs-fold line holding a "
    "colon ('HTTP/1.1 200 OK\\r\\n a:b\\r\\n\\r\\n') frees the previous transfer's stale "
    "header pointer; httpr reuses handles, so any server can crash the process"
)
# The shape of that reply: right after a status line (libcurl matches "HTTP/" in any case),
# a line starting with SP or HTAB.
_KNOWN_CRASH_REPLY = re.compile(rb"(?i)HTTP/[^\n]*\n[ \t][^\n]*:")
_CRASH_SIGNALS = {-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS}

KNOWN_UNSUPPORTED = (
    "a reply with a status code libcurl refuses ('HTTP/1.1 2000 OK', 'HTTP/1.1 099 x') or "
    "an unknown version ('HTTP/1.2', 'HTTP/0.9') raises UnsupportedProtocol (CURLcode 1 "
    "mapped as for a URL scheme; design.md 10 only special-cases HTTP/0.9's message), where "
    "api.md 14 says a garbage reply is RemoteProtocolError"
)
KNOWN_CURLCODE_43 = (
    "a reply with a bare CR inside a header name ('A\\rB: 1') or a stray obs-fold line "
    "fails with CURLcode 43 (bad function argument), which the error table does not map: "
    "a bare httpr.TransportError instead of RemoteProtocolError (api.md 14)"
)


def _last_replies(log: Path, n: int = 2) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    lines = log.read_text(encoding="ascii").splitlines()
    return [json.loads(line) for line in lines[-n:]]


def _is_known_crash(returncode: int, replies: list[dict[str, Any]]) -> bool:
    return returncode in _CRASH_SIGNALS and any(
        _KNOWN_CRASH_REPLY.search(Plan.from_json(doc).data) for doc in replies
    )


def _describe(replies: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {doc['kind']} {doc['method']}: {Plan.from_json(doc)!r}" for doc in replies)


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS + CHILD_SLACK_SECONDS)
@pytest.mark.parametrize("delivery", ["whole", "dribbled"])
def test_fz03_fuzzed_server_replies(delivery: str, tmp_path: Path) -> None:
    deadline = time.monotonic() + FUZZ_SECONDS
    tally: Counter[str] = Counter()
    examples = children = 0
    slowest = 0.0
    figures: list[dict[str, Any]] = []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    while (left := deadline - time.monotonic()) > MIN_CHILD_SECONDS or children == 0:
        log = tmp_path / f"child{children}.log"
        result = tmp_path / f"child{children}.json"
        command = [
            sys.executable,
            "-m",
            "tests.fuzz._replies",
            f"--delivery={delivery}",
            f"--seconds={max(left, MIN_CHILD_SECONDS):.1f}",
            f"--log={log}",
            f"--result={result}",
        ]
        children += 1
        try:
            proc = subprocess.run(
                command,
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=left + CHILD_SLACK_SECONDS,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"FZ-03 hang: the child never finished; last replies:\n"
                f"{_describe(_last_replies(log))}"
            )
        if proc.returncode == 0:
            doc = json.loads(result.read_text(encoding="ascii"))
            examples += doc["examples"]
            tally.update(doc["tally"])
            slowest = max(slowest, doc["slowest"])
            figures.append(doc)
            continue
        replies = _last_replies(log)
        examples += len(log.read_text(encoding="ascii").splitlines()) if log.exists() else 0
        if _is_known_crash(proc.returncode, replies):
            tally[f"KNOWN CRASH: {KNOWN_CRASH[:40]}"] += 1
            continue
        how = signal.Signals(-proc.returncode).name if proc.returncode < 0 else "error"
        pytest.fail(
            f"FZ-03 child exited with {proc.returncode} ({how}); last replies sent:\n"
            f"{_describe(replies)}\n"
            f"child output (tail):\n{textwrap.indent((proc.stdout + proc.stderr)[-6000:], '  ')}"
        )
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(tally.items()))
    print(
        f"\n[FZ-03 replies, {delivery}] {examples} examples in {children} child runs; "
        f"slowest request {slowest:.2f} s; {summary}"
    )
    for doc in figures:
        print(
            f"  child: {doc['examples']} examples, counters {doc['counters'][0]} -> "
            f"{doc['counters'][1]}, fds {doc['fds'][0]} -> {doc['fds'][1]}, "
            f"server handler errors (client gone) {doc['handler_errors']}"
        )
    assert examples >= MIN_EXAMPLES


# -- the known bugs, pinned -------------------------------------------------------------------


def _first_failure(raw_server: Any, reply: bytes) -> BaseException | None:
    from tests.servers.raw import serve_bytes

    srv = raw_server(serve_bytes(reply))
    with httpr.Client(timeout=TIMEOUT, follow_redirects=False) as client:
        try:
            client.get(f"{srv.url}/")
        except Exception as e:
            return e
    return None


def test_fz03_found_status_line_without_space_before_reason(raw_server: Any) -> None:
    # Repro: the server answers "HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n"; libcurl 7.88
    # takes status 200 (its sscanf reads three digits), then _from_raw_head raises
    # ValueError("Malformed status line 'HTTP/1.1 200OK'") out of client.get().
    error = _first_failure(raw_server, b"HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n")
    assert error is None or isinstance(error, httpr.HTTPError), repr(error)


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
    ],
)
def test_fz03_found_bad_status_is_remote_protocol_error(raw_server: Any, reply: bytes) -> None:
    error = _first_failure(raw_server, reply)
    assert isinstance(error, httpr.RemoteProtocolError), repr(error)


def test_fz03_found_cr_in_header_name_is_remote_protocol_error(raw_server: Any) -> None:
    error = _first_failure(raw_server, b"HTTP/1.1 200 OK\r\nA\rB: 1\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(error, httpr.RemoteProtocolError), repr(error)
