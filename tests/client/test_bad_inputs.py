"""Bad inputs (security.md section 3 "Bad inputs", R1, R9, R13): nothing may leave the process.

Each test names its checklist ID. A raw server captures the exact request bytes: a refused
input must leave it with no connection accepted at all (the rows' "raw bytes received (0)"),
and an accepted one must reach the wire encoded, never raw. Client and AsyncClient both.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

import httpr
from tests.conftest import LONG_TIMEOUT
from tests.servers.raw import Capture


@pytest.fixture
def capture(raw_server: Any) -> Capture:
    return Capture(raw_server)


@pytest.fixture
def client(make_client: Any) -> Any:
    return make_client(timeout=LONG_TIMEOUT)


def header_lines(head: bytes) -> list[bytes]:
    return head.split(b"\r\n")[1:-2]


# -- IN-01 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_url",
    [
        pytest.param(lambda base: "", id="empty"),
        pytest.param(lambda base: "http://", id="no-host"),
        pytest.param(lambda base: "://" + base[7:], id="no-scheme"),
        pytest.param(
            lambda base: base.replace("127.0.0.1", "127.0.0.1 x") + "/", id="space-in-host"
        ),
        pytest.param(lambda base: "http://[::1", id="unclosed-bracket"),
        pytest.param(lambda base: base.rsplit(":", 1)[0] + ":99999/", id="port-99999"),
        pytest.param(lambda base: "http://%00/", id="nul-host"),
        pytest.param(lambda base: base + "/" + "a" * 70000, id="70k-chars"),
    ],
)
def test_bad_urls_are_invalid_url_without_a_connect(
    client: Any, capture: Capture, make_url
) -> None:
    """IN-01: malformed URLs raise InvalidURL (the API's URL error); the raw server accepts
    nothing (figure: raw accepts 0)."""
    with pytest.raises(httpr.InvalidURL):
        client.get(make_url(capture.url))
    capture.assert_untouched()


# -- IN-03 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "needles"),
    [
        pytest.param({"X-A": 1}, ("'X-A'", "int"), id="value-int"),
        pytest.param({"X-A": object()}, ("'X-A'", "object"), id="value-object"),
        pytest.param({"X-A": b"\xff"}, ("'X-A'", "bytes"), id="value-bytes"),
        pytest.param({1: "a"}, ("name", "int"), id="name-int"),
        pytest.param({None: "a"}, ("name", "NoneType"), id="name-None"),
        pytest.param({object(): "a"}, ("name", "object"), id="name-object"),
        pytest.param({b"\xff": "a"}, ("name", "bytes"), id="name-non-utf8-bytes"),
    ],
)
def test_wrong_header_types_are_type_errors(
    client: Any, capture: Capture, headers: Any, needles: tuple[str, str]
) -> None:
    """IN-03: a header of the wrong type (`1`, `None` as a name, `object()`, a non-UTF-8
    bytes name) is TypeError naming the field and the type, before any I/O."""
    with pytest.raises(TypeError) as info:
        client.get(capture.url, headers=headers)
    for needle in needles:
        assert needle in str(info.value), str(info.value)
    capture.assert_untouched()


# -- IN-05/06 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-A": "a\r\nInjected: 1"}, id="crlf-value"),
        pytest.param({"X-A": "a\rb"}, id="cr-value"),
        pytest.param({"X-A": "a\nb"}, id="lf-value"),
        pytest.param({"X-A": "a\x00b"}, id="nul-value"),
        pytest.param({"X Y": "1"}, id="name-space"),
        pytest.param({"X:Y": "1"}, id="name-colon"),
        pytest.param({"": "1"}, id="name-empty"),
        pytest.param({"X-A\r\nB": "1"}, id="name-crlf"),
    ],
)
def test_injected_headers_are_refused(client: Any, capture: Capture, headers: Any) -> None:
    """IN-05/06: CR/LF/NUL in a header value, names `"X Y"`, `"X:Y"`, `""`: ValueError when
    the request is built; the raw server receives 0 bytes."""
    with pytest.raises(ValueError):
        client.get(capture.url, headers=headers)
    capture.assert_untouched()


def test_injected_client_headers_are_refused_at_construction(make_client: Any) -> None:
    """IN-05/06 for the client's own headers: refused when the client is built."""
    for headers in ({"X-A": "a\r\nb"}, {"X Y": "1"}, {"X:Y": "1"}, {"": "1"}):
        with pytest.raises(ValueError):
            make_client(headers=headers)


@pytest.mark.parametrize("method", ["GET\r\n", "GET\n", "G\x00T", "GE T", "", "GET /x HTTP/1.1"])
def test_injected_methods_are_refused(client: Any, capture: Capture, method: str) -> None:
    """IN-05/06: a method with CR/LF/NUL or a space, or empty: ValueError before any I/O."""
    with pytest.raises(ValueError):
        client.request(method, capture.url)
    capture.assert_untouched()


# -- IN-07/08 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, u: c.get(u + "/a\r\nInjected: 1"), id="crlf-path"),
        pytest.param(lambda c, u: c.get(u + "/?q=a\r\nInjected: 1"), id="crlf-query"),
        pytest.param(lambda c, u: c.get(u + "/#a\r\nb"), id="crlf-fragment"),
        pytest.param(lambda c, u: c.get(u + "/", params={"q": "a\r\nb"}), id="params-encoded"),
        pytest.param(lambda c, u: c.get(u + "/", cookies={"a": "b\r\nc"}), id="crlf-cookie-value"),
        pytest.param(lambda c, u: c.get(u + "/", cookies={"a\r\n": "b"}), id="crlf-cookie-name"),
        pytest.param(
            lambda c, u: c.get(u + "/", headers={"User-Agent": "a\r\nInjected: 1"}), id="crlf-ua"
        ),
        pytest.param(lambda c, u: c.get(u + "/", auth=("u\r\nx", "p")), id="crlf-auth-user"),
        pytest.param(lambda c, u: c.get(u + "/", auth=("u", "p\r\nx")), id="crlf-auth-password"),
    ],
)
def test_crlf_in_url_cookie_agent_auth_is_encoded_or_refused(
    client: Any, capture: Capture, call: Callable[[Any, str], Any]
) -> None:
    """IN-07/08: CR/LF in the path, query, a cookie, the user agent or the auth user is
    refused before any I/O, or percent-encoded: never a raw CR or LF on the wire."""
    try:
        call(client, capture.url)
    except ValueError:  # InvalidURL is a ValueError too
        capture.assert_untouched()
        return
    head = capture.only_head()
    assert head.count(b"\r\n") == len(header_lines(head)) + 2  # no extra line broke in
    assert b"Injected" not in head and b"\n" not in head.replace(b"\r\n", b"")
    assert b"a%0D%0Ab" in head.split(b" ")[1]  # the params case: encoded in the target


def test_crlf_in_a_proxy_url_is_refused(make_client: Any) -> None:
    """IN-07/08: a proxy URL with CR/LF (host or userinfo) is InvalidURL at construction."""
    for proxy in ("http://a\r\nb:8080", "http://u\r\nx:p@127.0.0.1:8080"):
        with pytest.raises(httpr.InvalidURL) as info:
            make_client(proxy=proxy)
        assert ":p@" not in str(info.value)  # the password is masked even here


def test_non_ascii_and_spaces_reach_the_wire_percent_encoded(client: Any, capture: Capture) -> None:
    """IN-07/08, the encoded branch: the request target is ASCII, percent-encoded."""
    client.get(capture.url + "/a b/é?x=é y")
    target = capture.only_head().split(b" ")[1]
    assert target == b"/a%20b/%C3%A9?x=%C3%A9%20y"


# -- IN-09 ----------------------------------------------------------------------------------------


def test_empty_header_value_arrives_empty(client: Any, capture: Capture) -> None:
    """IN-09: an empty value arrives as `X-Empty:` (httpr sends libcurl's `X-Empty;` form)."""
    client.get(capture.url, headers={"X-Empty": ""})
    assert b"X-Empty:" in header_lines(capture.only_head())


# -- IN-10 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda c, u: c.post(u, content=b"abc", headers={"Content-Length": "4"}), id="cl-4-of-3"
        ),
        pytest.param(
            lambda c, u: c.post(u, content=b"abc", headers={"Content-Length": "2"}), id="cl-2-of-3"
        ),
        pytest.param(lambda c, u: c.get(u, headers={"Content-Length": "5"}), id="cl-no-body"),
        pytest.param(
            lambda c, u: c.post(u, content=b"abc", headers={"Transfer-Encoding": "chunked"}),
            id="te-chunked",
        ),
        pytest.param(lambda c, u: c.get(u, headers={"Transfer-Encoding": "gzip"}), id="te-gzip"),
    ],
)
def test_user_framing_headers_that_disagree_are_refused(
    client: Any, capture: Capture, call: Callable[[Any, str], Any]
) -> None:
    """IN-10: a user Content-Length that differs from the body, or any user
    Transfer-Encoding: one documented outcome, ValueError before I/O."""
    with pytest.raises(ValueError):
        call(client, capture.url)
    capture.assert_untouched()


def test_user_content_length_matching_the_body_is_sent_once(client: Any, capture: Capture) -> None:
    """IN-10: a matching user Content-Length goes out once, with the body: a consistent wire."""
    client.post(capture.url, content=b"abc", headers={"Content-Length": "3"})
    ((head, body),) = capture.requests
    lines = [line.lower() for line in header_lines(head)]
    assert lines.count(b"content-length: 3") == 1
    assert not any(line.startswith(b"transfer-encoding") for line in lines)
    assert body == b"abc"


# -- IN-11 ----------------------------------------------------------------------------------------


def test_bodiless_post_put_patch_send_length_zero_and_get_none(
    client: Any, capture: Capture
) -> None:
    """IN-11: POST/PUT/PATCH without a body carry `Content-Length: 0`; GET carries none."""
    for method in ("POST", "PUT", "PATCH", "GET"):
        client.request(method, capture.url)
    for method, (head, body) in zip(("POST", "PUT", "PATCH", "GET"), capture.requests):
        assert head.startswith(method.encode() + b" ")
        lines = [line.lower() for line in header_lines(head)]
        framing = [line for line in lines if line.startswith((b"content-length", b"transfer-"))]
        assert framing == ([] if method == "GET" else [b"content-length: 0"]), method
        assert body == b""


# -- IN-12/13/14 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"timeout": -1}, ValueError, id="negative-timeout"),
        pytest.param({"timeout": float("nan")}, ValueError, id="nan-timeout"),
        pytest.param({"timeout": -0.5}, ValueError, id="negative-float-timeout"),
        pytest.param({"ca_cert_file": "/nonexistent/ca.pem"}, FileNotFoundError, id="missing-ca"),
        pytest.param({"http1_only": True, "http2_only": True}, ValueError, id="conflicting"),
    ],
)
def test_bad_options_fail_at_construction(make_client: Any, kwargs: Any, error: type) -> None:
    """IN-12: negative/NaN timeouts, a missing CA file, conflicting options: a clear error
    when the client is built (a Timeout(read=-1) fails even earlier, when it is built)."""
    with pytest.raises(error):
        make_client(**kwargs)
    with pytest.raises(ValueError):
        httpr.Timeout(5.0, read=-1)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, u: c.post(u, content=123), id="int-content"),
        pytest.param(lambda c, u: c.post(u, content=object()), id="object-content"),
        pytest.param(lambda c, u: c.post(u, data="a=1"), id="str-data"),
        pytest.param(lambda c, u: c.post(u, json={1, 2}), id="set-json"),
        pytest.param(lambda c, u: c.get(u, timeout=-1), id="negative-request-timeout"),
    ],
)
def test_wrong_body_types_fail_at_use(client: Any, capture: Capture, call: Any) -> None:
    """IN-13: a wrong body type (or a bad per-request timeout) fails when the request is
    built: TypeError for a type, ValueError for a value; nothing is sent."""
    with pytest.raises((TypeError, ValueError)):
        call(client, capture.url)
    capture.assert_untouched()


def test_closed_client_and_closed_stream(make_client: Any, capture: Capture) -> None:
    """IN-14: a closed client raises ClientClosed before I/O (never reopens); a closed stream
    raises StreamClosed."""
    c = make_client(timeout=LONG_TIMEOUT)
    c.close()
    with pytest.raises(httpr.ClientClosed):
        c.get(capture.url)
    capture.assert_untouched()
    with httpr.Client(timeout=LONG_TIMEOUT) as sync, sync.stream("GET", capture.url) as r:
        r.close()
        with pytest.raises(httpr.StreamClosed):
            r.read()


# -- IN-15 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["file", "ftp", "gopher", "dict", "ldap", "telnet", "FTP"])
def test_other_schemes_are_unsupported_without_io(
    client: Any, capture: Capture, scheme: str
) -> None:
    """IN-15: `file:`, `ftp:`, `gopher:`, `dict:`, `ldap:`, `telnet:` raise
    UnsupportedProtocol with no I/O (PROTOCOLS_STR is the second fence, read back by SEC-19)."""
    url = capture.url.replace("http", scheme, 1)
    with pytest.raises(httpr.UnsupportedProtocol):
        client.get(url)
    capture.assert_untouched()


def test_mixed_case_scheme_is_accepted(client: Any, capture: Capture) -> None:
    """IN-15: `hTtP://` is http (schemes are case-insensitive)."""
    assert client.get(capture.url.replace("http", "hTtP", 1) + "/mixed").status_code == 200
    assert capture.only_head().startswith(b"GET /mixed HTTP/1.1\r\n")


# -- SEC-17 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_url",
    [
        pytest.param(lambda p: f"http://127.0.0.1%2F.x.invalid:{p}/", id="pct-2F-in-host"),
        pytest.param(lambda p: f"http://a@b@127.0.0.1:{p}/", id="a@b@host"),
        pytest.param(lambda p: f"http://x.invalid\\@127.0.0.1:{p}/", id="backslash-before-@"),
        pytest.param(lambda p: f"http://127\uff0e0\uff0e0\uff0e1:{p}/", id="full-width-dot"),
        pytest.param(lambda p: f"http://127\u30020\u30020\u30021:{p}/", id="ideographic-dot"),
        pytest.param(lambda p: f"http://u:p@127.0.0.1:{p}@x.invalid/", id="host-after-last-@"),
    ],
)
def test_parser_differentials(client: Any, capture: Capture, make_url: Any) -> None:
    """SEC-17: `%2F` in the host, `a@b@host`, `\\` before `@`, full-width dots: rejected
    before I/O, or the host httpr parsed is the host it connected to (libcurl gets exactly
    the validated URL): the raw server is reached only when the parsed host is 127.0.0.1."""
    from httpr._urls import parse_url

    url = make_url(capture.srv.port)
    try:
        parsed = parse_url(url)
    except httpr.InvalidURL:
        with pytest.raises(httpr.InvalidURL):
            client.get(url)
        capture.assert_untouched()
        return
    if parsed.host != "127.0.0.1":
        with pytest.raises(httpr.ConnectError, match=parsed.host):
            client.get(url)
        capture.assert_untouched()
        return
    r = client.get(url)
    assert r.request.url.startswith(f"http://127.0.0.1:{capture.srv.port}/")
    assert capture.srv.connections_accepted == 1
    host_lines = [ln for ln in header_lines(capture.only_head()) if ln.lower().startswith(b"host:")]
    assert host_lines == [b"Host: 127.0.0.1:%d" % capture.srv.port]
