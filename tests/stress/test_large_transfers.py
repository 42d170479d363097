"""LD-06/07: 1 GiB streamed each way in bounded memory (security.md section 3, R7, design.md 4).

Marker `stress` (``make stress``), outside the default run; the default run has the small
versions (tests/client/test_streaming.py test_slow_reader_pauses_instead_of_buffering,
tests/client/test_streamed_uploads.py test_large_generator_upload_keeps_memory_bounded).
Each prints its figures (``-s``): peak RSS over the baseline (sampled from VmRSS during the
transfer) and MB/s. bench/memory.py measures the same in fresh processes (VmHWM).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import httpr
from tests.servers.app import TestServer
from tests.servers.raw import read_request_head

pytestmark = pytest.mark.stress

GIB = 1024 * 1024 * 1024
MIB = 1024 * 1024
# security.md LD-06/07: peak RSS over baseline below this.
RSS_LIMIT = 64 * MIB
# LD-06: the reader sleeps this long per chunk.
READER_SLEEP_SECONDS = 0.001
# Chunks between two RSS samples.
SAMPLE_EVERY = 16
BLOCK = bytes(range(256)) * 256  # 64 KiB


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")  # Defensive: Linux always has it


class Peak:
    def __init__(self) -> None:
        self.base = rss_bytes()
        self.peak = self.base

    def sample(self) -> None:
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.base


def report(name: str, peak: Peak, nbytes: int, seconds: float) -> None:
    print(
        f"\n{name}: {nbytes / MIB:.0f} MiB in {seconds:.1f} s = {nbytes / MIB / seconds:.0f} MB/s;"
        f" peak RSS over baseline {peak.growth / MIB:.1f} MiB (limit {RSS_LIMIT / MIB:.0f})"
    )


@pytest.mark.timeout(180)
def test_ld06_one_gib_download_to_a_slow_reader(server: TestServer) -> None:
    """LD-06: 1 GiB downloaded by a reader sleeping 1 ms per chunk: RSS stays bounded (ring
    plus pause, no queue), every byte arrives."""
    with httpr.Client(timeout=httpr.Timeout(30.0)) as c:
        c.get(f"{server.url}/bytes?size=1")  # engine, thread and connection exist already
        peak = Peak()
        total = 0
        start = time.perf_counter()
        with c.stream("GET", f"{server.url}/bytes?size={GIB}") as r:
            for i, chunk in enumerate(r.iter_bytes()):
                total += len(chunk)
                time.sleep(READER_SLEEP_SECONDS)
                if i % SAMPLE_EVERY == 0:
                    peak.sample()
        elapsed = time.perf_counter() - start
    report("LD-06 download", peak, total, elapsed)
    assert total == GIB
    assert peak.growth < RSS_LIMIT


@pytest.mark.timeout(180)
@pytest.mark.asyncio
async def test_ld06_one_gib_download_to_a_slow_async_reader(server: TestServer) -> None:
    """LD-06 for AsyncClient: the same, the reader awaiting 1 ms per chunk."""
    async with httpr.AsyncClient(timeout=httpr.Timeout(30.0)) as c:
        await c.get(f"{server.url}/bytes?size=1")
        peak = Peak()
        total = 0
        start = time.perf_counter()
        async with c.stream("GET", f"{server.url}/bytes?size={GIB}") as r:
            i = 0
            async for chunk in r.aiter_bytes():
                total += len(chunk)
                await asyncio.sleep(READER_SLEEP_SECONDS)
                if i % SAMPLE_EVERY == 0:
                    peak.sample()
                i += 1
        elapsed = time.perf_counter() - start
    report("LD-06 async download", peak, total, elapsed)
    assert total == GIB
    assert peak.growth < RSS_LIMIT


def _counting_sink(received: list[int]) -> Any:
    """Reads a chunked upload to its end, counting wire bytes, then answers the count."""

    def handler(sock: socket.socket) -> None:
        head = read_request_head(sock)
        assert b"chunked" in head.lower()
        sock.settimeout(30)
        n, tail = 0, b""
        while not tail.endswith(b"\r\n0\r\n\r\n"):
            data = sock.recv(1 << 20)
            if not data:
                break
            n, tail = n + len(data), (tail + data)[-16:]
        received.append(n)
        body = str(n).encode()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    return handler


@pytest.mark.timeout(180)
def test_ld07_one_gib_generator_upload(raw_server: Any) -> None:
    """LD-07: 1 GiB from a generator goes out chunked in bounded memory."""
    received: list[int] = []
    srv = raw_server(_counting_sink(received))
    peak = Peak()

    def parts() -> Iterator[bytes]:
        for i in range(GIB // len(BLOCK)):
            if i % SAMPLE_EVERY == 0:
                peak.sample()
            yield BLOCK

    with httpr.Client(timeout=httpr.Timeout(30.0)) as c:
        start = time.perf_counter()
        r = c.post(f"{srv.url}/up", content=parts())
        elapsed = time.perf_counter() - start
    report("LD-07 upload", peak, GIB, elapsed)
    assert r.status_code == 200
    assert received and received[0] >= GIB  # chunk framing adds a little
    assert peak.growth < RSS_LIMIT


@pytest.mark.timeout(180)
@pytest.mark.asyncio
async def test_ld07_one_gib_async_generator_upload(raw_server: Any) -> None:
    """LD-07 for AsyncClient: 1 GiB from an async generator, bounded memory."""
    received: list[int] = []
    srv = raw_server(_counting_sink(received))
    peak = Peak()

    async def parts() -> AsyncIterator[bytes]:
        for i in range(GIB // len(BLOCK)):
            if i % SAMPLE_EVERY == 0:
                peak.sample()
            yield BLOCK

    async with httpr.AsyncClient(timeout=httpr.Timeout(30.0)) as c:
        start = time.perf_counter()
        r = await c.post(f"{srv.url}/up", content=parts())
        elapsed = time.perf_counter() - start
    report("LD-07 async upload", peak, GIB, elapsed)
    assert r.status_code == 200
    assert received and received[0] >= GIB
    assert peak.growth < RSS_LIMIT
