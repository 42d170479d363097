"""The engine's lifecycle seen from Python: the libcurl floor, fork, counters."""

from __future__ import annotations

import multiprocessing
import os

import pytest

import httpr
from httpr._curl import CURL, check_version, counters
from tests.servers.app import payload


def test_running_libcurl_is_at_least_the_floor() -> None:
    check_version(CURL.version_num, CURL.version)  # the loaded one passes
    assert CURL.http2  # Debian 12's libcurl has HTTP/2 (design.md 12)


@pytest.mark.parametrize(("num", "text"), [(0x075700, "7.87.0"), (0x071000, "7.16.0")])
def test_older_libcurl_is_refused_at_import(num: int, text: str) -> None:
    with pytest.raises(ImportError, match=rf"libcurl >= 7\.88\.0 at run time, but loaded {text}"):
        check_version(num, text)


def _child_get(url: str, client: httpr.Client, queue: multiprocessing.Queue[object]) -> None:
    try:
        queue.put(client.get(url).content == payload(64))
    except BaseException as e:  # reported to the parent
        queue.put(repr(e))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_client_used_before_fork_works_in_child_and_parent(server) -> None:
    """LD-09 (fork): a client used before fork() works in the child (a fresh engine)
    and in the parent, whose pooled connection the child never touched."""
    url = f"{server.url}/bytes?size=64"
    with httpr.Client() as client:
        assert client.get(url).content == payload(64)  # engine and a pooled connection exist
        ctx = multiprocessing.get_context("fork")
        queue: multiprocessing.Queue[object] = ctx.Queue()
        child = ctx.Process(target=_child_get, args=(url, client, queue))
        child.start()
        child.join(20)
        assert child.exitcode == 0
        assert queue.get(timeout=5) is True  # the child built a fresh engine
        # The parent's engine and connection were not touched by the child.
        r = client.get(url)
        assert r.content == payload(64)
        assert not r.timings.new_connection


def _pool_child_get(url: str) -> tuple[int, bool, int]:
    """In a process-pool worker: GETs with a fresh client and the module function."""
    with httpr.Client(timeout=10.0) as c:
        ok = c.get(url).content == payload(64)
    ok = ok and httpr.get(url, timeout=10.0).content == payload(64)
    return os.getpid(), ok, counters()["engines"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_pool_children_request_while_the_parent_does(server, method: str) -> None:
    """LD-09: a process pool (multiprocessing fork and spawn) whose workers request while the
    parent's live client keeps requesting: every child request succeeds, the parent has 0
    errors and keeps its own pooled connection."""
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    from concurrent.futures import ProcessPoolExecutor

    url = f"{server.url}/bytes?size=64"
    parent_errors: list[BaseException] = []
    with httpr.Client(timeout=10.0) as client:
        assert client.get(url).content == payload(64)
        # A forked child keeps (never frees) the engines it inherited (design.md 7).
        inherited = counters()["engines"] if method == "fork" else 0
        ctx = multiprocessing.get_context(method)
        with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
            futures = [pool.submit(_pool_child_get, url) for _ in range(6)]
            for _ in range(20):
                try:
                    r = client.get(url)
                    assert r.content == payload(64)
                    assert not r.timings.new_connection
                except BaseException as e:  # counted: the row's figure is parent errors (0)
                    parent_errors.append(e)
            results = [f.result(timeout=30) for f in futures]
        assert parent_errors == []
        assert all(ok for _, ok, _ in results), results
        assert {pid for pid, _, _ in results} - {os.getpid()}  # really other processes
        # Each child closed the engines it made itself.
        assert all(engines == inherited for _, _, engines in results), results
        assert client.get(url).content == payload(64)


def test_counters_return_to_baseline_after_failures_and_close(server, raw_server) -> None:
    from tests.servers.raw import serve_bytes

    before = counters()
    srv = raw_server(serve_bytes(b"garbage\r\n\r\n"))
    with httpr.Client() as c:
        for _ in range(5):
            c.get(f"{server.url}/bytes?size=10")
            with pytest.raises(httpr.RemoteProtocolError):
                c.get(f"{srv.url}/x")
    after = counters()
    assert after == before


def _child_reads_inherited(stream: object, queue: multiprocessing.Queue[object]) -> None:
    try:
        for _ in stream.iter_bytes():  # type: ignore[attr-defined]
            pass
        queue.put("read")
    except BaseException as e:  # reported to the parent
        queue.put(type(e).__name__)


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_never_drives_an_inherited_stream(server) -> None:
    """design.md 7 with inline driving: a stream its reader drives (no engine thread) is
    open at fork(); the child reading it gets an error at once instead of reading the
    parent's socket, and the parent's body arrives whole."""
    size = 3_000_000
    with httpr.Client(timeout=10.0) as client:
        with client.stream("GET", f"{server.url}/bytes?size={size}") as r:
            it = r.iter_bytes()
            got = bytearray(next(it))
            ctx = multiprocessing.get_context("fork")
            queue: multiprocessing.Queue[object] = ctx.Queue()
            child = ctx.Process(target=_child_reads_inherited, args=(r, queue))
            child.start()
            child.join(20)
            assert child.exitcode == 0
            assert queue.get(timeout=5) == "EngineError"
            for chunk in it:
                got += chunk
        assert bytes(got) == payload(size)
