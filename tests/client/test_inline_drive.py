"""Inline driving (design.md 1, csrc/engine.c httpr_engine_drive): a sync client's first
buffered request, and its streams while it has no engine thread, run the engine loop on the
waiting caller's thread. What must hold: no thread for a client used from one thread for one
request or for streams; the thread starts at a second buffered request, or when another
thread's request arrives meanwhile, or when a stream is closed early; deadlines, errors and
Ctrl-C behave as on the engine thread; time a stream's reader spends in Python is not
read-idle time."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import Any

import pytest

import httpr
from httpr._curl import counters
from tests.servers.app import payload


def threads() -> int:
    return int(counters()["threads"])


def test_one_request_starts_no_thread(server: Any) -> None:
    before = threads()
    with httpr.Client() as c:
        assert c.get(f"{server.url}/bytes?size=100").content == payload(100)
        assert threads() == before  # run by this thread
        assert c.get(f"{server.url}/bytes?size=100").content == payload(100)
        assert threads() == before + 1  # the second request starts the engine thread
    assert threads() == before


def test_module_function_starts_no_thread(server: Any) -> None:
    before = threads()
    done = threading.Event()
    seen: list[int] = []

    def watch() -> None:  # samples the count while the request runs
        while not done.is_set():
            seen.append(threads())
            time.sleep(0.001)

    w = threading.Thread(target=watch)
    w.start()
    try:
        assert httpr.get(f"{server.url}/delay?s=0.02").content == b"ok"
    finally:
        done.set()
        w.join()
    assert seen and max(seen) == before


def test_a_first_request_longer_than_a_slice_stays_inline(server: Any) -> None:
    """The caller drives in 50 ms slices (Ctrl-C lands between them) and goes on driving."""
    before = threads()
    with httpr.Client(timeout=5.0) as c:
        assert c.get(f"{server.url}/delay?s=0.3").content == b"ok"
        assert threads() == before
        assert c.get(f"{server.url}/bytes?size=10").content == payload(10)
        assert threads() == before + 1
    assert threads() == before


def test_another_threads_request_is_not_held_up_by_the_inline_one(server: Any) -> None:
    """While the first request runs inline, a second thread's request makes the driver hand
    the engine to its thread at once: the second request does not wait for the first, nor
    for the end of the driver's wait slice (50 ms)."""
    with httpr.Client(timeout=5.0) as c:
        first: list[bytes] = []
        t = threading.Thread(
            target=lambda: first.append(c.get(f"{server.url}/delay?s=0.5").content)
        )
        t.start()
        time.sleep(0.005)  # the first request is being driven by thread t
        start = time.perf_counter()
        assert c.get(f"{server.url}/bytes?size=10").content == payload(10)
        elapsed = time.perf_counter() - start
        t.join()
        assert first == [b"ok"]
        assert elapsed < 0.04, f"the second request took {elapsed:.3f} s"


def test_read_timeout_expires_inline(server: Any) -> None:
    """A deadline shorter than the wait slice fires while the caller drives: the transfer
    ends without the thread ever starting."""
    before = threads()
    with httpr.Client(timeout=httpr.Timeout(5.0, read=0.01)) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ReadTimeout):
            c.get(f"{server.url}/delay?s=1")
        assert time.perf_counter() - start < 0.5
        assert threads() == before


def test_connect_error_inline() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    before = threads()
    with httpr.Client() as c, pytest.raises(httpr.ConnectError):
        c.get(f"http://127.0.0.1:{port}/")
    assert threads() == before


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_ctrl_c_during_the_inline_slice(server: Any) -> None:
    """SIGINT while this thread drives the engine: the interrupt lands at the end of the
    slice at the latest, the transfer is cancelled, the client stays usable."""
    before = counters()["in_flight"]
    with httpr.Client(timeout=5.0) as c:
        timer = threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            c.get(f"{server.url}/delay?s=1")
        assert time.perf_counter() - start < 0.3
        timer.join()
        deadline = time.monotonic() + 2.0
        while counters()["in_flight"] != before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert counters()["in_flight"] == before
        assert c.get(f"{server.url}/bytes?size=10").content == payload(10)


def test_streams_run_inline(server: Any) -> None:
    before = threads()
    with httpr.Client(timeout=5.0) as c:
        for _ in range(2):
            with c.stream("GET", f"{server.url}/bytes?size=300000") as r:
                assert r.read() == payload(300_000)
        assert threads() == before
    assert threads() == before


def test_a_reader_away_in_python_is_not_read_idle(server: Any) -> None:
    """Nobody drives an inline stream while its reader works on a chunk; the read timeout
    (0.2 s) must not count those 0.4 s pauses."""
    with httpr.Client(timeout=httpr.Timeout(5.0, read=0.2)) as c:
        got = bytearray()
        with c.stream("GET", f"{server.url}/bytes?size=2000000") as r:
            for i, chunk in enumerate(r.iter_bytes()):
                got += chunk
                if i < 3:
                    time.sleep(0.4)
        assert bytes(got) == payload(2_000_000)


def test_read_timeout_while_the_reader_drives(server: Any) -> None:
    with httpr.Client(timeout=httpr.Timeout(5.0, read=0.2)) as c:
        start = time.perf_counter()
        with c.stream("GET", f"{server.url}/slow-body?chunks=3&interval=2") as r:
            with pytest.raises(httpr.ReadTimeout):
                for _ in r.iter_bytes():
                    pass
        assert time.perf_counter() - start < 1.5


def test_closing_an_inline_stream_early_ends_the_transfer(server: Any) -> None:
    """The cancel needs a driver while the reader is away: the engine thread starts for it."""
    before_flight = counters()["in_flight"]
    before = threads()
    with httpr.Client(timeout=5.0) as c:
        with c.stream("GET", f"{server.url}/bytes?size=5000000") as r:
            next(r.iter_bytes())
        deadline = time.monotonic() + 2.0
        while counters()["in_flight"] != before_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        assert counters()["in_flight"] == before_flight
        assert threads() == before + 1
        assert c.get(f"{server.url}/bytes?size=10").content == payload(10)


def test_a_request_while_an_inline_stream_is_open(server: Any) -> None:
    with httpr.Client(timeout=5.0) as c:
        with c.stream("GET", f"{server.url}/bytes?size=1000000") as r:
            first = next(r.iter_bytes())
            assert c.get(f"{server.url}/bytes?size=10").content == payload(10)
            rest = r.read()
        assert first + rest == payload(1_000_000)


def test_a_slow_reader_gets_the_engine_thread(server: Any) -> None:
    """A reader that spends longer on its chunks than the engine on fetching them gets the
    engine thread once 1 MiB has come, so fetching overlaps its work; the body is intact."""
    before = threads()
    with httpr.Client(timeout=5.0) as c:
        got = bytearray()
        with c.stream("GET", f"{server.url}/bytes?size=3000000") as r:
            for chunk in r.iter_bytes():
                got += chunk
                time.sleep(0.003)
        assert bytes(got) == payload(3_000_000)
        assert threads() == before + 1
    assert threads() == before
