"""The suite's local proxies (tests/servers/proxy.py), checked with stdlib clients only.

httpr's proxy tests trust what these servers record (``requests``, ``targets``,
``credentials``), so the recording, the refusals and the tunnels are pinned here against
the shared app server, independently of httpr.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from tests.conftest import LONG_TIMEOUT
from tests.servers.app import TestServer, payload
from tests.servers.proxy import STOP_JOIN_SECONDS, HTTPProxy, Socks5Proxy


@pytest.fixture
def proxy() -> Iterator[HTTPProxy]:
    with HTTPProxy() as p:
        yield p
    assert p.errors == []


@pytest.fixture
def socks() -> Iterator[Socks5Proxy]:
    with Socks5Proxy() as p:
        yield p
    assert p.errors == []


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=LONG_TIMEOUT)
    sock.settimeout(LONG_TIMEOUT)
    return sock


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            break
        buf += data
    return buf


def recv_head(sock: socket.socket) -> bytes:
    """Through the blank line, one byte at a time (nothing past it is consumed)."""
    buf = b""
    while not buf.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            break
        buf += byte
    return buf


def recv_all(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def echo_over(sock: socket.socket, server: TestServer) -> dict[str, object]:
    """Sends GET /echo on an established tunnel or SOCKS connection; returns the JSON."""
    sock.sendall(
        f"GET /echo?via=tunnel HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    reply = recv_all(sock)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), reply[:200]
    doc: dict[str, object] = json.loads(body)
    return doc


def header_names(doc: dict[str, object]) -> list[str]:
    headers = doc["headers"]
    assert isinstance(headers, list)
    return [str(name).lower() for name, _ in headers]


# -- HTTPProxy: forwarding ---------------------------------------------------------------------


def test_forward_get_with_http_client(proxy: HTTPProxy, server: TestServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=LONG_TIMEOUT)
    try:
        conn.request(
            "GET",
            f"{server.url}/echo?a=1",
            headers={"X-Test": "yes", "Proxy-Connection": "keep-alive"},
        )
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(body))
    doc = json.loads(body)
    assert doc["method"] == "GET" and doc["path"] == "/echo?a=1"
    names = header_names(doc)
    assert "x-test" in names and "host" in names
    assert "proxy-connection" not in names
    (head,) = proxy.requests
    assert head.startswith(f"GET {server.url}/echo?a=1 HTTP/1.1\r\n".encode())
    assert b"X-Test: yes\r\n" in head and head.endswith(b"\r\n\r\n")


def test_forward_keeps_the_client_connection_alive(proxy: HTTPProxy, server: TestServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=LONG_TIMEOUT)
    try:
        for i in range(3):
            conn.request("GET", f"{server.url}/echo?i={i}")
            response = conn.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["path"] == f"/echo?i={i}"
    finally:
        conn.close()
    assert proxy.connections_accepted == 1
    assert len(proxy.requests) == 3


def test_forward_post_body_and_status(proxy: HTTPProxy, server: TestServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=LONG_TIMEOUT)
    try:
        conn.request("POST", f"{server.url}/echo", body=b"x" * 100_000)
        doc = json.loads(conn.getresponse().read())
        assert doc["method"] == "POST" and doc["body_len"] == 100_000
        conn.request("GET", f"{server.url}/status/404")
        response = conn.getresponse()
        response.read()
        assert response.status == 404
        conn.request("HEAD", f"{server.url}/bytes?size=10")
        response = conn.getresponse()
        assert response.read() == b"" and response.status == 200
        assert response.getheader("Content-Length") == "10"  # HEAD keeps the origin's length
        conn.request("GET", f"{server.url}/chunked?size=1000&pieces=3")
        response = conn.getresponse()
        assert response.getheader("Transfer-Encoding") is None  # re-framed with a length
        assert response.read() == payload(1000)
    finally:
        conn.close()


def test_forward_strips_proxy_authorization(server: TestServer) -> None:
    with HTTPProxy(require_auth=("alice", "s3cret")) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=LONG_TIMEOUT)
        try:
            conn.request(
                "GET",
                f"{server.url}/echo",
                headers={"Proxy-Authorization": basic("alice", "s3cret")},
            )
            response = conn.getresponse()
            doc = json.loads(response.read())
        finally:
            conn.close()
        assert response.status == 200
        assert "proxy-authorization" not in header_names(doc)  # what the origin saw
        assert b"Proxy-Authorization: " + basic("alice", "s3cret").encode() in proxy.requests[0]
        assert proxy.errors == []


@pytest.mark.parametrize("given", [None, basic("alice", "wrong"), basic("bob", "s3cret")])
def test_require_auth_answers_407(given: str | None, server: TestServer) -> None:
    with HTTPProxy(require_auth=("alice", "s3cret")) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=LONG_TIMEOUT)
        headers = {} if given is None else {"Proxy-Authorization": given}
        try:
            conn.request("GET", f"{server.url}/echo", headers=headers)
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        assert response.status == 407
        assert response.getheader("Proxy-Authenticate", "").startswith("Basic ")
        assert len(proxy.requests) == 1  # recorded even though refused


# Only the local proxy receives bytes: it refuses these targets before any connection. The
# IP literals are documentation ranges (RFC 5737, RFC 3849), never a private network.
@pytest.mark.parametrize(
    "target",
    ["http://example.invalid/", "http://192.0.2.1:8080/", "http://[2001:db8::1]/"],
)
def test_forward_refuses_non_loopback_targets(proxy: HTTPProxy, target: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=LONG_TIMEOUT)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status == 403
    assert proxy.requests[0].startswith(f"GET {target} HTTP/1.1".encode())


@pytest.mark.parametrize(
    "request_line",
    ["GET /origin-form HTTP/1.1", "GET https://127.0.0.1/ HTTP/1.1", "NONSENSE", "GET / SPDY/3"],
)
def test_forward_answers_400_to_what_it_cannot_forward(proxy: HTTPProxy, request_line: str) -> None:
    with connect(proxy.port) as sock:
        sock.sendall(f"{request_line}\r\nHost: x\r\n\r\n".encode())
        assert recv_all(sock).startswith(b"HTTP/1.1 400 ")


def test_forward_to_a_closed_port_is_502(proxy: HTTPProxy) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=LONG_TIMEOUT)
    try:
        conn.request("GET", f"http://127.0.0.1:{closed_port()}/")
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status == 502


# -- HTTPProxy: CONNECT ------------------------------------------------------------------------


def test_connect_tunnel_with_a_raw_socket(proxy: HTTPProxy, server: TestServer) -> None:
    with connect(proxy.port) as sock:
        sock.sendall(
            f"CONNECT 127.0.0.1:{server.port} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "\r\n".encode()
        )
        assert recv_head(sock) == b"HTTP/1.1 200 Connection established\r\n\r\n"
        doc = echo_over(sock, server)
    assert doc["path"] == "/echo?via=tunnel"
    (head,) = proxy.requests
    assert head.startswith(f"CONNECT 127.0.0.1:{server.port} HTTP/1.1\r\n".encode())


def test_connect_bytes_sent_with_the_head_reach_the_origin(
    proxy: HTTPProxy, server: TestServer
) -> None:
    # A client may pipeline its first tunnel bytes right behind the CONNECT head.
    with connect(proxy.port) as sock:
        sock.sendall(
            f"CONNECT localhost:{server.port} HTTP/1.1\r\nHost: x\r\n\r\n"
            f"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        assert recv_head(sock).startswith(b"HTTP/1.1 200 ")
        reply = recv_all(sock)
    assert reply.startswith(b"HTTP/1.1 200 ") and b'"path": "/echo"' in reply


def test_connect_with_http_client_set_tunnel(server: TestServer) -> None:
    with HTTPProxy(require_auth=("alice", "s3cret")) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=LONG_TIMEOUT)
        conn.set_tunnel(
            "127.0.0.1", server.port, headers={"Proxy-Authorization": basic("alice", "s3cret")}
        )
        try:
            conn.request("GET", "/echo")
            doc = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        assert "proxy-authorization" not in header_names(doc)
        (head,) = proxy.requests
        assert head.startswith(b"CONNECT 127.0.0.1:")
        assert b"Proxy-Authorization: Basic " in head
        assert proxy.errors == []


def test_connect_without_credentials_gets_407(server: TestServer) -> None:
    with HTTPProxy(require_auth=("alice", "s3cret")) as proxy, connect(proxy.port) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{server.port} HTTP/1.1\r\n\r\n".encode())
        reply = recv_all(sock)  # the proxy closes after the refusal
    assert reply.startswith(b"HTTP/1.1 407 ")
    assert b"\r\nProxy-Authenticate: Basic realm=" in reply


@pytest.mark.parametrize("status", [403, 407, 502])
def test_connect_status_refuses_tunnels(status: int, server: TestServer) -> None:
    with HTTPProxy(connect_status=status) as proxy, connect(proxy.port) as sock:
        sock.sendall(f"CONNECT 127.0.0.1:{server.port} HTTP/1.1\r\n\r\n".encode())
        reply = recv_all(sock)
        assert reply.startswith(f"HTTP/1.1 {status} ".encode())
        assert len(proxy.requests) == 1


def test_connect_refuses_non_loopback_and_bad_targets(proxy: HTTPProxy) -> None:
    for target, status in [
        ("example.invalid:443", 403),
        ("10.0.0.1:443", 403),
        ("[2001:db8::1]:443", 403),
        ("127.0.0.1", 400),
        ("127.0.0.1:99999", 400),
        (f"127.0.0.1:{closed_port()}", 502),
    ]:
        with connect(proxy.port) as sock:
            sock.sendall(f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
            assert recv_all(sock).startswith(f"HTTP/1.1 {status} ".encode()), target
    assert len(proxy.requests) == 6


def test_connect_to_ipv6_loopback_is_allowed(proxy: HTTPProxy) -> None:
    # [::1] is allowed; whether anything listens there, the answer is 200 or 502, never 403.
    with connect(proxy.port) as sock:
        sock.sendall(f"CONNECT [::1]:{closed_port()} HTTP/1.1\r\n\r\n".encode())
        assert recv_all(sock).startswith(b"HTTP/1.1 502 ")


# -- Socks5Proxy -------------------------------------------------------------------------------


def socks5_connect(
    sock: socket.socket, host: str, port: int, *, atyp: int | None = None, cmd: int = 1
) -> bytes:
    """Sends a CONNECT request (after method negotiation) and returns the 10-byte reply."""
    if atyp is None:
        atyp = 1 if host.replace(".", "").isdigit() else 3
    if atyp == 1:
        address = socket.inet_aton(host)
    elif atyp == 4:
        address = socket.inet_pton(socket.AF_INET6, host)
    else:
        address = bytes([len(host)]) + host.encode()
    sock.sendall(bytes([5, cmd, 0, atyp]) + address + struct.pack("!H", port))
    reply = recv_exact(sock, 4)
    rest = {1: 6, 4: 18}.get(reply[3], 0) if len(reply) == 4 else 0
    return reply + recv_exact(sock, rest)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_socks5_no_auth_connect(socks: Socks5Proxy, server: TestServer, host: str) -> None:
    with connect(socks.port) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert recv_exact(sock, 2) == b"\x05\x00"
        reply = socks5_connect(sock, host, server.port)
        assert reply[:2] == b"\x05\x00" and len(reply) == 10
        doc = echo_over(sock, server)
    assert doc["path"] == "/echo?via=tunnel"
    assert socks.targets == [(host, server.port)]  # socks5h sends names as they are
    assert socks.credentials == []
    assert socks.url == f"socks5://127.0.0.1:{socks.port}"


def test_socks5_ipv6_address_type(socks: Socks5Proxy) -> None:
    with connect(socks.port) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert recv_exact(sock, 2) == b"\x05\x00"
        port = closed_port()
        reply = socks5_connect(sock, "::1", port, atyp=4)
    assert reply[:2] == b"\x05\x05"  # allowed, but refused by the (absent) target
    assert socks.targets == [("::1", port)]


def test_socks5_username_password_auth(server: TestServer) -> None:
    with Socks5Proxy(auth=("alice", "s3cret")) as socks, connect(socks.port) as sock:
        sock.sendall(b"\x05\x02\x00\x02")
        assert recv_exact(sock, 2) == b"\x05\x02"
        sock.sendall(b"\x01\x05alice\x06s3cret")
        assert recv_exact(sock, 2) == b"\x01\x00"
        assert socks5_connect(sock, "127.0.0.1", server.port)[:2] == b"\x05\x00"
        assert echo_over(sock, server)["method"] == "GET"
        assert socks.credentials == [("alice", "s3cret")]
        assert socks.errors == []


def test_socks5_wrong_password_is_refused(server: TestServer) -> None:
    with Socks5Proxy(auth=("alice", "s3cret")) as socks, connect(socks.port) as sock:
        sock.sendall(b"\x05\x01\x02")
        assert recv_exact(sock, 2) == b"\x05\x02"
        sock.sendall(b"\x01\x05alice\x05wrong")
        assert recv_exact(sock, 2) == b"\x01\x01"
        assert recv_all(sock) == b""  # closed
        assert socks.credentials == [("alice", "wrong")]
        assert socks.targets == []


def test_socks5_auth_required_but_not_offered() -> None:
    with Socks5Proxy(auth=("alice", "s3cret")) as socks, connect(socks.port) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert recv_exact(sock, 2) == b"\x05\xff"
        assert recv_all(sock) == b""


def test_socks5_without_auth_refuses_auth_only_clients(socks: Socks5Proxy) -> None:
    with connect(socks.port) as sock:
        sock.sendall(b"\x05\x01\x02")
        assert recv_exact(sock, 2) == b"\x05\xff"


@pytest.mark.parametrize(
    ("host", "atyp"), [("example.invalid", 3), ("10.0.0.1", 1), ("2001:db8::1", 4)]
)
def test_socks5_refuses_non_loopback_targets(socks: Socks5Proxy, host: str, atyp: int) -> None:
    with connect(socks.port) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert recv_exact(sock, 2) == b"\x05\x00"
        assert socks5_connect(sock, host, 443, atyp=atyp)[:2] == b"\x05\x02"
    assert socks.targets == [(host, 443)]


def test_socks5_only_connect_is_supported(socks: Socks5Proxy, server: TestServer) -> None:
    with connect(socks.port) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert recv_exact(sock, 2) == b"\x05\x00"
        assert socks5_connect(sock, "127.0.0.1", server.port, cmd=2)[:2] == b"\x05\x07"  # BIND


def test_socks5_closed_target_port(socks: Socks5Proxy) -> None:
    with connect(socks.port) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert recv_exact(sock, 2) == b"\x05\x00"
        assert socks5_connect(sock, "127.0.0.1", closed_port())[:2] == b"\x05\x05"


@pytest.mark.parametrize("socks4a", [False, True])
def test_socks4_and_socks4a(socks: Socks5Proxy, server: TestServer, socks4a: bool) -> None:
    port = struct.pack("!H", server.port)
    with connect(socks.port) as sock:
        if socks4a:
            sock.sendall(b"\x04\x01" + port + b"\x00\x00\x00\x01" + b"me\x00localhost\x00")
        else:
            sock.sendall(b"\x04\x01" + port + socket.inet_aton("127.0.0.1") + b"me\x00")
        assert recv_exact(sock, 8)[:2] == b"\x00\x5a"
        assert echo_over(sock, server)["method"] == "GET"
    assert socks.targets == [("localhost" if socks4a else "127.0.0.1", server.port)]
    assert socks.socks4_user_ids == ["me"]


def test_socks4_refuses_non_loopback(socks: Socks5Proxy) -> None:
    with connect(socks.port) as sock:
        sock.sendall(b"\x04\x01\x01\xbb" + socket.inet_aton("10.0.0.1") + b"\x00")
        assert recv_exact(sock, 8)[:2] == b"\x00\x5b"


# -- lifecycle ---------------------------------------------------------------------------------


def test_stop_is_bounded_with_open_tunnels_and_idle_connections(server: TestServer) -> None:
    proxy = HTTPProxy().start()
    socks = Socks5Proxy().start()
    clients = []
    try:
        tunnel = connect(proxy.port)
        clients.append(tunnel)
        tunnel.sendall(f"CONNECT 127.0.0.1:{server.port} HTTP/1.1\r\n\r\n".encode())
        assert recv_head(tunnel).startswith(b"HTTP/1.1 200 ")
        idle = connect(proxy.port)  # a connection that never sends anything
        clients.append(idle)
        half = connect(socks.port)  # a SOCKS handshake left half done
        clients.append(half)
        half.sendall(b"\x05")
        time.sleep(0.05)
        started = time.monotonic()
        proxy.stop()
        socks.stop()
        elapsed = time.monotonic() - started
        assert elapsed < 2 * STOP_JOIN_SECONDS
        for server_threads in (proxy._threads, socks._threads):
            assert not any(t.is_alive() for t in server_threads)
        assert recv_all(tunnel) == b""  # the tunnel was shut down
        assert proxy.errors == [] and socks.errors == []
        proxy.stop()  # idempotent
    finally:
        for sock in clients:
            sock.close()
        proxy.stop()
        socks.stop()


def test_port_before_start_raises() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        HTTPProxy().port  # noqa: B018
    with pytest.raises(RuntimeError, match="already started"), HTTPProxy() as p:
        p.start()
