"""AsyncClient behaviour of its own (api.md 3; issue: AsyncClient on the C engine).

Everything Client does is checked for AsyncClient by the shared tests (make_client); these
cover what only an event loop has: many transfers in flight, cancellation, aclose, loops.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from typing import Any

import pytest

import httpr
from httpr._curl import counters
from tests.conftest import SHORT_TIMEOUT, assert_on_time
from tests.servers.app import payload
from tests.servers.raw import read_request_head


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def settle(before: dict[str, int]) -> None:
    """Waits (bounded) for the engine to publish the DONE of cancelled transfers."""
    deadline = time.monotonic() + 2.0
    while counters()["in_flight"] != before["in_flight"] and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_thousand_requests_in_flight(server) -> None:
    before_conns = server.connections_accepted
    async with httpr.AsyncClient(max_concurrency=None, max_connections=50) as c:
        sizes = [1 + i % 997 for i in range(1000)]
        responses = await asyncio.gather(*(c.get(f"{server.url}/bytes?size={n}") for n in sizes))
    assert [r.content for r in responses] == [payload(n) for n in sizes]
    # The engine's connection cap holds with 1,000 transfers in flight (design.md 5).
    assert server.connections_accepted - before_conns <= 50


@pytest.mark.asyncio
async def test_max_concurrency_caps_transfers_in_flight(raw_server) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def handler(sock: socket.socket) -> None:
        nonlocal active, peak
        while True:
            try:
                read_request_head(sock, timeout=2.0)
            except Exception:
                return
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.02)
            with lock:
                active -= 1
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    srv = raw_server(handler)
    async with httpr.AsyncClient(max_concurrency=3) as c:
        results = await asyncio.gather(*(c.get(f"{srv.url}/{i}") for i in range(30)))
    assert all(r.content == b"ok" for r in results)
    assert peak <= 3


@pytest.mark.asyncio
async def test_concurrency_slot_wait_is_the_pool_phase(server) -> None:
    timeout = httpr.Timeout(5.0, pool=SHORT_TIMEOUT)
    async with httpr.AsyncClient(max_concurrency=1, timeout=timeout) as c:
        slow = asyncio.ensure_future(c.get(f"{server.url}/delay?s=0.6"))
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        with pytest.raises(httpr.PoolTimeout, match="concurrency slot"):
            await c.get(f"{server.url}/bytes?size=1")
        assert_on_time(time.perf_counter() - start, SHORT_TIMEOUT)
        assert (await slow).status_code == 200
        assert (await c.get(f"{server.url}/bytes?size=1")).status_code == 200


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["cancel", "wait_for", "timeout"])
async def test_cancellation_aborts_the_transfer_and_leaks_nothing(
    server, raw_server, how: str
) -> None:
    """FLT-26 (headers phase): cancel, wait_for and asyncio.timeout abort the
    transfer, free its connection and leave the client usable."""
    closed = threading.Event()

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        sock.settimeout(5.0)
        try:
            if sock.recv(1) == b"":
                closed.set()  # the client closed the connection: the transfer was aborted
        except OSError:
            closed.set()

    srv = raw_server(handler)
    async with httpr.AsyncClient() as c:
        await c.get(f"{server.url}/bytes?size=1")  # the engine and its record pool exist now
        before, fds = counters(), open_fds()
        start = time.perf_counter()
        if how == "cancel":
            task = asyncio.ensure_future(c.get(f"{srv.url}/x"))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        elif how == "wait_for":
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.get(f"{srv.url}/x"), 0.1)
        else:
            timeout_cm = getattr(asyncio, "timeout", None)  # Python 3.11+
            if timeout_cm is None:
                pytest.skip("asyncio.timeout needs Python 3.11")
            with pytest.raises(TimeoutError):
                async with timeout_cm(0.1):
                    await c.get(f"{srv.url}/x")
        assert time.perf_counter() - start < 0.5
        assert await asyncio.get_running_loop().run_in_executor(None, closed.wait, 2.0)
        await settle(before)
        assert counters() == before
        assert open_fds() <= fds  # the aborted connection's socket is gone
        # The client stays usable.
        with pytest.raises(httpr.ReadTimeout):
            await c.get(f"{srv.url}/y", timeout=httpr.Timeout(5.0, read=0.05))


@pytest.mark.asyncio
async def test_aclose_lets_in_flight_requests_finish(server) -> None:
    before = counters()
    c = httpr.AsyncClient()
    slow = asyncio.ensure_future(c.get(f"{server.url}/delay?s=0.2"))
    await asyncio.sleep(0.05)
    await c.aclose()
    assert c.is_closed
    with pytest.raises(httpr.ClientClosed):
        await c.get(f"{server.url}/bytes?size=1")
    assert (await slow).status_code == 200  # in flight before aclose: it finishes
    assert counters() == before  # the last user let go: engine joined


@pytest.mark.asyncio
async def test_async_mock_transport_handlers() -> None:
    async def handler(request: httpr.Request) -> httpr.Response:
        await asyncio.sleep(0)
        return httpr.Response(201, content=request.url)

    async with httpr.AsyncClient(transport=httpr.MockTransport(handler)) as c:
        r = await c.get("http://h.invalid/a")
    assert r.status_code == 201 and r.text == "http://h.invalid/a"
    wrong = httpr.MockTransport(lambda req: "nope")  # type: ignore[arg-type,return-value]
    async with httpr.AsyncClient(transport=wrong) as c:
        with pytest.raises(TypeError):
            await c.get("http://h.invalid/a")


def test_client_moves_between_loops_when_idle(server) -> None:
    c = httpr.AsyncClient()
    for _ in range(3):  # each asyncio.run is a new loop
        r = asyncio.run(c.get(f"{server.url}/bytes?size=5"))
        assert r.content == payload(5)
    c.close()


def test_client_with_a_transfer_in_flight_refuses_another_loop(server) -> None:
    c = httpr.AsyncClient()
    started = threading.Event()
    release = threading.Event()

    def other_loop() -> None:
        async def hold() -> None:
            task = asyncio.ensure_future(c.get(f"{server.url}/delay?s=0.5"))
            await asyncio.sleep(0.05)
            started.set()
            await task

        asyncio.run(hold())
        release.set()

    t = threading.Thread(target=other_loop)
    t.start()
    assert started.wait(5)
    with pytest.raises(RuntimeError, match="another event loop"):
        asyncio.run(c.get(f"{server.url}/bytes?size=1"))
    t.join(5)
    assert release.is_set()
    assert asyncio.run(c.get(f"{server.url}/bytes?size=1")).status_code == 200
    c.close()


class _NoReaderLoop(asyncio.SelectorEventLoop):
    """A loop without add_reader, as a proactor loop is."""

    def add_reader(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        raise NotImplementedError


def test_loop_without_add_reader_uses_a_waiter_thread(server) -> None:
    loop = _NoReaderLoop()
    try:

        async def run() -> list[bytes]:
            async with httpr.AsyncClient() as c:
                rs = await asyncio.gather(
                    *(c.get(f"{server.url}/bytes?size={n}") for n in range(1, 40))
                )
                return [r.content for r in rs]

        assert loop.run_until_complete(run()) == [payload(n) for n in range(1, 40)]
        assert not any(t.name == "httpr-events" for t in threading.enumerate())  # joined
    finally:
        loop.close()


@pytest.mark.asyncio
async def test_close_from_sync_code_then_requests_raise_client_closed() -> None:
    c = httpr.AsyncClient()
    c.close()  # close() works from sync code too
    with pytest.raises(httpr.ClientClosed):
        await c.get("http://127.0.0.1:9/")
