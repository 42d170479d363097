"""Streaming downloads (api.md 7, design.md 4) for Client and AsyncClient."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import pytest

import httpr
from httpr._curl import counters
from tests.servers.app import payload
from tests.servers.raw import read_request_head


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")  # Defensive


# -- sync ------------------------------------------------------------------------------------


def test_iter_bytes_delivers_the_body_in_bounded_chunks(server) -> None:
    with httpr.Client() as c, c.stream("GET", f"{server.url}/bytes?size=300000") as r:
        assert isinstance(r, httpr.StreamingResponse)
        assert r.status_code == 200 and r.headers["content-length"] == "300000"
        chunks = list(r.iter_bytes())
        assert r.is_consumed and not r.is_closed
    assert b"".join(chunks) == payload(300000)
    assert all(0 < len(ch) <= 64 * 1024 for ch in chunks)
    assert r.is_closed


def test_iter_bytes_with_a_chunk_size(server) -> None:
    with httpr.Client() as c, c.stream("GET", f"{server.url}/bytes?size=10000") as r:
        chunks = list(r.iter_bytes(chunk_size=3000))
    assert [len(ch) for ch in chunks] == [3000, 3000, 3000, 1000]
    with httpr.Client() as c, c.stream("GET", f"{server.url}/bytes?size=10") as r:
        with pytest.raises(ValueError):
            r.iter_bytes(chunk_size=0)


def test_states(server) -> None:
    url = f"{server.url}/bytes?size=5000"
    with httpr.Client() as c:
        with c.stream("GET", url) as r:
            with pytest.raises(httpr.ResponseNotRead):
                _ = r.content
            data = r.read()
            assert data == payload(5000) and r.read() is data and r.content is data
            with pytest.raises(httpr.StreamConsumed):
                list(r.iter_bytes())
        with c.stream("GET", url) as r:
            list(r.iter_bytes())
            with pytest.raises(httpr.StreamConsumed):
                r.read()
        with c.stream("GET", url) as r:
            first = next(r.iter_bytes(chunk_size=1000))
            assert first + r.read() == payload(5000)  # read() returns exactly the rest
        with c.stream("GET", url) as r:
            r.close()
            r.close()  # idempotent
            with pytest.raises(httpr.StreamClosed):
                r.read()
            with pytest.raises(httpr.StreamClosed):
                list(r.iter_bytes())


def test_iter_text_and_lines_decode_incrementally(server) -> None:
    body = "héllo €\nsecond line\r\nlast"
    url = f"{server.url}/content-type"
    params = {"ct": "text/plain; charset=utf-8", "body": body}
    with httpr.Client() as c:
        with c.stream("GET", url, params=params) as r:
            # one byte at a time: the 2- and 3-byte characters arrive split
            assert "".join(r.iter_text(chunk_size=1)) == body
        with c.stream("GET", url, params=params) as r:
            assert list(r.iter_lines()) == ["héllo €\n", "second line\r\n", "last"]


def test_gzip_is_decoded_while_streaming(server) -> None:
    with httpr.Client() as c, c.stream("GET", f"{server.url}/gzip?size=200000") as r:
        assert "content-encoding" not in r.headers
        assert b"".join(r.iter_bytes()) == payload(200000)


def test_redirects_are_followed_at_entry(server) -> None:
    url = f"{server.url}/redirect?to=/bytes%3Fsize%3D100&code=302"
    with httpr.Client() as c, c.stream("GET", url) as r:
        assert r.status_code == 200 and len(r.history) == 1
        assert r.read() == payload(100)


def test_closing_mid_body_aborts_the_transfer(raw_server) -> None:
    """FLT-24: a stream closed mid-body discards its HTTP/1.1 connection."""
    closed = threading.Event()

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 100000)
        sock.settimeout(5)
        try:
            while sock.recv(1024):
                pass
            closed.set()
        except OSError:
            closed.set()

    srv = raw_server(handler)
    before = counters()
    with httpr.Client() as c:
        with c.stream("GET", f"{srv.url}/big") as r:
            assert next(r.iter_bytes())
        assert closed.wait(2)  # the HTTP/1.1 connection was discarded, not pooled
    assert counters() == before


def test_size_cap_in_streams(server) -> None:
    """SEC-08 in streams: never more than the cap delivered."""
    with httpr.Client(max_response_size=50000) as c:
        with pytest.raises(httpr.ResponseTooLarge):  # declared length: fails at entry
            with c.stream("GET", f"{server.url}/bytes?size=60000"):
                pass
        with c.stream("GET", f"{server.url}/chunked?size=60000&pieces=6") as r:
            got = 0
            with pytest.raises(httpr.ResponseTooLarge):
                for chunk in r.iter_bytes():
                    got += len(chunk)
            assert got <= 50000  # never more than the cap (amendment 1.13)
            assert r.is_closed  # after an error the stream is closed


def test_a_stream_outlives_its_client(server) -> None:
    before = counters()
    c = httpr.Client()
    with c.stream("GET", f"{server.url}/bytes?size=200000") as r:
        c.close()
        with pytest.raises(httpr.ClientClosed):
            c.get(f"{server.url}/bytes?size=1")
        assert r.read() == payload(200000)
    assert counters() == before  # the engine was released when the stream let go


def test_slow_reader_pauses_instead_of_buffering(server) -> None:
    """LD-06 (small, default run; 1 GiB: tests/stress/test_large_transfers.py): a slow
    reader pauses the transfer, RSS stays at the ring's size."""
    size = 48 * 1024 * 1024
    with httpr.Client(timeout=httpr.Timeout(5.0, read=0.2)) as c:
        with c.stream("GET", f"{server.url}/bytes?size={size}") as r:
            start_rss = rss_kib()
            peak = start_rss
            total = 0
            for i, chunk in enumerate(r.iter_bytes()):
                total += len(chunk)
                if i == 40:
                    time.sleep(0.5)  # longer than the read timeout: paused time is not idle
                if i % 64 == 0:
                    peak = max(peak, rss_kib())
    assert total == size
    assert peak - start_rss < 16 * 1024  # KiB: the 1 MiB ring, not the 48 MiB body


def test_module_stream_function(server) -> None:
    before = counters()
    with httpr.stream("GET", f"{server.url}/bytes?size=1000") as r:
        assert r.read() == payload(1000)
    assert counters() == before


def test_mock_transport_streams_the_handlers_content() -> None:
    mock = httpr.MockTransport(lambda req: httpr.Response(200, content=b"a\nb\n"))
    with httpr.Client(transport=mock) as c, c.stream("GET", "http://h.invalid/") as r:
        assert list(r.iter_lines()) == ["a\n", "b\n"]


# -- async -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_stream_iteration_and_read(server) -> None:
    async with httpr.AsyncClient() as c:
        async with c.stream("GET", f"{server.url}/bytes?size=300000") as r:
            assert isinstance(r, httpr.AsyncStreamingResponse)
            data = b"".join([chunk async for chunk in r.aiter_bytes()])
        assert data == payload(300000) and r.is_closed
        async with c.stream("GET", f"{server.url}/gzip?size=70000") as r:
            assert await r.aread() == payload(70000)
            assert r.content == payload(70000)
        async with c.stream("GET", f"{server.url}/chunked?size=5000&pieces=5") as r:
            lines = [line async for line in r.aiter_lines()]
        assert "".join(lines).encode() == payload(5000)


@pytest.mark.asyncio
async def test_async_stream_needs_async_with(server) -> None:
    async with httpr.AsyncClient() as c:
        with pytest.raises(TypeError, match="async with"):
            with c.stream("GET", server.url):
                pass


@pytest.mark.asyncio
async def test_cancelling_a_stream_read_aborts_and_frees_the_slot(server) -> None:
    async with httpr.AsyncClient(max_concurrency=1, timeout=httpr.Timeout(5.0, pool=0.2)) as c:
        await c.get(f"{server.url}/bytes?size=1")
        before = counters()

        async def reader() -> None:
            async with c.stream("GET", f"{server.url}/bytes?size=50000000") as r:
                async for _ in r.aiter_bytes():
                    await asyncio.sleep(0.01)

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(0.2)
        # The open stream holds the only slot: another request waits (pool phase).
        with pytest.raises(httpr.PoolTimeout):
            await c.get(f"{server.url}/bytes?size=1")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await c.get(f"{server.url}/bytes?size=5")).content == payload(5)
        deadline = time.monotonic() + 2
        while counters()["in_flight"] != before["in_flight"] and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert counters()["in_flight"] == before["in_flight"]


def test_blocking_methods_work_on_the_async_stream(server) -> None:
    async def run() -> Any:
        async with httpr.AsyncClient() as c:
            async with c.stream("GET", f"{server.url}/bytes?size=2000") as r:
                return r.read()  # blocks the loop, as in 0.7.8, but works

    assert asyncio.run(run()) == payload(2000)
