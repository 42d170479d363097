"""Server faults from the raw server (security.md section 3 "Server faults", R10, R15).

Each test names its checklist ID. A raw server writes the exact bytes; the client (Client,
AsyncClient on asyncio and uvloop) must raise the exception design.md section 10 names, on
time (``assert_on_time`` for a deadline, PROMPT_SECONDS for a fault that needs none), with
exactly one terminal state per transfer: one exception naming ``METHOD URL``, no transfer
left in flight in the C layer, and the client usable for the next request.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable

import pytest

import httpr
from httpr._curl import counters
from tests.conftest import LONG_TIMEOUT, SHORT_TIMEOUT, assert_on_time
from tests.servers.app import TestServer, payload
from tests.servers.raw import (
    RawServer,
    hold,
    read_request_head,
    reset,
    serve_bytes,
)

RawServerFactory = Callable[[Callable[[socket.socket], None]], RawServer]

# A fault that needs no deadline (a close, a reset, a malformed reply) is reported within
# this; everything here happens on loopback.
PROMPT_SECONDS = 1.0
# How long the in-flight counter may take to drop after the exception reached the caller.
SETTLE_SECONDS = 2.0
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def settle_in_flight(baseline: int) -> int:
    deadline = time.monotonic() + SETTLE_SECONDS
    while counters()["in_flight"] != baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    return counters()["in_flight"]


def expect_fault(
    make_client: Any,
    server: TestServer,
    url: str,
    error: type[Exception],
    *,
    read_timeout: float | None = None,
    within: float = PROMPT_SECONDS,
) -> tuple[Exception, float]:
    """GET `url`, expecting exactly `error` (not a subclass or sibling): on time, one terminal
    state (nothing left in flight), the client usable after. Returns (exception, elapsed)."""
    timeout = httpr.Timeout(LONG_TIMEOUT, read=read_timeout)
    baseline = counters()["in_flight"]
    with make_client(timeout=timeout) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.HTTPError) as info:
            c.get(url)
        elapsed = time.perf_counter() - start
        assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
        assert f"GET {url}" in str(info.value)
        if read_timeout is not None:
            assert_on_time(elapsed, read_timeout)
        else:
            assert elapsed < within, f"took {elapsed:.3f} s"
        assert settle_in_flight(baseline) == baseline
        assert c.get(f"{server.url}/bytes?size=10").content == payload(10)
    return info.value, elapsed


# -- no reply, cut heads (FLT-01/02) -------------------------------------------------------------


def test_close_without_a_reply(make_client: Any, raw_server: RawServerFactory, server) -> None:
    """FLT-01: the server reads the request and closes (FIN) without a byte:
    RemoteProtocolError (libcurl's 52), promptly."""
    srv = raw_server(serve_bytes(b"", then="close"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.RemoteProtocolError)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"HTTP/1.1 20", id="in-status-line"),
        pytest.param(b"HTTP/1.1 200 OK\r\n", id="after-status-line"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: b\r\n", id="after-a-header"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", id="after-content-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: b\r\n\r", id="in-blank-line"),
    ],
)
def test_close_mid_head(make_client: Any, raw_server: RawServerFactory, server, reply) -> None:
    """FLT-02: a head cut before its blank line, then FIN: RemoteProtocolError (7.88 returns 0
    here; the C layer reports FRAMING), never a response."""
    srv = raw_server(serve_bytes(reply, then="close"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.RemoteProtocolError)


# -- short bodies (FLT-03/04) ----------------------------------------------------------------------

SHORT_BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\n12 bytes 12"


def test_short_body_then_close(make_client: Any, raw_server: RawServerFactory, server) -> None:
    """FLT-03: Content-Length 22, 12 bytes, then FIN: RemoteProtocolError (libcurl's 18),
    never a 12-byte success."""
    srv = raw_server(serve_bytes(SHORT_BODY, then="close"))
    error, _ = expect_fault(make_client, server, f"{srv.url}/x", httpr.RemoteProtocolError)
    assert "12 bytes 12" not in str(error)


def test_short_body_then_close_in_a_stream(raw_server: RawServerFactory) -> None:
    """FLT-03 in a stream: the 12 bytes may be delivered, then the error; never a clean end."""
    srv = raw_server(serve_bytes(SHORT_BODY, then="close"))
    got = bytearray()
    with httpr.Client(timeout=LONG_TIMEOUT) as c, c.stream("GET", f"{srv.url}/x") as r:
        with pytest.raises(httpr.RemoteProtocolError):
            for chunk in r.iter_bytes():
                got += chunk
    assert bytes(got) in (b"", b"12 bytes 12")


def test_short_body_left_open(make_client: Any, raw_server: RawServerFactory, server) -> None:
    """FLT-04: Content-Length 22, 12 bytes, the socket left open: ReadTimeout on time."""
    srv = raw_server(serve_bytes(SHORT_BODY, then="hold"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.ReadTimeout, read_timeout=SHORT_TIMEOUT)


# -- chunked faults (FLT-05/06/07) -------------------------------------------------------------

CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"5\r\nhel", id="in-chunk-data"),
        pytest.param(b"5\r\nhello\r\n", id="no-final-chunk"),
        pytest.param(b"5\r\nhello\r\n0\r\n", id="no-final-blank-line"),
        pytest.param(b"5", id="in-chunk-size"),
    ],
)
def test_chunked_cut_short(make_client: Any, raw_server: RawServerFactory, server, body) -> None:
    """FLT-05: a chunked body cut short, then FIN: RemoteProtocolError (18), promptly."""
    srv = raw_server(serve_bytes(CHUNKED_HEAD + body, then="close"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.RemoteProtocolError)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"zz\r\nhello\r\n0\r\n\r\n", id="zz"),
        pytest.param(b"F" * 17 + b"\r\nhello\r\n0\r\n\r\n", id="17xF"),
        pytest.param(b"-5\r\nhello\r\n0\r\n\r\n", id="negative"),
    ],
)
def test_malformed_chunk_size(make_client: Any, raw_server: RawServerFactory, server, body) -> None:
    """FLT-06: chunk size `zz`, 17 x `F` (over 64 bits): RemoteProtocolError (libcurl's 56
    "... in chunked-encoding"), not a ReadError."""
    srv = raw_server(serve_bytes(CHUNKED_HEAD + body, then="hold"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.RemoteProtocolError)


def test_no_final_chunk_socket_open(make_client: Any, raw_server: RawServerFactory, server) -> None:
    """FLT-07: chunks, no final chunk, the socket left open: ReadTimeout on time."""
    srv = raw_server(serve_bytes(CHUNKED_HEAD + b"5\r\nhello\r\n", then="hold"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.ReadTimeout, read_timeout=SHORT_TIMEOUT)


# -- framing (FLT-08) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            id="two-content-lengths",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!", id="cl-list"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 5abc\r\n\r\nhello", id="5abc"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello", id="negative"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n",
            id="chunked-and-cl",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n",
            id="cl-and-chunked",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n",
            id="chunked-chunked",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
            b"\r\n5\r\nhello\r\n0\r\n\r\n",
            id="chunked-twice",
        ),
    ],
)
def test_ambiguous_framing(make_client: Any, raw_server: RawServerFactory, server, reply) -> None:
    """FLT-08: conflicting or malformed framing is RemoteProtocolError (FRAMING, checked in
    C, so every libcurl version agrees), never a body."""
    srv = raw_server(serve_bytes(reply, then="hold"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.RemoteProtocolError)


# -- bad status lines and headers (FLT-09/10) -----------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"HTTP/1.1 abc\r\nContent-Length: 0\r\n\r\n", id="status-abc"),
        pytest.param(b"garbage that is not http\r\n\r\n", id="garbage"),
        pytest.param(b"HTTP/9.9 200 OK\r\nContent-Length: 0\r\n\r\n", id="HTTP/9.9"),
        pytest.param(b"<html>an HTTP/0.9 reply</html>", id="HTTP/0.9"),
    ],
)
def test_bad_status_line(make_client: Any, raw_server: RawServerFactory, server, reply) -> None:
    """FLT-09: `HTTP/1.1 abc`, garbage, `HTTP/9.9`, an HTTP/0.9 reply: RemoteProtocolError
    (libcurl's 8 or 1; HTTP09_ALLOWED is 0)."""
    srv = raw_server(serve_bytes(reply, then="close"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.RemoteProtocolError)


def test_header_without_colon(make_client: Any, raw_server: RawServerFactory, server) -> None:
    """FLT-10: a header line without a colon: RemoteProtocolError, not a response."""
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nNoColonHere\r\n\r\nok"
    srv = raw_server(serve_bytes(reply, then="close"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.RemoteProtocolError)


# -- header caps (FLT-11/12) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(b"X-Big: " + b"a" * (100 * 1024) + b"\r\n", id="one-100KiB-header"),
        pytest.param(
            b"".join(b"X-%03d: %s\r\n" % (i, b"b" * 4000) for i in range(100)),
            id="400KiB-of-headers",
        ),
    ],
)
def test_oversized_headers(
    make_client: Any, raw_server: RawServerFactory, server, headers: bytes
) -> None:
    """FLT-11: one 100 KiB header (7.88: 27), 400 KiB of headers (our 256 KiB cap):
    RemoteProtocolError."""
    srv = raw_server(serve_bytes(b"HTTP/1.1 200 OK\r\n" + headers + b"\r\n", then="close"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.RemoteProtocolError)


def test_twenty_thousand_headers(make_client: Any, raw_server: RawServerFactory, server) -> None:
    """FLT-12: 20,000 header lines: RemoteProtocolError from the C cap of 1,000 lines."""
    lines = b"".join(b"X-%d: y\r\n" % i for i in range(20000))
    srv = raw_server(serve_bytes(b"HTTP/1.1 200 OK\r\n" + lines + b"\r\n", then="close"))
    error, _ = expect_fault(make_client, server, f"{srv.url}/x", httpr.RemoteProtocolError)
    assert "1000 lines" in str(error)


# -- resets and refusals (FLT-13/14/19) -----------------------------------------------------------


def _reset_after(data: bytes) -> Callable[[socket.socket], None]:
    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        if data:
            sock.sendall(data)
            time.sleep(0.05)  # let the client read what was sent before the RST
        reset(sock)

    return handler


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="before-the-head"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000, id="mid-body"
        ),
    ],
)
def test_reset(make_client: Any, raw_server: RawServerFactory, server, data: bytes) -> None:
    """FLT-13: an RST before the head or mid-body: ReadError (56), both."""
    srv = raw_server(_reset_after(data))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.ReadError)


def test_connection_refused(make_client: Any, server) -> None:
    """FLT-14: a refused connection is ConnectError (7), within 100 ms."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    expect_fault(make_client, server, f"http://127.0.0.1:{port}/x", httpr.ConnectError, within=0.1)


# The lookup of FLT-19 runs in a network namespace of its own (``unshare -n``: only a
# loopback that is down), so the query for the name never leaves this machine.
_UNRESOLVABLE = """
import asyncio, json, sys, time
import httpr

URL = "http://nonexistent.invalid/x"

def sync():
    with httpr.Client(timeout=5) as c:
        c.get(URL)

async def run_async():
    async with httpr.AsyncClient(timeout=5) as c:
        await c.get(URL)

out = []
for name, call in (("sync", sync), ("async", lambda: asyncio.run(run_async()))):
    start = time.monotonic()
    try:
        call()
        out.append([name, "no error", "", 0.0])
    except Exception as e:
        out.append([name, type(e).__name__, str(e), time.monotonic() - start])
print(json.dumps(out))
"""


def test_unresolvable_name() -> None:
    """FLT-19: `nonexistent.invalid` (RFC 6761: never resolves) is ConnectError (6), not a
    timeout; the lookup fails well before the connect deadline. Client and AsyncClient, in
    a network namespace without a route out (no DNS query leaves the machine)."""
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -n is not allowed here (needs root or user namespaces)")
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", _UNRESOLVABLE],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert [r[0] for r in results] == ["sync", "async"]
    for _, kind, message, elapsed in results:
        assert kind == "ConnectError", (kind, message)
        assert "nonexistent.invalid" in message
        assert "GET http://nonexistent.invalid/x" in message
        assert elapsed < 3.0


# -- replies without a body, 1xx (FLT-21/22) ------------------------------------------------------


def _two_replies(first: bytes, accepted: list[bytes]) -> Callable[[socket.socket], None]:
    """Answers the first request with `first`, the second (same connection) with OK."""

    def handler(sock: socket.socket) -> None:
        for reply in (first, OK):
            head = read_request_head(sock)
            if not head:
                return
            accepted.append(head)
            sock.sendall(reply)
        hold(sock, LONG_TIMEOUT)

    return handler


@pytest.mark.parametrize(
    ("method", "reply", "status"),
    [
        pytest.param("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 200, id="HEAD-cl"),
        pytest.param(
            "HEAD",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            200,
            id="HEAD-chunked",
        ),
        pytest.param("GET", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 204, id="204"),
        pytest.param(
            "GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5000\r\n\r\n", 304, id="304"
        ),
        pytest.param(
            "GET",
            b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            304,
            id="304-chunked",
        ),
    ],
)
def test_bodiless_replies_with_framing_headers(
    make_client: Any, raw_server: RawServerFactory, method: str, reply: bytes, status: int
) -> None:
    """FLT-21: HEAD, 204 and 304 carrying framing headers end at the blank line: prompt
    (< 1 s), empty, and the next response on the same connection is intact."""
    heads: list[bytes] = []
    srv = raw_server(_two_replies(reply, heads))
    with make_client(timeout=LONG_TIMEOUT) as c:
        start = time.perf_counter()
        r = c.request(method, f"{srv.url}/first")
        assert time.perf_counter() - start < PROMPT_SECONDS
        assert (r.status_code, r.content) == (status, b"")
        second = c.get(f"{srv.url}/second")
        assert (second.status_code, second.content) == (200, b"ok")
    assert srv.connections_accepted == 1  # the same connection served both
    assert [h.split(b" ")[1] for h in heads] == [b"/first", b"/second"]


def test_informational_replies_before_the_final_one(
    make_client: Any, raw_server: RawServerFactory
) -> None:
    """FLT-22: 100 and 103 before a 200: the 200 is the response, the 1xx headers are not
    merged into it, prompt, and the next response is intact."""
    reply = (
        b"HTTP/1.1 100 Continue\r\nX-From-100: a\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: 1\r\n\r\nfinal"
    )
    srv = raw_server(_two_replies(reply, []))
    with make_client(timeout=LONG_TIMEOUT) as c:
        start = time.perf_counter()
        r = c.get(f"{srv.url}/first")
        assert time.perf_counter() - start < PROMPT_SECONDS
        assert (r.status_code, r.content) == (200, b"final")
        assert r.headers["x-final"] == "1"
        assert "link" not in r.headers and "x-from-100" not in r.headers
        assert c.get(f"{srv.url}/second").content == b"ok"
    assert srv.connections_accepted == 1


# -- bad content-coding (FLT-23) -----------------------------------------------------------------

BAD_GZIP = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 32


def test_bad_gzip(make_client: Any, server) -> None:
    """FLT-23: a corrupt gzip body is DecodingError (61)."""
    expect_fault(make_client, server, f"{server.url}/gzip-bad", httpr.DecodingError)


def test_bad_gzip_on_a_redirect_response(
    make_client: Any, raw_server: RawServerFactory, server
) -> None:
    """FLT-23 on a redirect hop: a 302 whose own body is corrupt gzip is DecodingError, as
    every hop's body is decoded (and capped) in C."""
    reply = (
        b"HTTP/1.1 302 Found\r\nLocation: %s/bytes?size=10\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (server.url.encode(), len(BAD_GZIP), BAD_GZIP)
    )
    srv = raw_server(serve_bytes(reply, then="hold"))
    expect_fault(make_client, server, f"{srv.url}/x", httpr.DecodingError)


def test_good_gzip_on_a_redirect_response_is_followed(
    make_client: Any, raw_server: RawServerFactory, server
) -> None:
    """The control for FLT-23's redirect case: a valid gzip body on the 302 is followed."""
    body = gzip.compress(b"moved")
    reply = (
        b"HTTP/1.1 302 Found\r\nLocation: %s/bytes?size=10\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (server.url.encode(), len(body), body)
    )
    srv = raw_server(serve_bytes(reply, then="hold"))
    with make_client(timeout=LONG_TIMEOUT) as c:
        r = c.get(f"{srv.url}/x")
    assert r.content == payload(10) and [h.status_code for h in r.history] == [302]


# -- dropped streams and cancellation (FLT-24/26) -------------------------------------------------

STREAM_DECLARED = 100 * 1024 * 1024


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle_fds(baseline: int) -> int:
    deadline = time.monotonic() + SETTLE_SECONDS
    while open_fds() > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    return open_fds()


def _endless_body(closed: threading.Event) -> Callable[[socket.socket], None]:
    """Declares 100 MiB and sends it 64 KiB at a time until the client goes away."""

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        try:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % STREAM_DECLARED)
            block = b"x" * 65536
            for _ in range(STREAM_DECLARED // len(block)):
                sock.sendall(block)
        except OSError:
            closed.set()

    return handler


def test_stream_dropped_after_1kib(raw_server: RawServerFactory, server) -> None:
    """FLT-24: a stream closed after 1 KiB of 100 MiB: the HTTP/1.1 connection is discarded
    (the server sees it go), fds and live transfers are back at baseline, and the next
    request works. (HTTP/2: tests/http2 test_cancel_resets_stream_and_keeps_http2_connection.)"""
    closed = threading.Event()
    srv = raw_server(_endless_body(closed))
    with httpr.Client(timeout=LONG_TIMEOUT) as c:
        assert c.get(f"{server.url}/bytes?size=1").status_code == 200
        baseline, fds = counters(), open_fds()
        with c.stream("GET", f"{srv.url}/big") as r:
            first = next(r.iter_bytes(chunk_size=1024))
            assert len(first) == 1024
        assert closed.wait(LONG_TIMEOUT), "the dropped connection was kept"
        assert settle_in_flight(baseline["in_flight"]) == baseline["in_flight"]
        assert settle_fds(fds + 1) <= fds + 1  # at most the pooled connection to `server`
        assert c.get(f"{server.url}/bytes?size=10").content == payload(10)
    assert srv.connections_accepted == 1


@pytest.mark.asyncio
async def test_async_stream_dropped_after_1kib(raw_server: RawServerFactory, server) -> None:
    """FLT-24 for AsyncClient: leaving `async with` after 1 KiB discards the connection."""
    closed = threading.Event()
    srv = raw_server(_endless_body(closed))
    async with httpr.AsyncClient(timeout=LONG_TIMEOUT) as c:
        assert (await c.get(f"{server.url}/bytes?size=1")).status_code == 200
        baseline, fds = counters(), open_fds()
        async with c.stream("GET", f"{srv.url}/big") as r:
            async for chunk in r.aiter_bytes(chunk_size=1024):
                assert len(chunk) == 1024
                break
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, closed.wait, LONG_TIMEOUT)
        assert (
            await loop.run_in_executor(None, settle_in_flight, baseline["in_flight"])
            == (baseline["in_flight"])
        )
        assert await loop.run_in_executor(None, settle_fds, fds + 1) <= fds + 1
        assert (await c.get(f"{server.url}/bytes?size=10")).content == payload(10)


def _unanswered_listener() -> tuple[socket.socket, list[socket.socket]]:
    """A listener whose accept queue is full: a new connect neither completes nor fails."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    for _ in range(16):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
        probe = socket.socket()
        probe.setblocking(False)
        probe.connect_ex(("127.0.0.1", port))
        _, writable, _ = select.select([], [probe], [], 0.1)
        probe.close()
        if not writable:
            return listener, fillers
    for s in [listener, *fillers]:
        s.close()
    pytest.skip("cannot stall a connect on this kernel")


def _slow_body(sock: socket.socket) -> None:
    """A head declaring 100 MiB, then 1 KiB every 10 ms (for at most LONG_TIMEOUT)."""
    read_request_head(sock)
    try:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % STREAM_DECLARED)
        for _ in range(int(LONG_TIMEOUT / 0.01)):
            sock.sendall(b"x" * 1024)
            time.sleep(0.01)
    except OSError:
        pass


@pytest.mark.asyncio
@pytest.mark.parametrize("phase", ["connect", "headers", "body"])
async def test_cancel_in_each_phase(raw_server: RawServerFactory, server, phase: str) -> None:
    """FLT-26: cancelling a request in connect, while waiting for the head, or mid-body
    raises CancelledError within 100 ms of the cancel, aborts the transfer (nothing in
    flight, fds at baseline) and leaves the client usable. Ctrl-C: test_client_basic.py
    test_ctrl_c_interrupts_and_cancels_the_transfer."""
    to_close: list[socket.socket] = []
    if phase == "connect":
        listener, fillers = _unanswered_listener()
        to_close = [listener, *fillers]
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/x"
    elif phase == "headers":
        url = f"{raw_server(serve_bytes(b'', then='hold')).url}/x"
    else:
        url = f"{raw_server(_slow_body).url}/x"
    try:
        async with httpr.AsyncClient(timeout=LONG_TIMEOUT) as c:
            assert (await c.get(f"{server.url}/bytes?size=1")).status_code == 200
            baseline, fds = counters(), open_fds()
            task = asyncio.ensure_future(c.get(url))
            await asyncio.sleep(0.2)
            assert not task.done()
            start = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.perf_counter() - start < 0.1
            loop = asyncio.get_running_loop()
            assert (
                await loop.run_in_executor(None, settle_in_flight, baseline["in_flight"])
                == (baseline["in_flight"])
            )
            assert await loop.run_in_executor(None, settle_fds, fds) <= fds
            assert (await c.get(f"{server.url}/bytes?size=10")).content == payload(10)
    finally:
        for s in to_close:
            s.close()
