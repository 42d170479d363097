"""max_response_size (api.md 13, R6, amendment 1.13): the cap counts decoded bytes; a declared
length over it fails before the body; the user never receives more than the cap."""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from typing import Any

import pytest

import httpr
from tests.servers.app import payload
from tests.servers.raw import read_request_head, serve_bytes

CAP = 64 * 1024


def test_body_under_the_cap_passes(make_client: Any, server) -> None:
    with make_client(max_response_size=CAP) as c:
        assert c.get(f"{server.url}/bytes?size={CAP}").content == payload(CAP)


def test_declared_length_over_the_cap_fails_before_the_body(make_client: Any, raw_server) -> None:
    """SEC-08: a declared length over the cap fails from the head alone."""

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n")
        time.sleep(0.2)  # the body never comes: the head alone must decide

    srv = raw_server(handler)
    with make_client(max_response_size=CAP) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ResponseTooLarge, match=f"max_response_size={CAP}"):
            c.get(f"{srv.url}/big")
        assert time.perf_counter() - start < 0.15


def test_chunked_body_crossing_the_cap(make_client: Any, server) -> None:
    """SEC-08: a chunked body crossing the cap is ResponseTooLarge."""
    with make_client(max_response_size=CAP) as c:
        with pytest.raises(httpr.ResponseTooLarge):
            c.get(f"{server.url}/chunked?size={CAP + 1}&pieces=9")
        assert c.get(f"{server.url}/bytes?size=10").status_code == 200  # still usable


def test_decompression_bomb_is_capped_on_decoded_bytes(make_client: Any, raw_server) -> None:
    """SEC-08: a 64 MiB gzip bomb is capped on decoded bytes."""
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros, ~64 KiB on the wire

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        sock.sendall(head % len(bomb) + bomb)

    srv = raw_server(handler)
    with make_client(max_response_size=CAP) as c:
        with pytest.raises(httpr.ResponseTooLarge):
            c.get(f"{srv.url}/bomb")


def test_head_response_with_a_large_declared_length_is_fine(make_client: Any, server) -> None:
    # amendment 2.7: the early check never applies to HEAD (no body follows).
    with make_client(max_response_size=10) as c:
        r = c.head(f"{server.url}/bytes?size=5000")
    assert r.status_code == 200 and r.headers["content-length"] == "5000"


# -- SEC-08: a 10 MiB cap against endless and bombed bodies, on every hop -----------------------

SEC08_CAP = 10 * 1024 * 1024
# A body that must be stopped early is given at most this long to be refused.
ABORT_SECONDS = 3.0
# The servers below stop on their own after this many bytes of *source* (decoded) data.
SOURCE_LIMIT = 1024 * 1024 * 1024
BLOCK = 1024 * 1024


def _gzip_bomb_handler(status_line: bytes, extra: bytes = b"") -> Any:
    """A chunked gzip stream of zeros compressed on the fly, up to 1 GiB decoded (a 10 GiB
    bomb is the same shape, only longer: the client must stop at the cap either way).
    `sent` counts compressed bytes written before the client went away."""
    sent = [0]

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        head = b"%s\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n%s\r\n"
        try:
            sock.sendall(head % (status_line, extra))
            z = zlib.compressobj(9, zlib.DEFLATED, 31)
            zeros = bytes(BLOCK)
            for _ in range(SOURCE_LIMIT // BLOCK):
                out = z.compress(zeros)
                if out:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(out), out))
                    sent[0] += len(out)
            out = z.flush()
            sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(out), out))
        except OSError:
            pass  # the client stopped reading: what the test wants

    handler.sent = sent  # type: ignore[attr-defined]
    return handler


def _endless_chunked(sock: socket.socket) -> None:
    """Chunks of 64 KiB without end (bounded: 1 GiB), no content-coding."""
    read_request_head(sock)
    try:
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
        for _ in range(SOURCE_LIMIT // 65536):
            sock.sendall(chunk)
    except OSError:
        pass


@pytest.mark.parametrize(
    ("status_line", "extra"),
    [
        pytest.param(b"HTTP/1.1 200 OK", b"", id="200"),
        pytest.param(b"HTTP/1.1 302 Found", b"Location: /elsewhere\r\n", id="302"),
        pytest.param(b"HTTP/1.1 500 Internal Server Error", b"", id="500"),
    ],
)
def test_gzip_bomb_capped_on_every_hop(
    make_client: Any, raw_server, status_line: bytes, extra: bytes
) -> None:
    """SEC-08: gzip zeros (1 GiB decoded, ~1 MiB on the wire) under a 10 MiB cap are
    ResponseTooLarge on a 200, a 302 (the redirect's own body) and a 500, aborted early:
    the server could send only a small part of its compressed stream."""
    handler = _gzip_bomb_handler(status_line, extra)
    srv = raw_server(handler)
    with make_client(max_response_size=SEC08_CAP, timeout=5.0) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ResponseTooLarge):
            c.get(f"{srv.url}/bomb")
        assert time.perf_counter() - start < ABORT_SECONDS
    # 10 MiB of zeros is ~10 KiB of gzip; allow socket buffers on top, far below 1 MiB.
    assert handler.sent[0] < 512 * 1024, handler.sent[0]


def test_gzip_bomb_in_a_stream_delivers_at_most_the_cap(raw_server) -> None:
    """SEC-08 in a stream: the user receives at most the cap, then ResponseTooLarge."""
    srv = raw_server(_gzip_bomb_handler(b"HTTP/1.1 200 OK"))
    got = 0
    with httpr.Client(max_response_size=SEC08_CAP, timeout=5.0) as c:
        with c.stream("GET", f"{srv.url}/bomb") as r:
            with pytest.raises(httpr.ResponseTooLarge):
                for chunk in r.iter_bytes():
                    got += len(chunk)
    assert SEC08_CAP - 2 * BLOCK <= got <= SEC08_CAP


def test_endless_chunked_body_is_capped(make_client: Any, raw_server) -> None:
    """SEC-08: an endless chunked body (no declared length) stops at the cap: ResponseTooLarge,
    promptly, and the client is usable after."""
    srv = raw_server(_endless_chunked)
    with make_client(max_response_size=SEC08_CAP, timeout=5.0) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ResponseTooLarge):
            c.get(f"{srv.url}/endless")
        assert time.perf_counter() - start < ABORT_SECONDS


def test_one_gib_plain_body_is_refused_by_its_declared_length(make_client: Any, server) -> None:
    """SEC-08: a 1 GiB plain body under a 10 MiB cap fails from its Content-Length, before
    the body is read (the early check in the C header callback)."""
    with make_client(max_response_size=SEC08_CAP, timeout=5.0) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ResponseTooLarge):
            c.get(f"{server.url}/bytes?size={1024 * 1024 * 1024}")
        assert time.perf_counter() - start < 0.5
        assert c.get(f"{server.url}/bytes?size=10").content == payload(10)


# -- SEC-09: more than five stacked content-codings ----------------------------------------------


def _stacked(count: int, *, one_header: bool) -> bytes:
    body = b"hello"
    for _ in range(count):
        body = gzip.compress(body)
    if one_header:
        coding = b"Content-Encoding: " + b", ".join([b"gzip"] * count) + b"\r\n"
    else:
        coding = b"Content-Encoding: gzip\r\n" * count
    head = b"HTTP/1.1 200 OK\r\n" + coding + b"Content-Length: %d\r\n\r\n" % len(body)
    return head + body


@pytest.mark.parametrize("one_header", [True, False], ids=["one-header", "six-headers"])
def test_six_stacked_encodings_are_a_decoding_error(
    make_client: Any, raw_server, one_header: bool
) -> None:
    """SEC-09: six stacked gzip codings, in one header or across six, are DecodingError;
    five are still decoded (the limit is libcurl's MAX_ENCODE_STACK, 5 in 7.88)."""
    six = raw_server(serve_bytes(_stacked(6, one_header=one_header)))
    five = raw_server(serve_bytes(_stacked(5, one_header=one_header)))
    with make_client(timeout=5.0) as c:
        with pytest.raises(httpr.DecodingError):
            c.get(f"{six.url}/six")
        assert c.get(f"{five.url}/five").content == b"hello"
