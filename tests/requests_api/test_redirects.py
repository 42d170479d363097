"""Redirects (api.md 2 `follow_redirects`/`max_redirects`/`referer`/`https_only`, 4
`follow_redirects`, 6 `history`, 9, 13 size cap; security.md R2, R4, R5, R9, R11, SEC-01,
SEC-04..07, SEC-13, SEC-18; amendments 1.8, 1.9, 3.8).

Origins: ``server`` (http://127.0.0.1:P), the same server as http://localhost:P (other
host), ``other_server`` (other port), ``tls_app`` (https). Redirects come from the app
server's /redirect?to=URL&code=N; what a hop cannot express there (Set-Cookie on a 3xx,
malformed Location, big 3xx bodies, loops) comes from raw servers.
"""

from __future__ import annotations

import io
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any, Callable

import pytest

import httpr
from tests.requests_api._support import (
    basic,
    body_bytes,
    echo,
    redirect,
    values,
    with_host,
)
from tests.servers.app import payload
from tests.servers.raw import RawServer, read_request, serve_bytes

OK_EMPTY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


def target_server(raw_server: Callable[..., RawServer]) -> RawServer:
    """A raw server that must never be contacted: tests assert connections_accepted == 0."""
    return raw_server(serve_bytes(OK_EMPTY))


def raw_redirect(location: bytes, extra: bytes = b"", body: bytes = b"") -> bytes:
    """A 302 response head (+ body) with the given Location bytes."""
    head = b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\n" + extra
    if b"transfer-encoding" not in extra.lower():
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def body_source(kind: str, chunks: list[bytes]) -> Any:
    """A non-replayable body: a generator (Client) or an async generator (AsyncClient)."""
    if kind == "sync":

        def gen() -> Iterator[bytes]:
            yield from chunks

        return gen()

    async def agen() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return agen()


class ReadOnly:
    """A file-like body with only read(): no seek/tell, so it cannot be rewound."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = len(self._data)
        out, self._data = self._data[:n], self._data[n:]
        return out


# -- following -------------------------------------------------------------------------------


def test_redirects_followed_by_default(new_client: Any, server: Any) -> None:
    """api.md 2 (`follow_redirects=True`), 9: a 302 with Location is followed."""
    start = redirect(server.url, "/echo")
    r = new_client().get(start)
    assert r.status_code == 200
    assert r.url == f"{server.url}/echo"
    assert echo(r)["method"] == "GET"
    assert [h.status_code for h in r.history] == [302]
    assert r.history[0].url == start
    assert r.history[0].headers["location"] == "/echo"


@pytest.mark.parametrize("code", REDIRECT_STATUSES)
def test_every_redirect_status_is_followed(new_client: Any, server: Any, code: int) -> None:
    """api.md 9: 301, 302, 303, 307 and 308 with Location are followed."""
    r = new_client().get(redirect(server.url, "/echo", code))
    assert r.status_code == 200 and [h.status_code for h in r.history] == [code]


@pytest.mark.parametrize("code", [300, 304, 305, 306, 399])
def test_other_3xx_returned_as_is(new_client: Any, server: Any, code: int) -> None:
    """api.md 9: other 3xx are returned as is, even with a Location."""
    r = new_client().get(redirect(server.url, "/echo", code))
    assert r.status_code == code and r.history == []


def test_3xx_without_location_returned(new_client: Any, server: Any) -> None:
    """api.md 9: a redirect status without Location is returned as is."""
    r = new_client().get(f"{server.url}/status/302")
    assert r.status_code == 302 and r.history == []
    assert not r.has_redirect_location


def test_request_follow_redirects_false(new_client: Any, server: Any) -> None:
    """api.md 4 `follow_redirects`: False on the request returns the 3xx itself."""
    c = new_client()
    start = redirect(server.url, "/echo")
    r = c.get(start, follow_redirects=False)
    assert r.status_code == 302 and r.history == [] and r.url == start
    assert r.has_redirect_location and r.headers["location"] == "/echo"
    assert c.get(start).status_code == 200  # the client default is untouched


def test_request_follow_redirects_overrides_client(new_client: Any, server: Any) -> None:
    """api.md 4: None means the client's value; True/False override it for one request."""
    c = new_client(follow_redirects=False)
    start = redirect(server.url, "/echo")
    assert c.get(start).status_code == 302
    assert c.get(start, follow_redirects=None).status_code == 302
    assert c.get(start, follow_redirects=True).status_code == 200


def test_follow_redirects_type_checked(new_client: Any, server: Any) -> None:
    """api.md 4: wrong types raise TypeError naming the parameter, before I/O."""
    with pytest.raises(TypeError, match="follow_redirects"):
        new_client().get(f"{server.url}/echo", follow_redirects="yes")


# -- method and body (R5, SEC-07) -------------------------------------------------------------

DROPPED = {301: True, 302: True, 303: True, 307: False, 308: False}


@pytest.mark.parametrize("code", REDIRECT_STATUSES)
def test_post_redirect_method_and_body(new_client: Any, server: Any, code: int) -> None:
    """api.md 9 table, R5, SEC-07: POST via 301/302/303 becomes a GET without body and
    without Content-Type/Content-Length; via 307/308 it stays a POST with its body."""
    r = new_client().post(redirect(server.url, "/echo", code), data={"k": "v"})
    doc = echo(r)
    sent = {k.lower(): v for k, v in doc["headers"]}
    assert r.history[0].request.method == "POST"
    if DROPPED[code]:
        assert doc["method"] == "GET"
        assert doc["body"] == ""
        for name in ("content-type", "content-length", "transfer-encoding"):
            assert name not in sent, name
        assert r.request.content == b""
    else:
        assert doc["method"] == "POST"
        assert doc["body"] == "k=v"
        assert sent["content-type"] == "application/x-www-form-urlencoded"
        assert sent["content-length"] == "3"
    assert r.request.method == doc["method"]


@pytest.mark.parametrize(
    ("method", "code", "expected_method", "body_kept"),
    [
        ("PUT", 301, "PUT", True),
        ("PUT", 302, "PUT", True),
        ("PATCH", 302, "PATCH", True),
        ("DELETE", 302, "DELETE", True),
        ("PUT", 303, "GET", False),
        ("DELETE", 303, "GET", False),
        ("PATCH", 303, "GET", False),
        ("PUT", 307, "PUT", True),
        ("PATCH", 308, "PATCH", True),
    ],
)
def test_other_methods_redirect_table(
    new_client: Any, server: Any, method: str, code: int, expected_method: str, body_kept: bool
) -> None:
    """api.md 9 table: 301/302 keep methods other than POST (and their body); 303 makes any
    method but HEAD a GET without body; 307/308 keep method and body."""
    r = new_client().request(
        method,
        redirect(server.url, "/echo", code),
        content=b"payload",
        headers={"Content-Type": "text/plain"},
    )
    doc = echo(r)
    sent = {k.lower(): v for k, v in doc["headers"]}
    assert doc["method"] == expected_method
    if body_kept:
        assert body_bytes(r) == b"payload"
        assert sent["content-type"] == "text/plain"
    else:
        assert doc["body"] == ""
        assert "content-type" not in sent and "content-length" not in sent


@pytest.mark.parametrize("code", REDIRECT_STATUSES)
def test_head_stays_head(new_client: Any, server: Any, code: int) -> None:
    """api.md 9, amendment 1.8, R5: HEAD stays HEAD, also via 303."""
    r = new_client().head(redirect(server.url, "/echo", code))
    assert r.status_code == 200
    assert r.request.method == "HEAD"
    assert r.url == f"{server.url}/echo"
    assert r.content == b""


def test_get_via_303_stays_get(new_client: Any, server: Any) -> None:
    """api.md 9 table: 303 -> GET."""
    assert echo(new_client().get(redirect(server.url, "/echo", 303)))["method"] == "GET"


@pytest.mark.parametrize("code", [307, 308])
def test_307_308_non_replayable_iterator_body_raises(
    new_client: Any, server: Any, raw_server: Any, code: int
) -> None:
    """api.md 9, amendment 3.8, R5: a body that cannot be replayed (an iterator) on 307/308
    raises RequestError with .request set, without a request to the target."""
    target = target_server(raw_server)
    start = redirect(server.url, f"{target.url}/", code)
    c = new_client()
    with pytest.raises(httpr.RequestError) as info:
        c.post(start, content=body_source(new_client.kind, [b"a", b"b"]))
    assert info.value.request is not None
    assert target.connections_accepted == 0
    assert c.get(f"{server.url}/echo").status_code == 200  # the client stays usable


def test_307_non_seekable_file_body_raises(new_client: Any, server: Any, raw_server: Any) -> None:
    """api.md 9 table: a non-seekable file cannot be resent on 307 -> RequestError."""
    target = target_server(raw_server)
    with pytest.raises(httpr.RequestError) as info:
        new_client().post(redirect(server.url, f"{target.url}/", 307), content=ReadOnly(b"data"))
    assert info.value.request is not None
    assert target.connections_accepted == 0


@pytest.mark.parametrize("code", [307, 308])
def test_307_308_seekable_file_body_rewound(new_client: Any, server: Any, code: int) -> None:
    """api.md 9: file and seekable bodies are rewound and resent whole."""
    f = io.BytesIO(b"0123456789" * 10)
    r = new_client().put(redirect(server.url, "/echo", code), content=f)
    assert echo(r)["method"] == "PUT"
    assert body_bytes(r) == b"0123456789" * 10


def test_301_post_iterator_body_is_simply_dropped(new_client: Any, server: Any) -> None:
    """api.md 9: via 301/302/303 a POST body is dropped, so an iterator body is no problem."""
    r = new_client().post(
        redirect(server.url, "/echo", 301), content=body_source(new_client.kind, [b"x"])
    )
    assert echo(r)["method"] == "GET" and echo(r)["body"] == ""


# -- limits and loops (SEC-06) ---------------------------------------------------------------


def chain(base: str, final: str, hops: int) -> list[str]:
    """URLs u0..u(hops-1), each redirecting to the next, the last to `final`; u0 first."""
    urls = [final]
    for _ in range(hops):
        urls.append(redirect(base, urls[-1]))
    return list(reversed(urls))[:-1]


def test_max_redirects_limit(new_client: Any, server: Any) -> None:
    """api.md 9, SEC-06: at most max_redirects hops; the next one raises TooManyRedirects
    naming the URL whose redirect exceeded the limit."""
    final = f"{server.url}/echo"
    c = new_client(max_redirects=2)
    r = c.get(chain(server.url, final, 2)[0])
    assert r.url == final and len(r.history) == 2
    urls = chain(server.url, final, 3)
    with pytest.raises(httpr.TooManyRedirects) as info:
        c.get(urls[0])
    assert urls[2] in str(info.value)
    assert info.value.request is not None


def test_max_redirects_zero_raises_on_first(new_client: Any, server: Any, raw_server: Any) -> None:
    """api.md 9: max_redirects=0 raises on the first redirect, without a request to the
    target; follow_redirects=False still returns the 3xx."""
    target = target_server(raw_server)
    c = new_client(max_redirects=0)
    with pytest.raises(httpr.TooManyRedirects):
        c.get(redirect(server.url, f"{target.url}/"))
    assert target.connections_accepted == 0
    assert c.get(redirect(server.url, "/echo"), follow_redirects=False).status_code == 302


def test_max_redirects_validated(new_client: Any) -> None:
    """api.md 2: negative -> ValueError, a bool or float -> TypeError."""
    with pytest.raises(ValueError, match="max_redirects"):
        new_client(max_redirects=-1)
    with pytest.raises(TypeError, match="max_redirects"):
        new_client(max_redirects=1.5)


def loop_server(raw_server: Any) -> tuple[RawServer, list[bytes]]:
    """A server answering every request with 302 -> /loop (keep-alive); it records heads."""
    heads: list[bytes] = []

    def handler(sock: socket.socket) -> None:
        while True:
            head, _ = read_request(sock)
            if not head.endswith(b"\r\n\r\n"):
                return
            heads.append(head)
            sock.sendall(b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n")

    return raw_server(handler), heads


@pytest.mark.parametrize("limit", [None, 3])
def test_redirect_loop_ends_at_the_limit(
    new_client: Any, raw_server: Any, limit: int | None
) -> None:
    """api.md 9, SEC-06: a loop ends with TooManyRedirects after exactly max_redirects
    hops (default 20): 1 + max_redirects requests reach the server."""
    srv, heads = loop_server(raw_server)
    c = new_client() if limit is None else new_client(max_redirects=limit)
    with pytest.raises(httpr.TooManyRedirects) as info:
        c.get(f"{srv.url}/loop")
    assert len(heads) == 1 + (20 if limit is None else limit)
    assert f"{srv.url}/loop" in str(info.value)


def test_25_hop_chain_stops_at_default_limit(new_client: Any, raw_server: Any) -> None:
    """SEC-06: a 25-hop chain raises at the default limit of 20 redirects."""
    heads: list[bytes] = []

    def handler(sock: socket.socket) -> None:
        while True:
            head, _ = read_request(sock)
            if not head.endswith(b"\r\n\r\n"):
                return
            heads.append(head)
            n = int(head.split(b" ")[1].rsplit(b"/", 1)[1])
            if n < 25:
                resp = b"HTTP/1.1 302 Found\r\nLocation: /hop/%d\r\nContent-Length: 0\r\n\r\n"
                sock.sendall(resp % (n + 1))
            else:
                sock.sendall(OK_EMPTY)

    srv = raw_server(handler)
    with pytest.raises(httpr.TooManyRedirects):
        new_client().get(f"{srv.url}/hop/0")
    assert len(heads) == 21
    assert new_client(max_redirects=25).get(f"{srv.url}/hop/0").status_code == 200


# -- history -----------------------------------------------------------------------------------


def test_history_oldest_first(new_client: Any, server: Any, other_server: Any) -> None:
    """api.md 6 `history`, 9: the responses of the redirects followed, oldest first; each
    entry's own history lists the hops before it; each entry has its request."""
    final = f"{server.url}/echo"
    b = redirect(other_server.url, final, 301)
    a = redirect(server.url, b, 302)
    r = new_client().get(a)
    assert r.url == final
    assert [h.url for h in r.history] == [a, b]
    assert [h.status_code for h in r.history] == [302, 301]
    assert [h.request.url for h in r.history] == [a, b]
    assert r.history[0].history == []
    assert [h.url for h in r.history[1].history] == [a]
    assert r.request.url == final
    assert new_client().get(final).history == []


# -- Location resolution (RFC 3986) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "expected_path"),
    [
        ("/echo?x=1", "/echo?x=1"),
        ("echo?x=1", "/echo?x=1"),
        ("./echo", "/echo"),
        ("../echo", "/echo"),
        ("/a/../echo", "/echo"),
        ("/echo#frag", "/echo"),
        ("/echo?q=é ü", "/echo?q=%C3%A9%20%C3%BC"),
        ("/echo?q=%41%2F", "/echo?q=%41%2F"),
    ],
)
def test_relative_location_resolved(
    new_client: Any, server: Any, location: str, expected_path: str
) -> None:
    """api.md 9: Location resolved against the current URL (RFC 3986), encoded as in 4.6
    (fragment dropped, non-ASCII and spaces percent-encoded, existing escapes kept)."""
    r = new_client().get(redirect(server.url, location))
    assert echo(r)["path"] == expected_path
    assert r.url == f"{server.url}{expected_path}"


def test_absolute_and_scheme_relative_location(
    new_client: Any, server: Any, other_server: Any
) -> None:
    """api.md 9: absolute and scheme-relative (//host:port/...) Locations; any case of the
    scheme is accepted (4.6)."""
    c = new_client()
    r = c.get(redirect(server.url, f"{other_server.url}/echo?a=b"))
    assert r.url == f"{other_server.url}/echo?a=b" and echo(r)["query"] == [["a", "b"]]
    r = c.get(redirect(server.url, f"//127.0.0.1:{other_server.port}/echo"))
    assert r.url == f"{other_server.url}/echo"
    r = c.get(redirect(server.url, f"HTTP://127.0.0.1:{other_server.port}/echo"))
    assert r.url == f"{other_server.url}/echo"


@pytest.mark.parametrize(
    "location",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1:{port}/x",
        "gopher://127.0.0.1:{port}/x",
        "dict://127.0.0.1:{port}/x",
        "ldap://127.0.0.1:{port}/x",
        "telnet://127.0.0.1:{port}/",
        "ht3p://127.0.0.1:{port}/x",
        "javascript:alert(1)",
        "FILE:///etc/passwd",
    ],
)
def test_redirect_to_other_scheme_refused(
    new_client: Any, server: Any, raw_server: Any, location: str
) -> None:
    """api.md 9, R9, SEC-05: a Location with a scheme other than http/https raises
    UnsupportedProtocol, with no request to the target."""
    target = target_server(raw_server)
    c = new_client()
    with pytest.raises(httpr.UnsupportedProtocol):
        c.get(redirect(server.url, location.format(port=target.port)))
    assert target.connections_accepted == 0
    assert c.get(f"{server.url}/echo").status_code == 200


@pytest.mark.parametrize(
    "location",
    [
        b"http://127.0.0.1:{port}/a\x00b",
        b"http://127.0.0.1:{port}/a\rb",
        b"http://127.0.0.1 x:{port}/",
        b"http://:{port}/x",
        b"http:///x",
        b"http://[::1/",
        b"http://127.0.0.1:99999/",
        b"http://127.0.0.1:{port}:{port}/",
        b"",
    ],
    ids=["nul", "bare-cr", "space-in-host", "empty-host", "no-authority", "bad-ipv6",
         "port-range", "two-ports", "empty"],
)  # fmt: skip
def test_malformed_location_is_remote_protocol_error(
    new_client: Any, raw_server: Any, location: bytes
) -> None:
    """api.md 9, 14, SEC-18: a malformed Location (CR/NUL, spaces, no host, bad port)
    raises RemoteProtocolError, with no request to the target."""
    target = target_server(raw_server)
    loc = location.replace(b"{port}", str(target.port).encode())
    origin = raw_server(serve_bytes(raw_redirect(loc)))
    c = new_client()
    with pytest.raises(httpr.RemoteProtocolError):
        c.get(f"{origin.url}/start")
    assert target.connections_accepted == 0


def test_https_only_refuses_redirect_to_http(
    new_client: Any, tls_app: Any, raw_server: Any
) -> None:
    """api.md 2 `https_only`, 4.6, 9: it applies to every hop: a redirect to http:// raises
    UnsupportedProtocol before any request to the target; https -> https is followed."""
    target = target_server(raw_server)
    c = new_client(https_only=True)
    with pytest.raises(httpr.UnsupportedProtocol):
        c.get(redirect(tls_app.url, f"{target.url}/"))
    assert target.connections_accepted == 0
    r = c.get(redirect(tls_app.url, f"https://localhost:{tls_app.port}/echo"))
    assert r.status_code == 200 and r.url == f"https://localhost:{tls_app.port}/echo"


# -- Referer (R11, SEC-13) -------------------------------------------------------------------


def referer(response: Any) -> list[str]:
    return values(response, "Referer")


def test_no_referer_on_first_request(new_client: Any, server: Any) -> None:
    """api.md 9: the first request never gets a Referer."""
    c = new_client()
    assert referer(c.get(f"{server.url}/echo")) == []
    r = c.get(redirect(server.url, "/echo"))
    assert "referer" not in r.history[0].request.headers


def test_referer_is_previous_url(new_client: Any, server: Any, other_server: Any) -> None:
    """api.md 9: each followed hop carries Referer: <previous URL>."""
    final = f"{server.url}/echo"
    b = redirect(other_server.url, final)
    a = redirect(server.url, b)
    r = new_client().get(a)
    assert referer(r) == [b]
    assert r.history[1].request.headers["referer"] == a


def test_referer_without_userinfo_or_fragment(new_client: Any, server: Any) -> None:
    """api.md 9, R11, SEC-13: Referer never carries userinfo or a fragment."""
    start = redirect(f"http://user:pw-secret@127.0.0.1:{server.port}", "/echo")
    r = new_client().get(start + "#section-2")
    assert referer(r) == [start.replace("user:pw-secret@", "")]
    assert "pw-secret" not in referer(r)[0] and "#" not in referer(r)[0]


def test_no_referer_from_https_to_http(new_client: Any, server: Any, tls_app: Any) -> None:
    """api.md 9: no Referer from https to http; http -> https and https -> https do send it."""
    c = new_client()
    assert referer(c.get(redirect(tls_app.url, f"{server.url}/echo"))) == []
    start = redirect(server.url, f"{tls_app.url}/echo")
    assert referer(c.get(start)) == [start]
    start = redirect(tls_app.url, "/echo")
    assert referer(c.get(start)) == [start]


def test_referer_false_disables(new_client: Any, server: Any) -> None:
    """api.md 2 `referer=False`: no Referer on followed redirects."""
    r = new_client(referer=False).get(redirect(server.url, "/echo"))
    assert referer(r) == []


# -- credentials across origins (R2, R4, SEC-01) ---------------------------------------------

AUTH_SOURCES: dict[str, tuple[dict[str, Any], dict[str, Any], bool, str]] = {
    "client-auth": ({"auth": ("u", "p")}, {}, False, basic("u", "p")),
    "request-auth": ({}, {"auth": ("u", "p")}, False, basic("u", "p")),
    "client-bearer": ({"auth_bearer": "tok"}, {}, False, "Bearer tok"),
    "request-bearer": ({}, {"auth_bearer": "tok"}, False, "Bearer tok"),
    "userinfo": ({}, {}, True, basic("u", "p")),
    "client-header": ({"headers": {"Authorization": "Raw client"}}, {}, False, "Raw client"),
    "request-header": ({}, {"headers": {"Authorization": "Raw request"}}, False, "Raw request"),
}

# (start origin fixture, target builder, credentials kept?)
HOPS: dict[str, tuple[str, Callable[[Any, Any, Any], str], bool]] = {
    "same-origin": ("server", lambda s, o, t: f"{s.url}/echo", True),
    "same-origin-other-spelling": ("server", lambda s, o, t: f"HTTP://127.0.0.1:{s.port}/echo",
                                   True),
    "other-host": ("server", lambda s, o, t: f"{with_host(s.url, 'localhost')}/echo", False),
    "other-port": ("server", lambda s, o, t: f"{o.url}/echo", False),
    "https-to-http": ("tls", lambda s, o, t: f"{s.url}/echo", False),
    "http-to-https-other-port": ("server", lambda s, o, t: f"{t.url}/echo", False),
    "https-same-origin": ("tls", lambda s, o, t: f"{t.url}/echo", True),
    "https-other-host": ("tls", lambda s, o, t: f"https://localhost:{t.port}/echo", False),
}  # fmt: skip


def start_url(base: str, userinfo: bool) -> str:
    return base.replace("://", "://u:p@", 1) if userinfo else base


@pytest.mark.parametrize("hop", list(HOPS))
@pytest.mark.parametrize("source", list(AUTH_SOURCES))
def test_authorization_across_origins(
    new_client: Any, server: Any, other_server: Any, tls_app: Any, source: str, hop: str
) -> None:
    """api.md 9, R2, SEC-01: Authorization (from auth, auth_bearer, URL userinfo or a raw
    header) is sent on the first hop and on same-origin hops, and dropped when scheme, host
    or port change (http -> https on default ports cannot be staged on loopback)."""
    client_kwargs, request_kwargs, userinfo, expected = AUTH_SOURCES[source]
    start_kind, build, kept = HOPS[hop]
    base = tls_app.url if start_kind == "tls" else server.url
    target = build(server, other_server, tls_app)
    r = new_client(**client_kwargs).get(
        redirect(start_url(base, userinfo), target), **request_kwargs
    )
    assert r.url == target.replace("HTTP://", "http://")
    assert r.history[0].request.headers.get_list("authorization") == [expected]
    assert values(r, "Authorization") == ([expected] if kept else [])
    assert r.request.headers.get_list("authorization") == ([expected] if kept else [])


COOKIE_SOURCES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "client-cookies": ({"cookies": {"c": "v"}}, {}),
    "request-cookies": ({}, {"cookies": {"c": "v"}}),
    "client-raw-header": ({"headers": {"Cookie": "c=v"}}, {}),
    "request-raw-header": ({}, {"headers": {"Cookie": "c=v"}}),
}


@pytest.mark.parametrize("hop", list(HOPS))
@pytest.mark.parametrize("source", list(COOKIE_SOURCES))
def test_explicit_cookies_across_origins(
    new_client: Any, server: Any, other_server: Any, tls_app: Any, source: str, hop: str
) -> None:
    """api.md 9, 10, R4, SEC-01/SEC-03: explicit cookies (client, request, raw Cookie header)
    go to the first URL and same-origin hops only."""
    client_kwargs, request_kwargs = COOKIE_SOURCES[source]
    start_kind, build, kept = HOPS[hop]
    base = tls_app.url if start_kind == "tls" else server.url
    target = build(server, other_server, tls_app)
    r = new_client(**client_kwargs).get(redirect(base, target), **request_kwargs)
    assert r.url == target.replace("HTTP://", "http://")
    assert r.history[0].request.headers.get_list("cookie") == ["c=v"]
    assert values(r, "Cookie") == (["c=v"] if kept else [])


def test_other_headers_kept_across_origins(new_client: Any, server: Any) -> None:
    """api.md 9, SEC-04 (pinned): headers other than Authorization/Cookie, such as
    X-Api-Key, are kept on a cross-host redirect."""
    c = new_client(headers={"X-Api-Key": "k1"})
    r = c.get(redirect(server.url, f"{with_host(server.url, 'localhost')}/echo"),
              headers={"X-Request-Key": "k2"})  # fmt: skip
    assert values(r, "X-Api-Key") == ["k1"]
    assert values(r, "X-Request-Key") == ["k2"]


def test_proxy_authorization_never_reaches_redirect_target(new_client: Any, server: Any) -> None:
    """api.md 4.2, 12, amendment 1.6: without a proxy, a Proxy-Authorization header is a
    ValueError before I/O, so no hop can carry it."""
    with pytest.raises(ValueError):
        new_client().get(
            redirect(server.url, "/echo"), headers={"Proxy-Authorization": "Basic eDp5"}
        )


# -- params, cookies, size cap per hop -------------------------------------------------------


def test_params_only_on_first_request(new_client: Any, server: Any) -> None:
    """api.md 9: `params` belong to the first request only; the Location's own query is
    kept as given."""
    r = new_client().get(redirect(server.url, "/echo?own=1"), params={"p": "1"})
    assert "p=1" in r.history[0].url
    assert echo(r)["query"] == [["own", "1"]]
    assert r.url == f"{server.url}/echo?own=1"


def test_cookies_from_3xx_hops_go_to_the_jar(new_client: Any, server: Any, raw_server: Any) -> None:
    """api.md 9, 10: cookies set by a 3xx hop are stored and sent on the next hops;
    Response.cookies shows only that response's Set-Cookie."""
    origin = raw_server(
        serve_bytes(raw_redirect(f"{server.url}/echo".encode(), b"Set-Cookie: hop=1\r\n"))
    )
    c = new_client()
    r = c.get(f"{origin.url}/start")
    assert values(r, "Cookie") == ["hop=1"]  # cookies ignore ports (RFC 6265)
    assert r.cookies == {}
    assert r.history[0].cookies == {"hop": "1"}
    assert c.cookie_jar.get("hop") == "1"


def test_cookies_from_3xx_hops_not_kept_without_jar(
    new_client: Any, server: Any, raw_server: Any
) -> None:
    """api.md 10 `cookie_store=False`: nothing stored or replayed, response.cookies still
    shows the hop's cookies."""
    origin = raw_server(
        serve_bytes(raw_redirect(f"{server.url}/echo".encode(), b"Set-Cookie: hop=1\r\n"))
    )
    c = new_client(cookie_store=False)
    r = c.get(f"{origin.url}/start")
    assert values(r, "Cookie") == []
    assert r.history[0].cookies == {"hop": "1"}
    assert list(c.cookie_jar) == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_size_cap_applies_to_redirect_bodies(
    new_client: Any, server: Any, raw_server: Any, chunked: bool
) -> None:
    """api.md 9, 13, R6: max_response_size applies to every hop's body, the discarded 3xx
    body too (declared length or not); the error names that hop; the client stays usable."""
    big = b"x" * 1000
    final = f"{server.url}/bytes?size=10".encode()  # under the cap: only the 3xx is too big
    if chunked:
        resp = raw_redirect(
            final, b"Transfer-Encoding: chunked\r\n", b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
        )
    else:
        resp = raw_redirect(final, body=big)
    origin = raw_server(serve_bytes(resp))
    c = new_client(max_response_size=100)
    with pytest.raises(httpr.ResponseTooLarge) as info:
        c.get(f"{origin.url}/start")
    assert f"{origin.url}/start" in str(info.value)
    small = raw_server(serve_bytes(raw_redirect(final, body=b"y" * 50)))
    r = c.get(f"{small.url}/start")
    assert r.status_code == 200 and r.content == payload(10)
    assert r.history[0].content == b"y" * 50
