"""Tests of the test servers themselves, with stdlib clients only (no httpr).

If these fail, every transport and client test built on the servers would mislead, so each
endpoint's contract (tests/servers/app.py) and each raw-server mode is checked on the wire.
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import threading
import time
import zlib
from typing import Any, Callable

import pytest

from tests.conftest import (
    LONG_TIMEOUT,
    SHORT_TIMEOUT,
    assert_on_time,
    environ_keys_to_clear,
)
from tests.servers.app import DEFAULT_COMPRESSED_SIZE, TestServer, payload
from tests.servers.raw import (
    Handler,
    RawServer,
    hold,
    read_request,
    read_request_head,
    reset,
    serve_bytes,
)

RawFactory = Callable[[Handler], RawServer]


# -- helpers ----------------------------------------------------------------------------------


def fetch(
    srv: TestServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request on a fresh connection: (response, body)."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=LONG_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()
    finally:
        conn.close()


def exchange(port: int, request: bytes, timeout: float = LONG_TIMEOUT) -> bytes:
    """Send raw bytes, return everything received until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        received = bytearray()
        while True:
            data = sock.recv(65536)
            if not data:
                return bytes(received)
            received += data


def split_response(raw: bytes) -> tuple[list[bytes], bytes]:
    """(head lines, rest) of one raw response."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, raw[:200]
    return head.split(b"\r\n"), rest


def parse_chunks(data: bytes) -> tuple[list[bytes], bytes]:
    """(chunk payloads, bytes after the last chunk) of a raw chunked body."""
    chunks: list[bytes] = []
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return chunks, data
        chunks.append(data[:size])
        assert data[size : size + 2] == b"\r\n"
        data = data[size + 2 :]


def echo(srv: TestServer, method: str = "GET", path: str = "/echo", **kw: Any) -> Any:
    resp, data = fetch(srv, method, path, **kw)
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/json"
    return json.loads(data)


# -- conftest ---------------------------------------------------------------------------------


def test_environ_keys_to_clear_covers_proxies_ca_netrc_and_httpr() -> None:
    environ = {
        "http_proxy": "x",
        "HTTPS_PROXY": "x",
        "all_proxy": "x",
        "NO_PROXY": "x",
        "no_proxy": "x",
        "HTTPR_DEBUG": "1",
        "SSL_CERT_FILE": "x",
        "SSL_CERT_DIR": "x",
        "CURL_CA_BUNDLE": "x",
        "REQUESTS_CA_BUNDLE": "x",
        "NETRC": "x",
        "HOME": "/root",
        "PATH": "/bin",
        "PROXY_UNRELATED": "x",
    }
    cleared = environ_keys_to_clear(environ)
    assert set(cleared) == set(environ) - {"HOME", "PATH", "PROXY_UNRELATED"}


@pytest.mark.parametrize(
    ("elapsed", "timeout", "ok"),
    [(0.30, 0.2, True), (0.31, 0.2, False), (6.5, 5.0, True), (6.6, 5.0, False)],
)
def test_assert_on_time(elapsed: float, timeout: float, ok: bool) -> None:
    if ok:
        assert_on_time(elapsed, timeout)
    else:
        with pytest.raises(AssertionError):
            assert_on_time(elapsed, timeout)


# -- payload ----------------------------------------------------------------------------------


def test_payload_is_deterministic_base64_text() -> None:
    assert payload(0) == b""
    big = payload(20_000)
    assert len(big) == 20_000
    assert payload(777) == big[:777]
    assert set(big) <= set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    assert len(set(big[:64])) > 20  # not a constant filler
    with pytest.raises(ValueError):
        payload(-1)


# -- /echo ------------------------------------------------------------------------------------


def test_echo_reports_method_path_query(server: TestServer) -> None:
    doc = echo(server, path="/echo?a=1&b=&a=2&sp=x+y")
    assert doc["method"] == "GET"
    assert doc["path"] == "/echo?a=1&b=&a=2&sp=x+y"
    assert doc["query"] == [["a", "1"], ["b", ""], ["a", "2"], ["sp", "x y"]]
    assert doc["body"] == ""
    assert doc["body_len"] == 0


def test_echo_keeps_header_case_order_and_duplicates(server: TestServer) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=LONG_TIMEOUT)
    try:
        conn.putrequest("GET", "/echo", skip_host=True, skip_accept_encoding=True)
        conn.putheader("host", "example.test")
        conn.putheader("X-MiXeD-Case", "Value  with  spaces")
        conn.putheader("x-dup", "1")
        conn.putheader("X-Dup", "2")
        conn.endheaders()
        doc = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    assert doc["headers"] == [
        ["host", "example.test"],
        ["X-MiXeD-Case", "Value  with  spaces"],
        ["x-dup", "1"],
        ["X-Dup", "2"],
    ]


def test_echo_content_length_body_is_latin1(server: TestServer) -> None:
    body = bytes(range(256))
    doc = echo(server, "POST", body=body)
    assert doc["method"] == "POST"
    assert doc["body"].encode("latin-1") == body
    assert doc["body_len"] == 256


def test_echo_decodes_chunked_request_body_and_trailers(server: TestServer) -> None:
    request = (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n"
        b"5;ext=1\r\nhello\r\nA\r\n world!!!!\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    head, body = split_response(exchange(server.port, request))
    assert head[0] == b"HTTP/1.1 200 OK"
    doc = json.loads(body)
    assert doc["body"] == "hello world!!!!"
    assert doc["body_len"] == 15
    assert doc["trailers"] == [["X-Trailer", "t"]]


def test_echo_chunked_body_from_http_client(server: TestServer) -> None:
    parts = [b"ab", b"", b"cde", b"f" * 1000]
    conn = http.client.HTTPConnection(server.host, server.port, timeout=LONG_TIMEOUT)
    try:
        conn.request("PUT", "/echo", body=iter(parts), encode_chunked=True)
        doc = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    assert ["Transfer-Encoding", "chunked"] in doc["headers"]
    assert doc["body"] == "abcde" + "f" * 1000


@pytest.mark.parametrize("method", ["PURGE", "DELETE", "OPTIONS", "PATCH", "M-SEARCH"])
def test_echo_accepts_any_method_token(server: TestServer, method: str) -> None:
    assert echo(server, method)["method"] == method


def test_bad_chunked_request_is_400_and_close(server: TestServer) -> None:
    request = (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0x5\r\nhello\r\n0\r\n\r\n"
    )
    head, _ = split_response(exchange(server.port, request))
    assert head[0] == b"HTTP/1.1 400 Bad Request"
    assert b"Connection: close" in head


def test_malformed_request_line_gets_a_real_400(server: TestServer, capfd: Any) -> None:
    head, _ = split_response(exchange(server.port, b"GARBAGE\r\n\r\n"))
    assert head[0].startswith(b"HTTP/1.1 400 ")
    assert capfd.readouterr().err == ""


# -- compression ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [None, 0, 1, 100_000])
def test_gzip_decodes_to_payload(server: TestServer, size: int | None) -> None:
    resp, raw = fetch(server, "GET", "/gzip" if size is None else f"/gzip?size={size}")
    assert resp.status == 200
    assert resp.getheader("Content-Encoding") == "gzip"
    assert resp.getheader("Content-Length") == str(len(raw))
    assert gzip.decompress(raw) == payload(DEFAULT_COMPRESSED_SIZE if size is None else size)
    if size == 100_000:
        assert len(raw) < size // 20  # repetitive enough for ratio tests


def test_deflate_is_zlib_wrapped(server: TestServer) -> None:
    resp, raw = fetch(server, "GET", "/deflate?size=3000")
    assert resp.getheader("Content-Encoding") == "deflate"
    assert resp.getheader("Content-Length") == str(len(raw))
    assert raw[0] & 0x0F == 8  # RFC 1950 CMF: deflate, i.e. not raw deflate
    assert zlib.decompress(raw) == payload(3000)


def test_gzip_bad_fails_to_decode(server: TestServer) -> None:
    resp, raw = fetch(server, "GET", "/gzip-bad")
    assert resp.status == 200
    assert resp.getheader("Content-Encoding") == "gzip"
    assert raw[:2] == b"\x1f\x8b"
    with pytest.raises(zlib.error, match="invalid block type"):
        gzip.decompress(raw)


def test_gzip2_is_gzipped_twice(server: TestServer) -> None:
    resp, raw = fetch(server, "GET", "/gzip2?size=2000")
    assert resp.getheader("Content-Encoding") == "gzip, gzip"
    once = gzip.decompress(raw)
    assert once[:2] == b"\x1f\x8b"
    assert gzip.decompress(once) == payload(2000)


# -- identity and chunked bodies --------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 70_000])
def test_bytes_sends_payload_with_length(server: TestServer, size: int) -> None:
    resp, body = fetch(server, "GET", f"/bytes?size={size}")
    assert resp.getheader("Content-Length") == str(size)
    assert resp.getheader("Content-Encoding") is None
    assert body == payload(size)


@pytest.mark.parametrize(("size", "pieces"), [(10, 3), (5000, 1), (4, 9), (0, 5)])
def test_chunked_sends_payload_in_pieces(server: TestServer, size: int, pieces: int) -> None:
    raw = exchange(
        server.port,
        f"GET /chunked?size={size}&pieces={pieces} HTTP/1.1\r\nHost: t\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    head, rest = split_response(raw)
    assert b"Transfer-Encoding: chunked" in head
    assert not any(line.lower().startswith(b"content-length") for line in head)
    chunks, after = parse_chunks(rest)
    assert after == b"\r\n"
    assert len(chunks) == min(pieces, size)
    assert b"".join(chunks) == payload(size)


def test_bad_size_parameter_is_400(server: TestServer) -> None:
    for path in ("/bytes?size=-1", "/bytes?size=abc", "/gzip?size=1e3"):
        resp, _ = fetch(server, "GET", path)
        assert resp.status == 400, path


# -- status, HEAD, 404 ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 299, 404, 418, 500, 503, 599])
def test_status_code_and_body(server: TestServer, code: int) -> None:
    resp, body = fetch(server, "GET", f"/status/{code}")
    assert resp.status == code
    assert body == f"status {code}".encode()
    assert resp.getheader("Content-Length") == str(len(body))
    assert resp.getheader("Connection") is None


@pytest.mark.parametrize("code", [204, 304])
def test_status_without_body(server: TestServer, code: int) -> None:
    raw = exchange(
        server.port, f"GET /status/{code} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
    )
    head, rest = split_response(raw)
    assert head[0].startswith(f"HTTP/1.1 {code} ".encode())
    assert rest == b""
    assert not any(line.lower().startswith(b"content-length") for line in head)


@pytest.mark.parametrize("code", ["100", "600", "abc", ""])
def test_status_out_of_range_is_400(server: TestServer, code: str) -> None:
    assert fetch(server, "GET", f"/status/{code}")[0].status == 400


def test_head_never_gets_a_body_and_keeps_the_connection(server: TestServer) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=LONG_TIMEOUT)
    try:
        for path in ("/bytes?size=100", "/status/200", "/json", "/chunked?size=9&pieces=3"):
            conn.request("HEAD", path)
            resp = conn.getresponse()
            assert resp.read() == b""
        conn.request("GET", "/status/200")  # framing still in step on the same connection
        assert conn.getresponse().read() == b"status 200"
    finally:
        conn.close()
    # And on the wire: nothing follows the head.
    raw = exchange(
        server.port, b"HEAD /bytes?size=100 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    head, rest = split_response(raw)
    assert b"Content-Length: 100" in head
    assert rest == b""


def test_unknown_path_is_404(server: TestServer) -> None:
    resp, body = fetch(server, "GET", "/nope")
    assert (resp.status, body) == (404, b"not found")


# -- timing endpoints -------------------------------------------------------------------------


def test_delay_waits(server: TestServer) -> None:
    start = time.monotonic()
    resp, body = fetch(server, "GET", f"/delay?s={SHORT_TIMEOUT}")
    elapsed = time.monotonic() - start
    assert (resp.status, body) == (200, b"ok")
    assert elapsed >= SHORT_TIMEOUT
    assert_on_time(elapsed, SHORT_TIMEOUT)


def test_delay_outlasts_a_short_client_timeout(server: TestServer) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=SHORT_TIMEOUT)
    try:
        conn.request("GET", "/delay?s=0.5")
        start = time.monotonic()
        with pytest.raises(socket.timeout):
            conn.getresponse()
        assert_on_time(time.monotonic() - start, SHORT_TIMEOUT)
    finally:
        conn.close()


@pytest.mark.parametrize("s", ["nan", "inf", "-1", "soon"])
def test_delay_rejects_bad_durations(server: TestServer, s: str) -> None:
    assert fetch(server, "GET", f"/delay?s={s}")[0].status == 400


def test_slow_body_trickles_bytes(server: TestServer) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=LONG_TIMEOUT)
    try:
        start = time.monotonic()
        conn.request("GET", f"/slow-body?chunks=3&interval={SHORT_TIMEOUT}")
        resp = conn.getresponse()
        assert resp.getheader("Content-Length") == "3"
        assert resp.read(1) == b"x"
        first = time.monotonic() - start
        assert resp.read() == b"xx"
        total = time.monotonic() - start
    finally:
        conn.close()
    assert first < SHORT_TIMEOUT  # the head and first byte come before the first pause
    assert total >= 2 * SHORT_TIMEOUT
    assert_on_time(total, 2 * SHORT_TIMEOUT)


# -- headers, content types, json, redirects --------------------------------------------------


def test_headers_repeats_duplicate_keys(server: TestServer) -> None:
    raw = exchange(
        server.port,
        b"GET /headers?Set-Cookie=a%3D1&X-One=1&Set-Cookie=b%3D2%3B%20Path%3D%2F HTTP/1.1\r\n"
        b"Host: t\r\nConnection: close\r\n\r\n",
    )
    head, body = split_response(raw)
    assert body == b"ok"
    assert [line for line in head if line.startswith((b"Set-Cookie", b"X-One"))] == [
        b"Set-Cookie: a=1",
        b"X-One: 1",
        b"Set-Cookie: b=2; Path=/",
    ]
    resp, _ = fetch(server, "GET", "/headers?Set-Cookie=a&Set-Cookie=b")
    assert resp.msg.get_all("Set-Cookie") == ["a", "b"]
    assert resp.getheader("Content-Type") == "text/plain"


@pytest.mark.parametrize(
    "query", ["Content-Length=5", "transfer-encoding=chunked", "X=a%0d%0aY:b", "bad%20name=1"]
)
def test_headers_refuses_framing_and_injection(server: TestServer, query: str) -> None:
    assert fetch(server, "GET", f"/headers?{query}")[0].status == 400


def test_content_type_and_encoding(server: TestServer) -> None:
    resp, body = fetch(
        server, "GET", "/content-type?ct=text/plain;charset=latin-1&body=%C3%A9&enc=latin-1"
    )
    assert resp.getheader("Content-Type") == "text/plain;charset=latin-1"
    assert body == b"\xe9"
    resp, body = fetch(server, "GET", "/content-type?ct=text/html&body=%C3%A9")
    assert (resp.getheader("Content-Type"), body) == ("text/html", b"\xc3\xa9")
    resp, body = fetch(server, "GET", "/content-type?body=abc")
    assert resp.getheader("Content-Type") is None
    assert body == b"abc"
    assert fetch(server, "GET", "/content-type?body=x&enc=nope")[0].status == 400


def test_json(server: TestServer) -> None:
    resp, body = fetch(server, "GET", "/json")
    assert resp.getheader("Content-Type") == "application/json"
    assert json.loads(body) == {"hello": "world", "n": 1}


def test_redirect(server: TestServer) -> None:
    resp, body = fetch(server, "GET", "/redirect?to=/json")
    assert (resp.status, resp.getheader("Location"), body) == (302, "/json", b"redirect")
    resp, _ = fetch(server, "POST", "/redirect?to=http%3A%2F%2Flocalhost%3A1%2Fx&code=307")
    assert (resp.status, resp.getheader("Location")) == (307, "http://localhost:1/x")
    for bad in ("/redirect", "/redirect?to=/x&code=200", "/redirect?to=/x%0d%0aX:1"):
        assert fetch(server, "GET", bad)[0].status == 400, bad


# -- /close -----------------------------------------------------------------------------------


def test_close_answers_nothing(server: TestServer) -> None:
    assert exchange(server.port, b"GET /close HTTP/1.1\r\nHost: t\r\n\r\n") == b""
    with pytest.raises(http.client.RemoteDisconnected):
        fetch(server, "POST", "/close", body=b"data")


# -- connections ------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection_and_counts() -> None:
    with TestServer() as srv:
        assert (srv.connections_accepted, srv.connections_open) == (0, 0)
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=LONG_TIMEOUT)
        try:
            for path in ("/json", "/echo", "/status/404", "/bytes?size=10", "/nope"):
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                assert resp.getheader("Connection") is None
            assert srv.connections_accepted == 1
            assert srv.connections_open == 1
        finally:
            conn.close()
        assert srv.wait_connections_open(0, LONG_TIMEOUT)
        fetch(srv, "GET", "/json")
        fetch(srv, "GET", "/json")
        assert srv.connections_accepted == 3
        assert srv.errors == []


def test_connection_close_request_is_honoured(server: TestServer) -> None:
    raw = exchange(server.port, b"GET /json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, body = split_response(raw)  # exchange() returned, so the server closed
    assert b"Connection: close" in head
    assert json.loads(body) == {"hello": "world", "n": 1}


def test_http10_client_gets_close(server: TestServer) -> None:
    head, _ = split_response(exchange(server.port, b"GET /json HTTP/1.0\r\n\r\n"))
    assert b"Connection: close" in head


def test_concurrent_requests_are_served_in_parallel(server: TestServer) -> None:
    results: list[int] = []

    def worker() -> None:
        results.append(fetch(server, "GET", "/delay?s=0.3")[0].status)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(LONG_TIMEOUT)
    assert results == [200] * 8
    assert time.monotonic() - start < 1.2  # 2.4 s if served one at a time


def test_stop_wakes_idle_and_sleeping_connections() -> None:
    srv = TestServer().start()
    idle = socket.create_connection((srv.host, srv.port), timeout=LONG_TIMEOUT)
    sleeping = socket.create_connection((srv.host, srv.port), timeout=LONG_TIMEOUT)
    try:
        sleeping.sendall(b"GET /delay?s=10 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert srv.wait_connections_open(2, LONG_TIMEOUT)
        start = time.monotonic()
        srv.stop()
        assert time.monotonic() - start < 0.5
        assert idle.recv(10) == b""
        assert sleeping.recv(10) == b""
    finally:
        idle.close()
        sleeping.close()


def test_server_errors_are_kept_not_printed(server: TestServer, capfd: Any) -> None:
    # A client that hangs up while a response is being written.
    sock = socket.create_connection((server.host, server.port), timeout=LONG_TIMEOUT)
    sock.sendall(b"GET /bytes?size=20000000 HTTP/1.1\r\nHost: t\r\n\r\n")
    sock.recv(100)
    reset(sock)
    time.sleep(0.05)
    assert fetch(server, "GET", "/json")[0].status == 200
    assert capfd.readouterr().err == ""


# -- raw server -------------------------------------------------------------------------------

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"


def connect(srv: RawServer) -> socket.socket:
    return socket.create_connection((srv.host, srv.port), timeout=LONG_TIMEOUT)


def test_serve_bytes_close_sends_data_then_eof(raw_server: RawFactory) -> None:
    srv = raw_server(serve_bytes(RESPONSE))
    assert exchange(srv.port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n") == RESPONSE
    # A request body nobody reads must not turn the close into an RST.
    raw = exchange(srv.port, b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
    assert raw == RESPONSE
    assert srv.connections_accepted == 2
    assert srv.errors == []


def test_serve_bytes_reset_sends_rst(raw_server: RawFactory) -> None:
    srv = raw_server(serve_bytes(RESPONSE, then="reset"))
    received = bytearray()
    with connect(srv) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            while True:
                data = sock.recv(65536)
                assert data, "EOF instead of RST"
                received += data
    assert RESPONSE.startswith(bytes(received))


def test_serve_bytes_hold_keeps_silent_until_stop(raw_server: RawFactory) -> None:
    srv = raw_server(serve_bytes(RESPONSE, then="hold"))
    with connect(srv) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        received = b""
        while len(received) < len(RESPONSE):
            received += sock.recv(65536)
        assert received == RESPONSE
        sock.settimeout(SHORT_TIMEOUT)
        start = time.monotonic()
        with pytest.raises(socket.timeout):
            sock.recv(1)
        assert_on_time(time.monotonic() - start, SHORT_TIMEOUT)
        sock.settimeout(LONG_TIMEOUT)
        start = time.monotonic()
        srv.stop()
        assert sock.recv(1) == b""
        assert time.monotonic() - start < 0.5
    assert srv.errors == []


def test_serve_bytes_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="then must be one of"):
        serve_bytes(b"", then="linger")


def test_read_request_keeps_body_sent_with_head(raw_server: RawFactory) -> None:
    seen: list[tuple[bytes, bytes]] = []

    def handler(sock: socket.socket) -> None:
        for _ in range(3):  # three requests on one connection, each in one packet
            seen.append(read_request(sock))
            sock.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    srv = raw_server(handler)
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=LONG_TIMEOUT)
    try:
        conn.request("POST", "/a", body=b"hello")
        conn.getresponse().read()
        conn.request("POST", "/b", body=iter([b"ab", b"cd"]), encode_chunked=True)
        conn.getresponse().read()
        conn.request("GET", "/c")
        conn.getresponse().read()
    finally:
        conn.close()
    assert [body for _, body in seen] == [b"hello", b"abcd", b""]
    assert seen[0][0].startswith(b"POST /a HTTP/1.1\r\n")
    assert seen[2][0].endswith(b"\r\n\r\n")


def test_read_request_head_is_bounded_in_time(raw_server: RawFactory) -> None:
    outcome: list[object] = []
    elapsed: list[float] = []
    done = threading.Event()

    def handler(sock: socket.socket) -> None:
        start = time.monotonic()
        try:
            outcome.append(read_request_head(sock, timeout=SHORT_TIMEOUT))
        except socket.timeout as exc:
            outcome.append(exc)
        elapsed.append(time.monotonic() - start)
        done.set()

    srv = raw_server(handler)
    with connect(srv) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")  # never finished
        assert done.wait(LONG_TIMEOUT)
    assert isinstance(outcome[0], socket.timeout)
    assert elapsed[0] >= SHORT_TIMEOUT
    assert_on_time(elapsed[0], SHORT_TIMEOUT)


def test_read_request_head_returns_partial_on_eof(raw_server: RawFactory) -> None:
    heads: list[bytes] = []
    done = threading.Event()

    def handler(sock: socket.socket) -> None:
        heads.append(read_request_head(sock))
        done.set()

    srv = raw_server(handler)
    with connect(srv) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost")
        sock.shutdown(socket.SHUT_WR)
        assert done.wait(LONG_TIMEOUT)
    assert heads == [b"GET / HTTP/1.1\r\nHost"]


def test_handler_errors_are_kept_not_printed(raw_server: RawFactory, capfd: Any) -> None:
    def handler(sock: socket.socket) -> None:
        read_request_head(sock)  # unread bytes would turn the close into an RST
        raise RuntimeError("boom")

    srv = raw_server(handler)
    assert exchange(srv.port, b"GET / HTTP/1.1\r\n\r\n") == b""
    deadline = time.monotonic() + LONG_TIMEOUT
    while not srv.errors and time.monotonic() < deadline:
        time.sleep(0.005)
    assert [str(e) for e in srv.errors] == ["boom"]
    assert capfd.readouterr().err == ""


def test_stop_wakes_a_holding_handler_and_counts() -> None:
    with RawServer(hold) as srv:
        socks = [connect(srv) for _ in range(3)]
        deadline = time.monotonic() + LONG_TIMEOUT
        while srv.connections_accepted < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert srv.connections_accepted == 3
        assert srv.url == f"http://127.0.0.1:{srv.port}"
        start = time.monotonic()
        srv.stop()
        assert time.monotonic() - start < 0.5
        for sock in socks:
            assert sock.recv(1) == b""
            sock.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=LONG_TIMEOUT).close()
