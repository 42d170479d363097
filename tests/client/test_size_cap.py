"""max_response_size (api.md 13, R6, amendment 1.13): the cap counts decoded bytes; a declared
length over it fails before the body; the user never receives more than the cap."""

from __future__ import annotations

import gzip
import socket
import time
from typing import Any

import pytest

import httpr
from tests.servers.app import payload
from tests.servers.raw import read_request_head

CAP = 64 * 1024


def test_body_under_the_cap_passes(make_client: Any, server) -> None:
    with make_client(max_response_size=CAP) as c:
        assert c.get(f"{server.url}/bytes?size={CAP}").content == payload(CAP)


def test_declared_length_over_the_cap_fails_before_the_body(make_client: Any, raw_server) -> None:
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
    with make_client(max_response_size=CAP) as c:
        with pytest.raises(httpr.ResponseTooLarge):
            c.get(f"{server.url}/chunked?size={CAP + 1}&pieces=9")
        assert c.get(f"{server.url}/bytes?size=10").status_code == 200  # still usable


def test_decompression_bomb_is_capped_on_decoded_bytes(make_client: Any, raw_server) -> None:
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
