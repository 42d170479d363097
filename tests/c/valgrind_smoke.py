"""The transport smoke test `make valgrind` runs under valgrind (issue 8, LD-08).

Not a pytest module: a plain script, so valgrind sees one short process. It drives csrc/
through every path a client uses, sync and async, against loopback servers: pooled GETs on
recycled records, a buffered POST, a generator upload (upload ring), a streamed download
with back-pressure (stream ring, pause/unpause), HEAD, gzip, a framing error, a read
timeout and a cancelled stream. It exits 0 only when every step gave the expected outcome
and the C layer's live-object counters are back at their baseline; valgrind's own exit
status (--error-exitcode) reports memory errors and definite leaks.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpr  # noqa: E402
from httpr._curl import counters  # noqa: E402
from tests.servers.app import TestServer, payload  # noqa: E402
from tests.servers.raw import RawServer, serve_bytes  # noqa: E402

TIMEOUT = 30.0  # valgrind slows everything ~30x: generous, but bounded
STREAM_BYTES = 3 * 1024 * 1024  # three times the stream ring: the transfer must pause
UPLOAD_BYTES = 2 * 1024 * 1024


def _pieces() -> Iterator[bytes]:
    piece = b"u" * (256 * 1024)
    for _ in range(UPLOAD_BYTES // len(piece)):
        yield piece


def sync_steps(base: str, raw_url: str) -> None:
    with httpr.Client(timeout=TIMEOUT) as c:
        for _ in range(5):
            assert c.get(f"{base}/bytes?size=1000").content == payload(1000)
        assert c.post(f"{base}/echo", content=b"x" * 100_000).status_code == 200
        assert c.post(f"{base}/echo", content=_pieces()).status_code == 200
        with c.stream("GET", f"{base}/bytes?size={STREAM_BYTES}") as r:
            assert sum(len(b) for b in r.iter_bytes()) == STREAM_BYTES
        with c.stream("GET", f"{base}/bytes?size={STREAM_BYTES}") as r:
            next(r.iter_bytes())  # closed after one chunk: the transfer is cancelled
        assert c.head(f"{base}/bytes?size=10").status_code == 200
        assert c.get(f"{base}/gzip").status_code == 200
        try:
            c.get(f"{raw_url}/x")
        except httpr.RemoteProtocolError:
            pass
        else:
            raise AssertionError("conflicting Content-Length was accepted")
        try:
            c.get(f"{base}/delay?s=5", timeout=httpr.Timeout(TIMEOUT, read=0.5))
        except httpr.ReadTimeout:
            pass
        else:
            raise AssertionError("no read timeout")


async def async_steps(base: str) -> None:
    async with httpr.AsyncClient(timeout=TIMEOUT) as c:
        got = await asyncio.gather(*(c.get(f"{base}/bytes?size=500") for _ in range(4)))
        assert all(r.content == payload(500) for r in got)
        async with c.stream("GET", f"{base}/bytes?size={STREAM_BYTES}") as r:
            total = 0
            async for chunk in r.aiter_bytes():
                total += len(chunk)
            assert total == STREAM_BYTES


def main() -> int:
    before = counters()
    bad_framing = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc"
    raw = RawServer(serve_bytes(bad_framing)).start()
    try:
        with TestServer() as srv:
            sync_steps(srv.url, raw.url)
            asyncio.run(async_steps(srv.url))
    finally:
        raw.stop()
    after = counters()
    if after != before:
        print(f"valgrind smoke: live C objects {before} -> {after}", file=sys.stderr)
        return 1
    print(f"valgrind smoke: ok, counters {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
