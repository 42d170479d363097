"""The sync Client end to end against the local servers: methods, bodies, headers on the wire,
decoding, keep-alive, close, and the errors of a refused, stalled or broken server.

Tests take the ``client`` fixture so the same bodies can run for AsyncClient when it lands.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import Any

import pytest

import httpr
from httpr._curl import counters
from tests.conftest import SHORT_TIMEOUT, assert_on_time
from tests.servers.app import payload
from tests.servers.raw import RawServer, read_request_head, serve_bytes


@pytest.fixture
def client(make_client: Any) -> Any:
    """A Client, or an AsyncClient driven through AsyncBridge (tests/conftest.py)."""
    return make_client(timeout=httpr.Timeout(5.0))


def echo(response: httpr.Response) -> dict[str, object]:
    data = response.json()
    assert isinstance(data, dict)
    return data


def wire_headers(response: httpr.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in echo(response)["headers"]]  # type: ignore[attr-defined]


def test_get_decodes_gzip_and_headers_describe_content(client: httpr.Client, server) -> None:
    r = client.get(f"{server.url}/gzip?size=5120")
    assert r.status_code == 200
    assert r.content == payload(5120)
    # api.md 6: when httpr decoded the body, the headers describe content.
    assert "content-encoding" not in r.headers
    assert "content-length" not in r.headers
    assert r.http_version == "HTTP/1.1"
    assert r.url == f"{server.url}/gzip?size=5120"
    assert r.request is not None and r.request.method == "GET"


def test_deflate_and_identity_bodies(client: httpr.Client, server) -> None:
    assert client.get(f"{server.url}/deflate?size=3000").content == payload(3000)
    r = client.get(f"{server.url}/bytes?size=70000")
    assert r.content == payload(70000)
    assert r.headers["content-length"] == "70000"
    assert client.get(f"{server.url}/chunked?size=9000&pieces=7").content == payload(9000)


def test_default_headers_on_the_wire(client: httpr.Client, server) -> None:
    sent = wire_headers(client.get(f"{server.url}/echo"))
    names = [k.lower() for k, _ in sent]
    values = dict((k.lower(), v) for k, v in sent)
    assert values["user-agent"] == f"python-httpr/{httpr.__version__}"
    assert values["accept"] == "*/*"
    assert "gzip" in values["accept-encoding"]
    # No framing for a GET without body, no Expect, no Connection (api.md 4.2, 4.3).
    for absent in ("content-length", "transfer-encoding", "expect", "connection"):
        assert absent not in names
    assert names.count("accept") == 1


def test_header_case_kept_and_request_headers_override(make_client, server) -> None:
    with make_client(headers={"X-MiXed": "client", "Accept": "text/plain"}) as c:
        sent = wire_headers(
            c.get(f"{server.url}/echo", headers=[("X-MiXed", "req"), ("X-Two", "1")])
        )
    assert ("X-MiXed", "req") in sent  # spelled as given on HTTP/1.1 (amendment 4.6)
    assert ("X-MiXed", "client") not in sent  # a request name replaces the client's values
    assert ("Accept", "text/plain") in sent
    assert ("X-Two", "1") in sent


def test_request_header_none_removes_a_default(client: httpr.Client, server) -> None:
    sent = wire_headers(client.get(f"{server.url}/echo", headers={"Accept": None}))
    assert "accept" not in [k.lower() for k, _ in sent]  # not even libcurl's own Accept


def test_empty_header_value_is_sent_empty(client: httpr.Client, server) -> None:
    """IN-09: an empty value arrives as an empty header."""
    sent = wire_headers(client.get(f"{server.url}/echo", headers={"X-Empty": ""}))
    assert ("X-Empty", "") in sent


def test_post_bytes(client: httpr.Client, server) -> None:
    body = bytes(range(256)) * 40
    data = echo(client.post(f"{server.url}/echo", content=body))
    assert data["method"] == "POST"
    assert data["body"] == body.decode("latin-1")
    sent = dict((k.lower(), v) for k, v in data["headers"])  # type: ignore[attr-defined]
    assert sent["content-length"] == str(len(body))
    assert "expect" not in sent  # libcurl's Expect: 100-continue is suppressed (design.md 8)
    assert "content-type" not in sent  # nor its form content type


def test_large_post_does_not_wait_for_100_continue(client: httpr.Client, server) -> None:
    body = b"x" * (2 * 1024 * 1024)  # above libcurl's 1 MiB Expect threshold
    start = time.perf_counter()
    data = echo(client.put(f"{server.url}/echo", content=body))
    assert data["body_len"] == len(body)
    assert time.perf_counter() - start < 0.9  # a 100-continue wait would cost 1 s


def test_post_without_body_sends_content_length_zero(client: httpr.Client, server) -> None:
    """IN-11: bodiless POST/PUT/PATCH send Content-Length: 0, DELETE none."""
    for method in ("POST", "PUT", "PATCH"):
        data = echo(client.request(method, f"{server.url}/echo"))
        sent = dict((k.lower(), v) for k, v in data["headers"])  # type: ignore[attr-defined]
        assert sent["content-length"] == "0", method
        assert data["method"] == method
    data = echo(client.delete(f"{server.url}/echo"))
    assert "content-length" not in [k.lower() for k, _ in data["headers"]]  # type: ignore[attr-defined]


def test_str_form_and_json_bodies(client: httpr.Client, server) -> None:
    data = echo(client.post(f"{server.url}/echo", content="héllo"))
    assert data["body"] == "héllo".encode().decode("latin-1")
    data = echo(client.post(f"{server.url}/echo", data={"a": "1 2", "b": ["x", "y"], "c": True}))
    assert data["body"] == "a=1+2&b=x&b=y&c=true"
    sent = dict((k.lower(), v) for k, v in data["headers"])  # type: ignore[attr-defined]
    assert sent["content-type"] == "application/x-www-form-urlencoded"
    data = echo(client.post(f"{server.url}/echo", json={"z": 1, "a": [1, "é"]}))
    assert data["body"] == '{"z":1,"a":[1,"é"]}'.encode().decode("latin-1")


def test_params_merge_and_encoding(make_client, server) -> None:
    with make_client(params={"a": "1", "keep": "k"}) as c:
        data = echo(c.get(f"{server.url}/echo?x=0", params={"a": ["2", "3"], "s": "a b"}))
    assert data["query"] == [["x", "0"], ["keep", "k"], ["a", "2"], ["a", "3"], ["s", "a b"]]


def test_any_token_method_is_upper_cased(client: httpr.Client, server) -> None:
    assert echo(client.request("purge", f"{server.url}/echo"))["method"] == "PURGE"
    assert client.options(f"{server.url}/echo").status_code == 200


def test_head_has_no_body_and_returns_promptly(client: httpr.Client, server) -> None:
    r = client.head(f"{server.url}/bytes?size=50000")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == "50000"
    # The connection stays usable: the next request on it is intact.
    assert client.get(f"{server.url}/bytes?size=10").content == payload(10)


def test_response_headers_keep_order_and_duplicates(client: httpr.Client, server) -> None:
    r = client.get(f"{server.url}/headers?Set-Cookie=a%3D1&X-A=1&Set-Cookie=b%3D2")
    assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert r.cookies == {"a": "1", "b": "2"}
    names = [k for k, _ in r.headers.multi_items()]
    assert names.index("set-cookie") < names.index("x-a")


def test_status_codes_never_raise_by_themselves(client: httpr.Client, server) -> None:
    r = client.get(f"{server.url}/status/404")
    assert r.status_code == 404 and r.reason_phrase == "Not Found" and r.is_error
    with pytest.raises(httpr.HTTPStatusError) as info:
        r.raise_for_status()
    assert info.value.response is r
    assert client.get(f"{server.url}/status/204").content == b""


def test_keep_alive_reuses_one_connection(make_client, server) -> None:
    before = server.connections_accepted
    with make_client() as c:
        timings = [c.get(f"{server.url}/bytes?size=100").timings for _ in range(20)]
    assert server.connections_accepted - before == 1
    assert timings[0].new_connection and not any(t.new_connection for t in timings[1:])
    assert timings[1].connect == 0.0 and timings[1].name_lookup == 0.0  # zeroed on reuse


def test_module_functions_use_a_short_lived_client(server) -> None:
    before = counters()
    r = httpr.get(f"{server.url}/bytes?size=10")
    assert r.content == payload(10)
    assert httpr.post(f"{server.url}/echo", content=b"abc").json()["body"] == "abc"
    after = counters()
    assert after["threads"] == before["threads"]  # each call's engine was joined
    assert after["engines"] == before["engines"]


def test_close_refuses_requests_and_releases_the_engine(make_client, server) -> None:
    """IN-14: a closed client raises ClientClosed, never reopens."""
    before = counters()
    c = make_client()
    assert counters()["threads"] == before["threads"]  # no thread until the first request
    c.get(f"{server.url}/bytes?size=1")  # a sync client runs its first one itself
    c.get(f"{server.url}/bytes?size=1")
    assert counters()["threads"] == before["threads"] + 1
    c.close()
    c.close()  # idempotent
    assert c.is_closed
    assert counters()["threads"] == before["threads"]
    assert counters()["engines"] == before["engines"]
    with pytest.raises(httpr.ClientClosed):
        c.get(f"{server.url}/bytes?size=1")
    with make_client() as c2:
        c2.get(f"{server.url}/bytes?size=1")
    with pytest.raises(httpr.ClientClosed):
        c2.get(f"{server.url}/bytes?size=1")


def test_threads_share_one_client(make_client, server) -> None:
    errors: list[BaseException] = []
    with make_client() as c:

        def work(n: int) -> None:
            try:
                for i in range(30):
                    size = 100 + n * 37 + i
                    r = c.get(f"{server.url}/bytes?size={size}")
                    assert r.content == payload(size)
            except BaseException as e:  # collected for the main thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert not errors


# -- failures ------------------------------------------------------------------------------


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def test_refused_connection_is_connect_error(client: httpr.Client) -> None:
    """FLT-14: a refused connection is ConnectError, promptly."""
    port = closed_port()
    start = time.perf_counter()
    with pytest.raises(httpr.ConnectError) as info:
        client.get(f"http://127.0.0.1:{port}/x")
    assert time.perf_counter() - start < 1.0
    assert f"GET http://127.0.0.1:{port}/x" in str(info.value)
    assert info.value.request is not None and info.value.request.method == "GET"


def test_stalled_server_is_read_timeout_on_time(make_client, raw_server) -> None:
    srv: RawServer = raw_server(serve_bytes(b"", then="hold"))
    with make_client(timeout=httpr.Timeout(5.0, read=SHORT_TIMEOUT)) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ReadTimeout) as info:
            c.get(f"{srv.url}/x")
    assert_on_time(time.perf_counter() - start, SHORT_TIMEOUT)
    assert "read timeout" in str(info.value)


def test_stalled_body_is_read_timeout(make_client, raw_server) -> None:
    """FLT-04: a short body on an open socket is ReadTimeout on time."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part"
    srv = raw_server(serve_bytes(head, then="hold"))
    with make_client(timeout=httpr.Timeout(5.0, read=SHORT_TIMEOUT)) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ReadTimeout):
            c.get(f"{srv.url}/x")
    assert_on_time(time.perf_counter() - start, SHORT_TIMEOUT)


def test_total_timeout(make_client, raw_server) -> None:
    srv = raw_server(serve_bytes(b"", then="hold"))
    with make_client(timeout=httpr.Timeout(5.0, total=SHORT_TIMEOUT)) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ReadTimeout) as info:
            c.get(f"{srv.url}/x")
    assert_on_time(time.perf_counter() - start, SHORT_TIMEOUT)
    assert "total timeout" in str(info.value)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"garbage that is not http\r\n\r\n", id="garbage"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", id="head-cut-with-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: b\r\n", id="head-cut"),
        pytest.param(b"", id="close-without-reply"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\n12 bytes 12", id="short-body"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            id="conflicting-length",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n",
            id="chunked-and-length",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 5abc\r\n\r\nhello", id="bad-length"),
    ],
)
def test_broken_replies_are_remote_protocol_errors(make_client, raw_server, reply: bytes) -> None:
    """FLT-01/02/03/08/09: no reply, a cut head, a short body, conflicting framing
    and garbage are RemoteProtocolError (all cases: tests/faults/test_server_faults.py)."""
    srv = raw_server(serve_bytes(reply, then="close"))
    with make_client(timeout=httpr.Timeout(5.0)) as c:
        with pytest.raises(httpr.RemoteProtocolError) as info:
            c.get(f"{srv.url}/x")
    assert f"GET {srv.url}/x" in str(info.value)


def test_oversized_head_is_refused(make_client, raw_server) -> None:
    """FLT-12: more than 1,000 header lines is RemoteProtocolError naming the cap."""
    lines = b"".join(b"X-%d: y\r\n" % i for i in range(1001))
    srv = raw_server(serve_bytes(b"HTTP/1.1 200 OK\r\n" + lines + b"\r\n", then="close"))
    with make_client() as c, pytest.raises(httpr.RemoteProtocolError, match="1000 lines"):
        c.get(f"{srv.url}/x")


def test_reset_mid_body_is_read_error(make_client, raw_server) -> None:
    """FLT-13: an RST mid-body is ReadError."""
    from tests.servers.raw import reset

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        time.sleep(0.05)
        reset(sock)

    srv = raw_server(handler)
    with make_client() as c, pytest.raises(httpr.ReadError):
        c.get(f"{srv.url}/x")


# -- bad input never leaves the process (R1, R9, R13) -----------------------------------------


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c, u: c.request("GE T", u), ValueError),
        (lambda c, u: c.request("CONNECT", u), ValueError),
        (lambda c, u: c.request(b"GET", u), TypeError),
        (lambda c, u: c.get(u, headers={"X-A": "a\r\nInjected: 1"}), ValueError),
        (lambda c, u: c.get(u, headers={"X A": "1"}), ValueError),
        (lambda c, u: c.get(u, headers={"X-A": 1}), TypeError),
        (lambda c, u: c.get(u, headers={"X-A": "nul\x00"}), ValueError),
        (lambda c, u: c.get(u + "/a\r\nb"), httpr.InvalidURL),
        (lambda c, u: c.get(u.replace("http", "ftp")), httpr.UnsupportedProtocol),
        (lambda c, u: c.get(u, headers={"Proxy-Authorization": "Basic eA=="}), ValueError),
        (lambda c, u: c.get(u, headers={"Transfer-Encoding": "chunked"}), ValueError),
        (lambda c, u: c.post(u, content=b"abc", headers={"Content-Length": "4"}), ValueError),
        (lambda c, u: c.post(u, content=b"a", json={"a": 1}), ValueError),
        (lambda c, u: c.post(u, json={"a": float("nan")}), ValueError),
        (lambda c, u: c.post(u, json={1, 2}), TypeError),
        (lambda c, u: c.post(u, data="a=1"), TypeError),
        (lambda c, u: c.get(u, params="a=1"), TypeError),
        (lambda c, u: c.get(u, params={"a": object()}), TypeError),
        (lambda c, u: c.get(u, timeout=-1), ValueError),
        (lambda c, u: c.get(u, timeout="1"), TypeError),
    ],
)
def test_bad_input_raises_before_any_connection(make_client, raw_server, call, error) -> None:
    """IN-05/06, IN-10, IN-13, IN-15: bad methods, headers, framing headers,
    bodies and schemes raise before any connection (each row: tests/client/test_bad_inputs.py)."""
    srv = raw_server(serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    with make_client() as c:
        with pytest.raises(error):
            call(c, srv.url)
    time.sleep(0.05)
    assert srv.connections_accepted == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timeout": float("nan")}, ValueError),
        ({"max_connections": 0}, ValueError),
        ({"max_connections": True}, TypeError),
        ({"http1_only": True, "http2_only": True}, ValueError),
        ({"headers": {"Bad Name": "x"}}, ValueError),
        ({"keepalive_expiry": -1}, ValueError),
        ({"max_response_size": 0}, ValueError),
        ({"unknown_option": 1}, TypeError),
    ],
)
def test_bad_client_options_raise_at_construction(make_client, kwargs, error) -> None:
    """IN-12: bad or conflicting options fail at construction."""
    with pytest.raises(error):
        make_client(**kwargs)


# -- Ctrl-C ---------------------------------------------------------------------------------


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_ctrl_c_interrupts_and_cancels_the_transfer(raw_server) -> None:
    """FLT-26 (Ctrl-C): SIGINT interrupts the wait promptly, aborts the transfer
    and leaves the client usable."""
    closed = threading.Event()

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        sock.settimeout(5.0)
        try:
            if sock.recv(1) == b"":  # the client went away: the transfer was cancelled
                closed.set()
        except OSError:
            closed.set()

    srv = raw_server(handler)
    before = counters()["in_flight"]
    with httpr.Client(timeout=None) as c:
        timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            c.get(f"{srv.url}/x")
        # The wait slice is 50 ms: the interrupt lands well within 200 ms of the signal.
        assert time.perf_counter() - start < 0.1 + 0.2
        timer.join()
        assert closed.wait(2.0), "the server never saw the connection close"
        deadline = time.monotonic() + 2.0
        while counters()["in_flight"] != before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert counters()["in_flight"] == before
        # The client stays usable after an interrupt.
        with pytest.raises(httpr.ReadTimeout):
            c.get(f"{srv.url}/y", timeout=httpr.Timeout(5.0, read=0.05))
