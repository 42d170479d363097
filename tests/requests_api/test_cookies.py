"""Cookies on the wire (api.md 2 `cookies`/`cookie_store` rows, properties `cookies` and
`cookie_jar`, 4 `cookies`, 10; security.md R1, R4, SEC-03; amendment 4.1).

Responses set cookies through the app server's /headers?Set-Cookie=...; what the client
sends back is read from /echo. Host scoping uses 127.0.0.1 vs localhost (same server),
port independence uses ``other_server``, Secure uses ``tls_app``.
"""

from __future__ import annotations

import http.cookiejar
from typing import Any
from urllib.parse import quote

import pytest

import httpr
from tests.requests_api._support import values, with_host
from tests.servers.raw import serve_bytes


def set_cookie(base: str, *cookies: str) -> str:
    """A /headers URL on `base` whose response carries one Set-Cookie line per cookie."""
    return f"{base}/headers?" + "&".join(f"Set-Cookie={quote(c, safe='')}" for c in cookies)


def cookie_header(response: Any) -> list[str]:
    """Every Cookie line /echo received."""
    return values(response, "Cookie")


# -- the jar -------------------------------------------------------------------------------------


def test_jar_stores_and_replays(new_client: Any, server: Any) -> None:
    """api.md 10: the jar stores every Set-Cookie and sends matching cookies, in one Cookie
    header, in RFC 6265 order (same path: oldest first)."""
    c = new_client()
    r = c.get(set_cookie(server.url, "a=1", "b=2; Path=/"))
    assert r.cookies == {"a": "1", "b": "2"}
    assert cookie_header(c.get(f"{server.url}/echo")) == ["a=1; b=2"]
    c.get(set_cookie(server.url, "a=3"))  # replaces a, keeps its creation time
    assert cookie_header(c.get(f"{server.url}/echo")) == ["a=3; b=2"]


def test_longer_paths_first(new_client: Any, server: Any) -> None:
    """api.md 10 (RFC 6265 5.4 order): cookies with longer paths are listed first."""
    c = new_client()
    c.get(set_cookie(server.url, "short=1; Path=/", "long=2; Path=/echo"))
    assert cookie_header(c.get(f"{server.url}/echo")) == ["long=2; short=1"]


def test_max_age_zero_deletes(new_client: Any, server: Any) -> None:
    """api.md 10: Max-Age=0 (or a past Expires) deletes a stored cookie."""
    c = new_client()
    c.get(set_cookie(server.url, "a=1", "b=2"))
    past = "Thu, 01 Jan 1970 00:00:01 GMT"
    c.get(set_cookie(server.url, "a=gone; Max-Age=0", f"b=gone; Expires={past}"))
    assert cookie_header(c.get(f"{server.url}/echo")) == []
    assert list(c.cookie_jar) == []


def test_cookie_store_false(new_client: Any, server: Any) -> None:
    """api.md 2 `cookie_store=False`, 10: nothing stored or replayed; Response.cookies
    still shows the Set-Cookie of the response; cookie_jar stays empty."""
    c = new_client(cookie_store=False)
    r = c.get(set_cookie(server.url, "a=1"))
    assert r.cookies == {"a": "1"}
    assert cookie_header(c.get(f"{server.url}/echo")) == []
    assert list(c.cookie_jar) == []
    assert c.cookie_jar.get("a") is None


def test_response_cookies_only_this_response(new_client: Any, server: Any) -> None:
    """api.md 6 `cookies`, 10: Response.cookies holds this response's Set-Cookie only, not
    the jar nor earlier responses; rejected cookies are listed too."""
    c = new_client()
    c.get(set_cookie(server.url, "a=1"))
    r = c.get(set_cookie(server.url, "b=2", "bad=3; Domain=example.com"))
    assert r.cookies == {"b": "2", "bad": "3"}
    assert c.get(f"{server.url}/echo").cookies == {}
    assert c.cookie_jar.get("bad") is None


# -- scoping -----------------------------------------------------------------------------------


def test_host_only_cookies_stay_on_their_host(new_client: Any, server: Any) -> None:
    """api.md 10, R4: a host-only cookie of 127.0.0.1 is not sent to localhost and the
    other way round."""
    local = with_host(server.url, "localhost")
    c = new_client()
    c.get(set_cookie(server.url, "ip=1"))
    c.get(set_cookie(local, "name=2"))
    assert cookie_header(c.get(f"{server.url}/echo")) == ["ip=1"]
    assert cookie_header(c.get(f"{local}/echo")) == ["name=2"]


def test_cookies_ignore_the_port(new_client: Any, server: Any, other_server: Any) -> None:
    """api.md 10 (RFC 6265 8.5): cookies do not depend on the port."""
    c = new_client()
    c.get(set_cookie(server.url, "a=1"))
    assert cookie_header(c.get(f"{other_server.url}/echo")) == ["a=1"]


def test_domain_not_covering_the_host_rejected(new_client: Any, server: Any) -> None:
    """api.md 10, R4, SEC-03: a Domain that does not cover the response host, or a public
    suffix, is rejected."""
    local = with_host(server.url, "localhost")
    c = new_client()
    c.get(set_cookie(local, "d=1; Domain=127.0.0.1", "e=2; Domain=example.com", "f=3; Domain=.com"))
    assert cookie_header(c.get(f"{server.url}/echo")) == []
    assert cookie_header(c.get(f"{local}/echo")) == []
    assert list(c.cookie_jar) == []


def test_path_scoping(new_client: Any, server: Any) -> None:
    """api.md 10: a cookie is sent only to paths its Path matches."""
    c = new_client()
    c.get(set_cookie(server.url, "in=1; Path=/echo", "out=2; Path=/other", "deep=3; Path=/echo/x"))
    assert cookie_header(c.get(f"{server.url}/echo")) == ["in=1"]


def test_secure_cookies_over_https_only(new_client: Any, server: Any, tls_app: Any) -> None:
    """api.md 10, R4, SEC-03: a Secure cookie set over https is sent over https only; a
    cookie without Secure goes to both schemes of the host."""
    c = new_client()
    c.get(set_cookie(tls_app.url, "s=1; Secure", "n=2"))
    assert cookie_header(c.get(f"{tls_app.url}/echo")) == ["s=1; n=2"]
    assert cookie_header(c.get(f"{server.url}/echo")) == ["n=2"]


def test_secure_cookie_set_over_http_rejected(new_client: Any, server: Any, tls_app: Any) -> None:
    """api.md 10, R4, SEC-03: a Secure cookie set over plain http is not stored."""
    c = new_client()
    c.get(set_cookie(server.url, "s=1; Secure"))
    assert cookie_header(c.get(f"{tls_app.url}/echo")) == []
    assert c.cookie_jar.get("s") is None


# -- explicit cookies and the one Cookie header ------------------------------------------------


def test_client_and_request_cookies_sent(new_client: Any, server: Any) -> None:
    """api.md 10: client cookies go with every request, request cookies with that request."""
    c = new_client(cookies={"c": "1"})
    assert cookie_header(c.get(f"{server.url}/echo")) == ["c=1"]
    assert cookie_header(c.get(f"{server.url}/echo", cookies={"r": "2"})) == ["c=1; r=2"]
    assert cookie_header(c.get(f"{server.url}/echo")) == ["c=1"]


def test_one_cookie_header_order_and_precedence(new_client: Any, server: Any) -> None:
    """api.md 10: one Cookie header: jar cookies, then client cookies, then request
    cookies; a name in several sources appears once, at its first position, with the value
    of the most specific source (request > client > jar)."""
    c = new_client(cookies={"x": "client", "z": "c", "y": "client"})
    c.get(set_cookie(server.url, "x=jar", "y=jar"))
    r = c.get(f"{server.url}/echo", cookies={"w": "r", "x": "req"})
    assert cookie_header(r) == ["x=req; y=client; z=c; w=r"]
    assert r.request.headers.get_list("cookie") == ["x=req; y=client; z=c; w=r"]


def test_explicit_cookies_never_change_the_jar_or_client(new_client: Any, server: Any) -> None:
    """api.md 10: explicit cookies never change the jar; request cookies never change
    client.cookies."""
    c = new_client(cookies={"c": "1"})
    c.get(f"{server.url}/echo", cookies={"r": "2"})
    assert list(c.cookie_jar) == []
    assert c.cookies == {"c": "1"}


def test_raw_cookie_header_sent_as_given(new_client: Any, server: Any) -> None:
    """api.md 10: a raw Cookie header (client or request headers) is sent as given and
    nothing else is added, neither jar nor explicit cookies."""
    c = new_client(headers={"Cookie": "raw=1; x=y"}, cookies={"c": "1"})
    c.get(set_cookie(server.url, "jar=1"))
    assert cookie_header(c.get(f"{server.url}/echo", cookies={"r": "2"})) == ["raw=1; x=y"]
    r = c.get(f"{server.url}/echo", headers={"Cookie": "req=raw"})
    assert cookie_header(r) == ["req=raw"]
    r = new_client().get(f"{server.url}/echo", headers=[("Cookie", "a=1")])
    assert cookie_header(r) == ["a=1"]


def test_request_cookie_none_header_removes_nothing_else(new_client: Any, server: Any) -> None:
    """api.md 4.2, 10: removing a client raw Cookie header per request (value None) lets
    the built Cookie header through again."""
    c = new_client(headers={"Cookie": "raw=1"}, cookies={"c": "1"})
    r = c.get(f"{server.url}/echo", headers={"Cookie": None})
    assert cookie_header(r) == ["c=1"]


# -- validation --------------------------------------------------------------------------------

BAD_COOKIES = [
    {"a": "x;y"},
    {"a": "x\r\ny"},
    {"a": "x\ny"},
    {"a": "x\ry"},
    {"a": "x\x00y"},
    {"a b": "1"},
    {"a=b": "1"},
    {"a;b": "1"},
    {"": "1"},
]
BAD_IDS = ["semicolon", "crlf", "lf", "cr", "nul", "space-in-name", "equals-in-name",
           "semicolon-in-name", "empty-name"]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_COOKIES, ids=BAD_IDS)
def test_bad_cookies_rejected_before_io(
    new_client: Any, raw_server: Any, bad: dict[str, str]
) -> None:
    """api.md 2 `cookies` (name a token; no ';', CR, LF, NUL in the value), R1: ValueError
    at construction, at the setter and per request, before I/O."""
    srv = raw_server(serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    with pytest.raises(ValueError):
        new_client(cookies=bad)
    c = new_client(cookies={"ok": "1"})
    with pytest.raises(ValueError):
        c.cookies = bad
    assert c.cookies == {"ok": "1"}
    with pytest.raises(ValueError):
        c.get(f"{srv.url}/", cookies=bad)
    assert srv.connections_accepted == 0


@pytest.mark.parametrize("bad", ["a=1", [("a", "1")], {"a": 1}, {1: "a"}], ids=str)
def test_wrong_cookie_types(new_client: Any, bad: Any) -> None:
    """api.md 2, 4: cookies is a Mapping[str, str]; other types -> TypeError."""
    with pytest.raises(TypeError):
        new_client(cookies=bad)


# -- client.cookies and client.cookie_jar ------------------------------------------------------


def test_cookies_property(new_client: Any, server: Any) -> None:
    """api.md 2 properties: `cookies` is a dict copy of the explicit client cookies (never
    the jar); a mapping replaces them; None removes all; it is what is sent."""
    c = new_client(cookies={"a": "1"})
    assert c.cookies == {"a": "1"} and isinstance(c.cookies, dict)
    c.get(set_cookie(server.url, "jar=1"))
    assert c.cookies == {"a": "1"}  # never the jar
    copy = c.cookies
    copy["b"] = "2"
    assert c.cookies == {"a": "1"}  # a copy
    c.cookies = {"b": "2"}
    assert c.cookies == {"b": "2"}
    assert cookie_header(c.get(f"{server.url}/echo")) == ["jar=1; b=2"]
    c.cookies = None
    assert c.cookies == {}
    assert cookie_header(c.get(f"{server.url}/echo")) == ["jar=1"]
    assert new_client().cookies == {}


def test_cookie_jar_iterate_get_clear(new_client: Any, server: Any) -> None:
    """api.md 10, amendment 4.1: cookie_jar iterates http.cookiejar.Cookie snapshots;
    get(name, domain, path) returns the value or None, several matches -> CookieConflict;
    clear(domain) removes that domain's cookies, clear() all."""
    local = with_host(server.url, "localhost")
    c = new_client()
    jar = c.cookie_jar
    assert c.cookie_jar is jar
    c.get(set_cookie(server.url, "a=1", "same=ip"))
    c.get(set_cookie(local, "b=2", "same=name; Path=/echo"))
    cookies = list(jar)
    assert all(isinstance(k, http.cookiejar.Cookie) for k in cookies)
    assert sorted((k.name, k.value, k.domain) for k in cookies) == [
        ("a", "1", "127.0.0.1"),
        ("b", "2", "localhost"),
        ("same", "ip", "127.0.0.1"),
        ("same", "name", "localhost"),
    ]
    assert jar.get("a") == "1"
    assert jar.get("missing") is None
    with pytest.raises(httpr.CookieConflict):
        jar.get("same")
    assert jar.get("same", domain="localhost") == "name"
    assert jar.get("same", path="/echo") == "name"
    assert jar.get("same", domain="127.0.0.1", path="/") == "ip"
    jar.clear(domain="localhost")
    assert sorted(k.name for k in jar) == ["a", "same"]
    assert cookie_header(c.get(f"{local}/echo")) == []
    jar.clear()
    assert list(jar) == []
    assert cookie_header(c.get(f"{server.url}/echo")) == []


def test_cookie_jar_is_read_only(new_client: Any) -> None:
    """api.md 2 properties: cookie_jar has no setter."""
    c = new_client()
    with pytest.raises(AttributeError):
        c.cookie_jar = None
    assert isinstance(c.cookie_jar, httpr.CookieJar)


def test_jars_are_per_client(new_client: Any, server: Any) -> None:
    """api.md 10: one jar per client, never shared."""
    a, b = new_client(), new_client()
    a.get(set_cookie(server.url, "a=1"))
    assert cookie_header(b.get(f"{server.url}/echo")) == []
    assert list(b.cookie_jar) == []
