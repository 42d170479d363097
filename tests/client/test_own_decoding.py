"""Content decoding of buffered bodies by httpr's own decoders (csrc/decode.c, amendment 2.10)
and by libcurl's, which streams and capped clients keep: api.md 6 ("Decoding"), R6.

Every behaviour runs with both decoders (the ``decoder`` fixture flips the transport's
switch), so they cannot drift apart; where they differ on purpose (a truncated coded body),
the test says so.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

import httpr
import httpr._transports.curl as curl_transport
from httpr._curl import CURL
from tests.servers.app import payload
from tests.servers.codings import available, encode, header_name
from tests.servers.raw import serve_bytes

CODINGS = ["gzip", "x-gzip", "deflate", "raw-deflate", "br", "zstd"]


@pytest.fixture(params=["httpr", "libcurl"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "httpr" and not CURL.own_decoding:
        pytest.skip("this build has no decoders of its own (build_ffi.find_decoders)")
    monkeypatch.setattr(curl_transport, "OWN_DECODING", request.param == "httpr")
    yield request.param


def _need(*codings: str) -> None:
    for coding in codings:
        if not available(coding):
            pytest.skip(f"no {coding} encoder here (tests/servers/codings.py)")
        if coding in ("br", "zstd") and not getattr(CURL, "brotli" if coding == "br" else coding):
            pytest.skip(f"this libcurl does not decode {coding}")


def _reply(body: bytes, *codings: str, status: bytes = b"200 OK", extra: bytes = b"") -> bytes:
    lines = b"".join(b"Content-Encoding: %s\r\n" % c.encode() for c in codings)
    head = b"HTTP/1.1 " + status + b"\r\n" + lines + extra
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def _stack(data: bytes, *codings: str) -> bytes:
    """``data`` with ``codings`` applied in order (the first is applied first)."""
    for coding in codings:
        data = encode(coding, data)
    return data


# Random-looking bytes (the bench's kind of body) and highly compressible ones, which make a
# one-pass decoder grow its first guess of the output size several times.
DATA = {"mixed": payload(300 * 1024), "zeros": b"\0" * (2 * 1024 * 1024)}


@pytest.mark.parametrize("kind", sorted(DATA))
@pytest.mark.parametrize("coding", CODINGS)
def test_each_coding_decodes(make_client: Any, raw_server, decoder: str, coding: str, kind: str):
    _need(coding)
    data = DATA[kind]
    srv = raw_server(serve_bytes(_reply(encode(coding, data), header_name(coding))))
    with make_client(timeout=10.0) as c:
        r = c.get(f"{srv.url}/coded")
    assert r.status_code == 200
    assert r.content == data
    # The headers describe the decoded body (api.md 6).
    assert "content-encoding" not in r.headers and "content-length" not in r.headers


@pytest.mark.parametrize(
    "codings",
    [("gzip", "gzip"), ("deflate", "br"), ("zstd", "gzip"), ("br", "zstd", "deflate", "gzip")],
    ids="+".join,
)
@pytest.mark.parametrize("one_header", [True, False], ids=["one-header", "headers"])
def test_stacked_codings_decode_in_reverse(
    make_client: Any, raw_server, decoder: str, codings: tuple[str, ...], one_header: bool
) -> None:
    _need(*codings)
    data = payload(50 * 1024)
    names = [", ".join(codings)] if one_header else list(codings)
    srv = raw_server(serve_bytes(_reply(_stack(data, *codings), *names)))
    with make_client(timeout=10.0) as c:
        assert c.get(f"{srv.url}/stacked").content == data


def test_identity_and_empty_tokens_are_skipped(make_client: Any, raw_server, decoder: str):
    data = payload(1000)
    srv = raw_server(serve_bytes(_reply(gzip.compress(data), "identity, , gzip", "identity")))
    with make_client(timeout=10.0) as c:
        assert c.get(f"{srv.url}/identity").content == data


@pytest.mark.parametrize("coding", ["compress", "x-unknown", "gzip;q=1"])
def test_a_coding_httpr_cannot_decode_is_a_decoding_error(
    make_client: Any, raw_server, decoder: str, coding: str
) -> None:
    srv = raw_server(serve_bytes(_reply(b"abc", coding)))
    with make_client(timeout=10.0) as c:
        with pytest.raises(httpr.DecodingError):
            c.get(f"{srv.url}/unknown")


@pytest.mark.parametrize("coding", CODINGS)
def test_a_corrupt_coded_body_is_a_decoding_error(
    make_client: Any, raw_server, decoder: str, coding: str
) -> None:
    _need(coding)
    good = encode(coding, payload(20 * 1024))
    # Keep the format's header, break what follows it.
    corrupt = good[:12] + bytes(b ^ 0x5A for b in good[12:40]) + good[40:]
    srv = raw_server(serve_bytes(_reply(corrupt, header_name(coding))))
    with make_client(timeout=10.0) as c:
        with pytest.raises(httpr.DecodingError):
            c.get(f"{srv.url}/corrupt")
        # The client stays usable.
        ok = raw_server(serve_bytes(_reply(good, header_name(coding))))
        assert c.get(f"{ok.url}/good").content == payload(20 * 1024)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_bytes_after_the_coded_stream_are_an_error(
    make_client: Any, raw_server, decoder: str, coding: str
) -> None:
    """libcurl 7.88 fails on bytes after a gzip/deflate/br stream's end; so does httpr's own
    decoder (a body is never silently cut short, nor its tail dropped)."""
    _need(coding)
    body = encode(coding, payload(4096)) + b"trailing garbage"
    srv = raw_server(serve_bytes(_reply(body, coding)))
    with make_client(timeout=10.0) as c:
        with pytest.raises(httpr.DecodingError):
            c.get(f"{srv.url}/trailing")


def test_several_zstd_frames_decode_as_one_body(make_client: Any, raw_server, decoder: str):
    _need("zstd")
    a, b = payload(7000), b"second frame"
    srv = raw_server(serve_bytes(_reply(encode("zstd", a) + encode("zstd", b), "zstd")))
    with make_client(timeout=10.0) as c:
        assert c.get(f"{srv.url}/frames").content == a + b


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_own_decoder_refuses_a_truncated_coded_body(
    make_client: Any, raw_server, monkeypatch: pytest.MonkeyPatch, coding: str
) -> None:
    """A coded stream cut short inside a correctly framed body is a DecodingError: httpr never
    hands out a silently shortened body. (libcurl 7.88's decoders, which streams and capped
    clients use, deliver what they could decode: a documented difference.)"""
    if not CURL.own_decoding:
        pytest.skip("this build has no decoders of its own")
    _need(coding)
    monkeypatch.setattr(curl_transport, "OWN_DECODING", True)
    coded = encode(coding, payload(64 * 1024))
    srv = raw_server(serve_bytes(_reply(coded[: len(coded) // 2], coding)))
    with make_client(timeout=10.0) as c:
        with pytest.raises(httpr.DecodingError, match=coding):
            c.get(f"{srv.url}/cut")


def test_empty_coded_body_and_head_decode_to_nothing(make_client: Any, raw_server, decoder: str):
    empty = raw_server(serve_bytes(_reply(b"", "gzip")))
    head = raw_server(
        serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 1234\r\n\r\n")
    )
    with make_client(timeout=10.0) as c:
        assert c.get(f"{empty.url}/empty").content == b""
        assert c.head(f"{head.url}/head").content == b""


def test_coded_error_and_redirect_bodies_are_decoded(make_client: Any, raw_server, decoder: str):
    data = payload(3000)
    srv = raw_server(serve_bytes(_reply(zlib.compress(data), "deflate", status=b"500 Oops")))
    with make_client(timeout=10.0) as c:
        r = c.get(f"{srv.url}/error")
    assert r.status_code == 500 and r.content == data


def test_capped_clients_keep_libcurls_incremental_decoder(make_client: Any, server) -> None:
    """Under max_response_size the coded body is decoded as it arrives, so a bomb is aborted
    early (SEC-08, test_size_cap.py); without a cap httpr's own decoder takes the body."""
    from httpr._curl.xfer import Transfer

    seen: list[int] = []
    real = Transfer.__init__

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        seen.append(int(self.baseline()["http_content_decoding"]))

    def run_as_transfer(*args: Any) -> Transfer:
        return Transfer(*args)  # the sync one-call path frees its record before we could look

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Transfer, "__init__", spy)
        mp.setattr(curl_transport, "run_transfer", run_as_transfer)
        with (
            make_client(timeout=10.0) as free,
            make_client(timeout=10.0, max_response_size=10**9) as capped,
        ):
            assert free.get(f"{server.url}/gzip?size=5000").content == payload(5000)
            assert capped.get(f"{server.url}/gzip?size=5000").content == payload(5000)
    assert seen == [0 if curl_transport.OWN_DECODING else 1, 1]


@pytest.mark.parametrize(
    "status, method",
    [(b"200 OK", "HEAD"), (b"204 No Content", "GET"), (b"304 Not Modified", "GET")],
)
def test_no_body_means_no_decoding_even_for_an_unknown_coding(
    make_client: Any, raw_server, decoder: str, status: bytes, method: str
) -> None:
    """libcurl reports a coding it cannot decode only when body bytes arrive: a HEAD, 204 or
    304 labelled with the common misconfiguration "Content-Encoding: UTF-8" is fine."""
    length = b"Content-Length: 3\r\n" if method == "HEAD" else b""
    reply = b"HTTP/1.1 " + status + b"\r\nContent-Encoding: UTF-8\r\n" + length + b"\r\n"
    srv = raw_server(serve_bytes(reply))
    with make_client(timeout=10.0) as c:
        r = c.request(method, f"{srv.url}/nobody")
    assert r.content == b""


def test_none_is_identity_as_libcurl_has_it(make_client: Any, raw_server, decoder: str) -> None:
    srv = raw_server(serve_bytes(_reply(b"plain", "none")))
    with make_client(timeout=10.0) as c:
        assert c.get(f"{srv.url}/none").content == b"plain"


def test_a_layer_decoding_to_nothing_ends_the_stack(make_client: Any, raw_server, decoder: str):
    _need("br")
    srv = raw_server(serve_bytes(_reply(encode("br", b""), "gzip, br")))
    with make_client(timeout=10.0) as c:
        assert c.get(f"{srv.url}/empty-layer").content == b""


def test_a_big_coded_body_decodes_off_the_engine_thread(make_client: Any, raw_server, decoder):
    """Coded bodies over HTTPR_ENGINE_DECODE_MAX_BYTES (1 MiB) are decoded by the caller even
    for AsyncClient, so one large body never holds up the engine."""
    data = os.urandom(1536 * 1024)  # incompressible: ~1.5 MiB coded
    srv = raw_server(serve_bytes(_reply(gzip.compress(data, 1), "gzip")))
    with make_client(timeout=10.0) as c:
        assert c.get(f"{srv.url}/big").content == data
