"""Proxies end to end (api.md 2 `proxy` row and property, 4.2, 12, 14; security.md R3,
SEC-02, SEC-12, FLT-27, TLS-11; amendments 1.3, 1.6, 3.6).

The local proxies of tests/servers/proxy.py record what they receive (``requests``: the
request heads, ``targets``/``credentials`` for SOCKS), so each test asserts which hop went
where and what the proxy and the origin each saw. https origins are ``tls_app`` (trustme).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest

import httpr
from tests.requests_api._support import basic, closed_port, echo, redirect, values, with_host
from tests.servers.proxy import HTTPProxy, Socks5Proxy
from tests.servers.raw import serve_bytes


@pytest.fixture
def proxy() -> Iterator[HTTPProxy]:
    with HTTPProxy() as p:
        yield p
    assert p.errors == []


@pytest.fixture
def auth_proxy() -> Iterator[HTTPProxy]:
    """A proxy that answers 407 unless Proxy-Authorization is Basic pu:pp."""
    with HTTPProxy(require_auth=("pu", "pp")) as p:
        yield p
    assert p.errors == []


@pytest.fixture
def socks() -> Iterator[Socks5Proxy]:
    with Socks5Proxy() as p:
        yield p
    assert p.errors == []


def lines(proxy: HTTPProxy) -> list[str]:
    """The request line of every head the proxy received."""
    return [head.split(b"\r\n", 1)[0].decode("latin-1") for head in proxy.requests]


def proxy_header(proxy: HTTPProxy, name: str) -> list[list[str]]:
    """Per head the proxy received, the values of header `name`."""
    out = []
    for head in proxy.requests:
        found = []
        for line in head.decode("latin-1").split("\r\n")[1:]:
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() == name.lower():
                found.append(value.strip())
        out.append(found)
    return out


def no_credentials_at_origin(response: Any) -> None:
    """SEC-02: the origin never sees proxy credentials (nor an Authorization made of them)."""
    assert values(response, "Proxy-Authorization") == []
    assert values(response, "Authorization") == []


# -- HTTP proxy ----------------------------------------------------------------------------------


def test_http_forward_proxy(new_client: Any, server: Any, proxy: HTTPProxy) -> None:
    """api.md 12: an http proxy forwards http:// requests; it receives the absolute-form
    request line."""
    c = new_client(proxy=proxy.url)
    r = c.get(f"{server.url}/echo?x=1")
    assert echo(r)["path"] == "/echo?x=1"
    assert r.url == f"{server.url}/echo?x=1"
    assert lines(proxy) == [f"GET {server.url}/echo?x=1 HTTP/1.1"]
    r = c.post(f"{server.url}/echo", content=b"body")
    assert echo(r)["body"] == "body"
    assert lines(proxy)[-1] == f"POST {server.url}/echo HTTP/1.1"


def test_https_through_connect_tunnel(new_client: Any, tls_app: Any, proxy: HTTPProxy) -> None:
    """api.md 12, TLS-11: https:// goes through a CONNECT tunnel; the proxy sees only the
    CONNECT, never the request inside."""
    c = new_client(proxy=proxy.url)
    r = c.get(f"{tls_app.url}/echo")
    assert echo(r)["method"] == "GET"
    assert r.url == f"{tls_app.url}/echo"
    assert lines(proxy) == [f"CONNECT 127.0.0.1:{tls_app.port} HTTP/1.1"]
    c.get(f"{tls_app.url}/echo")
    assert all(line.startswith("CONNECT ") for line in lines(proxy))


def test_proxy_url_credentials_reach_only_the_proxy_http(
    new_client: Any, server: Any, auth_proxy: HTTPProxy
) -> None:
    """api.md 12, R3, SEC-02: credentials in the proxy URL go to the proxy as
    Proxy-Authorization, never to the origin."""
    c = new_client(proxy=auth_proxy.url_with_auth("pu", "pp"))
    r = c.get(f"{server.url}/echo")
    assert r.status_code == 200
    assert proxy_header(auth_proxy, "Proxy-Authorization") == [[basic("pu", "pp")]]
    assert proxy_header(auth_proxy, "Authorization") == [[]]
    no_credentials_at_origin(r)


def test_proxy_url_credentials_reach_only_the_proxy_https(
    new_client: Any, tls_app: Any, auth_proxy: HTTPProxy
) -> None:
    """api.md 12, R3, SEC-02, TLS-11: through a tunnel, Proxy-Authorization is on the
    CONNECT only; the origin sees neither it nor an Authorization."""
    c = new_client(proxy=auth_proxy.url_with_auth("pu", "pp"))
    r = c.get(f"{tls_app.url}/echo")
    assert lines(auth_proxy) == [f"CONNECT 127.0.0.1:{tls_app.port} HTTP/1.1"]
    assert proxy_header(auth_proxy, "Proxy-Authorization") == [[basic("pu", "pp")]]
    no_credentials_at_origin(r)


def test_user_proxy_authorization_header_goes_to_the_proxy(
    new_client: Any, server: Any, tls_app: Any, auth_proxy: HTTPProxy
) -> None:
    """api.md 12, R3: a user Proxy-Authorization header goes to the proxy only (on the
    CONNECT for https), never to an origin."""
    c = new_client(proxy=auth_proxy.url, headers={"Proxy-Authorization": basic("pu", "pp")})
    r = c.get(f"{tls_app.url}/echo")
    no_credentials_at_origin(r)
    r = c.get(f"{server.url}/echo")
    assert r.status_code == 200
    no_credentials_at_origin(r)
    r = new_client(proxy=auth_proxy.url).get(
        f"{tls_app.url}/echo", headers={"Proxy-Authorization": basic("pu", "pp")}
    )
    no_credentials_at_origin(r)
    assert proxy_header(auth_proxy, "Proxy-Authorization") == [[basic("pu", "pp")]] * 3


def test_proxy_credentials_on_cross_host_redirect(
    new_client: Any, server: Any, auth_proxy: HTTPProxy
) -> None:
    """SEC-02: http via a proxy with credentials and a cross-host redirect: every hop
    carries them to the proxy, the origin never sees them."""
    c = new_client(proxy=auth_proxy.url_with_auth("pu", "pp"))
    final = f"{with_host(server.url, 'localhost')}/echo"
    r = c.get(redirect(server.url, final))
    assert r.url == final
    assert len(lines(auth_proxy)) == 2
    assert lines(auth_proxy)[1] == f"GET {final} HTTP/1.1"
    assert proxy_header(auth_proxy, "Proxy-Authorization") == [[basic("pu", "pp")]] * 2
    no_credentials_at_origin(r)


def test_origin_authorization_is_not_the_proxys(
    new_client: Any, tls_app: Any, auth_proxy: HTTPProxy
) -> None:
    """R2, R3: auth= goes to the origin, proxy credentials to the proxy, never swapped."""
    c = new_client(proxy=auth_proxy.url_with_auth("pu", "pp"), auth=("ou", "op"))
    r = c.get(f"{tls_app.url}/echo")
    assert values(r, "Authorization") == [basic("ou", "op")]
    assert values(r, "Proxy-Authorization") == []
    assert proxy_header(auth_proxy, "Authorization") == [[]]


# -- proxy failures (FLT-27) -------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 407, 502])
def test_connect_refused_by_status_is_proxy_error(
    new_client: Any, tls_app: Any, status: int
) -> None:
    """api.md 12, 14, amendment 1.3, FLT-27: CONNECT answered non-2xx -> ProxyError; the
    client stays usable."""
    with HTTPProxy(connect_status=status) as p:
        c = new_client(proxy=p.url)
        with pytest.raises(httpr.ProxyError) as info:
            c.get(f"{tls_app.url}/echo")
        assert info.value.request is not None
        assert f"GET {tls_app.url}/echo" in str(info.value)
        c.proxy = None
        assert c.get(f"{tls_app.url}/echo").status_code == 200


def test_connect_without_credentials_407_is_proxy_error(
    new_client: Any, tls_app: Any, auth_proxy: HTTPProxy
) -> None:
    """api.md 12, FLT-27: a proxy that wants credentials answers CONNECT with 407 ->
    ProxyError (also with wrong credentials); nothing reaches the origin."""
    before = tls_app.connections_accepted
    with pytest.raises(httpr.ProxyError):
        new_client(proxy=auth_proxy.url).get(f"{tls_app.url}/echo")
    with pytest.raises(httpr.ProxyError):
        new_client(proxy=auth_proxy.url_with_auth("pu", "wrong")).get(f"{tls_app.url}/echo")
    assert tls_app.connections_accepted == before


@pytest.mark.parametrize("scheme", ["http", "socks5", "socks5h", "socks4"])
@pytest.mark.parametrize("target", ["http", "https"])
def test_closed_proxy_port_is_proxy_error(
    new_client: Any, server: Any, tls_app: Any, scheme: str, target: str
) -> None:
    """api.md 12, 14, FLT-27: a proxy whose port is closed -> ProxyError (not ConnectError
    to the origin), quickly."""
    url = f"{server.url}/echo" if target == "http" else f"{tls_app.url}/echo"
    with pytest.raises(httpr.ProxyError) as info:
        new_client(proxy=f"{scheme}://127.0.0.1:{closed_port()}").get(url)
    assert info.value.request is not None


# -- SOCKS ------------------------------------------------------------------------------------


def test_socks5(new_client: Any, server: Any, tls_app: Any, socks: Socks5Proxy) -> None:
    """api.md 12: socks5:// tunnels http and https; names are resolved locally, so the
    proxy is asked for an address."""
    c = new_client(proxy=socks.url)
    assert echo(c.get(f"{server.url}/echo"))["method"] == "GET"
    assert echo(c.get(f"{tls_app.url}/echo"))["method"] == "GET"
    assert socks.targets == [("127.0.0.1", server.port), ("127.0.0.1", tls_app.port)]


def test_socks5_resolves_names_locally(new_client: Any, server: Any, socks: Socks5Proxy) -> None:
    """api.md 12: socks5 (without h) sends the proxy an address, never the name."""
    try:
        new_client(proxy=socks.url).get(f"{with_host(server.url, 'localhost')}/echo")
    except httpr.ProxyError:
        pass  # localhost may resolve to ::1, where the app server does not listen
    assert socks.targets, "the proxy was not used"
    host, port = socks.targets[0]
    assert port == server.port
    ipaddress.ip_address(host)  # an address, not "localhost"


def test_socks5h_resolves_names_at_the_proxy(
    new_client: Any, server: Any, socks: Socks5Proxy
) -> None:
    """api.md 12: socks5h:// sends the host name for the proxy to resolve."""
    c = new_client(proxy=socks.url.replace("socks5://", "socks5h://"))
    r = c.get(f"{with_host(server.url, 'localhost')}/echo")
    assert echo(r)["method"] == "GET"
    assert socks.targets == [("localhost", server.port)]


@pytest.mark.parametrize(("scheme", "host"), [("socks4", "127.0.0.1"), ("socks4a", "localhost")])
def test_socks4_and_4a(
    new_client: Any, server: Any, socks: Socks5Proxy, scheme: str, host: str
) -> None:
    """api.md 12: socks4 (addresses) and socks4a (names resolved at the proxy)."""
    c = new_client(proxy=socks.url.replace("socks5://", f"{scheme}://"))
    r = c.get(f"{with_host(server.url, host)}/echo")
    assert echo(r)["method"] == "GET"
    assert socks.targets == [(host, server.port)]


def test_socks5_credentials_reach_only_the_proxy(
    new_client: Any, server: Any, tls_app: Any
) -> None:
    """api.md 12, SEC-02: socks5 credentials go in the SOCKS negotiation (RFC 1929) only."""
    with Socks5Proxy(auth=("su", "sp")) as p:
        c = new_client(proxy=p.url.replace("socks5://", "socks5://su:sp@"))
        no_credentials_at_origin(c.get(f"{server.url}/echo"))
        no_credentials_at_origin(c.get(f"{tls_app.url}/echo"))
        assert p.credentials == [("su", "sp")] * len(p.targets)
        assert p.errors == []


# -- environment (api.md 12, SEC-12) -----------------------------------------------------------


def test_http_proxy_variable(
    new_client: Any, server: Any, tls_app: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """api.md 12: HTTP_PROXY is for http:// targets only, read at construction; it never
    shows in client.proxy."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    c = new_client()
    assert c.proxy is None
    c.get(f"{server.url}/echo")
    c.get(f"{tls_app.url}/echo")
    assert lines(proxy) == [f"GET {server.url}/echo HTTP/1.1"]


def test_https_proxy_variable_with_http_url(
    new_client: Any, server: Any, tls_app: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """api.md 12, SEC-12: HTTPS_PROXY (an http:// proxy URL) is for https:// targets, via
    CONNECT; http:// targets go direct."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    c = new_client()
    c.get(f"{server.url}/echo")
    c.get(f"{tls_app.url}/echo")
    assert lines(proxy) == [f"CONNECT 127.0.0.1:{tls_app.port} HTTP/1.1"]


def test_proxy_variable_without_scheme(
    new_client: Any, server: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """amendment 3.6: a proxy variable without a scheme means http://."""
    monkeypatch.setenv("http_proxy", f"127.0.0.1:{proxy.port}")
    new_client().get(f"{server.url}/echo")
    assert lines(proxy) == [f"GET {server.url}/echo HTTP/1.1"]


def test_all_proxy_variable(
    new_client: Any, server: Any, tls_app: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """api.md 12: all_proxy when no scheme-specific variable is set."""
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    c = new_client()
    c.get(f"{server.url}/echo")
    c.get(f"{tls_app.url}/echo")
    assert lines(proxy) == [
        f"GET {server.url}/echo HTTP/1.1",
        f"CONNECT 127.0.0.1:{tls_app.port} HTTP/1.1",
    ]


def test_lowercase_variable_wins(
    new_client: Any, server: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """api.md 12: lowercase names win over uppercase ones."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("http_proxy", proxy.url)
    assert new_client().get(f"{server.url}/echo").status_code == 200
    assert len(lines(proxy)) == 1


def test_http_proxy_ignored_under_cgi(
    new_client: Any, server: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """api.md 12 ("httpoxy"): HTTP_PROXY is ignored when REQUEST_METHOD is set."""
    monkeypatch.setenv("REQUEST_METHOD", "GET")
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert new_client().get(f"{server.url}/echo").status_code == 200
    assert lines(proxy) == []


@pytest.mark.parametrize(
    ("no_proxy", "direct"),
    [
        ("127.0.0.1", {"ip", "ip-other-port"}),
        ("localhost", {"name"}),
        (".localhost", {"name"}),
        ("LOCALHOST", {"name"}),
        ("*", {"ip", "ip-other-port", "name"}),
        ("example.com, 127.0.0.0/8", {"ip", "ip-other-port"}),
        ("127.0.0.1:{other_port}", {"ip-other-port"}),
        ("", set()),
    ],
)
def test_no_proxy(
    new_client: Any,
    server: Any,
    other_server: Any,
    proxy: HTTPProxy,
    monkeypatch: Any,
    no_proxy: str,
    direct: set[str],
) -> None:
    """api.md 12, SEC-12: NO_PROXY skips the standard variables for matching targets: host
    names (and subdomains, leading dot optional), IPs, CIDR blocks, `*`, `:port` entries;
    case-insensitive."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy.format(other_port=other_server.port))
    urls = {
        "ip": f"{server.url}/echo",
        "ip-other-port": f"{other_server.url}/echo",
        "name": f"{with_host(server.url, 'localhost')}/echo",
    }
    c = new_client()
    for url in urls.values():
        assert c.get(url).status_code == 200
    proxied = {key for key, url in urls.items() if f"GET {url} HTTP/1.1" in lines(proxy)}
    assert proxied == set(urls) - direct


def test_httpr_proxy_variable(
    new_client: Any, server: Any, tls_app: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """api.md 12: HTTPR_PROXY is used for every request, NO_PROXY does not apply; it shows
    in client.proxy."""
    monkeypatch.setenv("HTTPR_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "*")
    c = new_client()
    assert c.proxy == proxy.url
    c.get(f"{server.url}/echo")
    c.get(f"{tls_app.url}/echo")
    assert lines(proxy) == [
        f"GET {server.url}/echo HTTP/1.1",
        f"CONNECT 127.0.0.1:{tls_app.port} HTTP/1.1",
    ]


def test_explicit_proxy_beats_environment(
    new_client: Any, server: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """api.md 12: proxy= wins over HTTPR_PROXY and the standard variables; NO_PROXY does
    not apply to it."""
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("HTTPR_PROXY", dead)
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    c = new_client(proxy=proxy.url)
    assert c.proxy == proxy.url
    assert c.get(f"{server.url}/echo").status_code == 200
    assert lines(proxy) == [f"GET {server.url}/echo HTTP/1.1"]


def test_trust_env_false_reads_nothing(
    new_client: Any, server: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """api.md 2 `trust_env`, 12: with trust_env=False no variable is read."""
    monkeypatch.setenv("HTTPR_PROXY", proxy.url)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    c = new_client(trust_env=False)
    assert c.proxy is None
    assert c.get(f"{server.url}/echo").status_code == 200
    assert lines(proxy) == []


def test_variables_read_once_at_construction(
    new_client: Any, server: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """api.md 12: variables are read once, at construction."""
    c = new_client()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("HTTPR_PROXY", proxy.url)
    assert c.proxy is None
    assert c.get(f"{server.url}/echo").status_code == 200
    assert lines(proxy) == []


@pytest.mark.parametrize("name", ["HTTPR_PROXY", "HTTP_PROXY", "https_proxy"])
def test_unparsable_proxy_variable(new_client: Any, monkeypatch: Any, name: str) -> None:
    """amendment 3.6: an unparsable proxy variable raises InvalidURL at construction,
    naming the variable."""
    monkeypatch.setenv(name, "http://[::1")
    with pytest.raises(httpr.InvalidURL, match=name):
        new_client()


# -- Proxy-Authorization without a proxy (R3, amendment 1.6) -----------------------------------


@pytest.mark.parametrize("where", ["client", "request"])
def test_proxy_authorization_without_proxy_is_value_error(
    new_client: Any, raw_server: Any, where: str
) -> None:
    """api.md 4.2, 12, amendment 1.6, R3, SEC-02: a Proxy-Authorization header on a request
    that uses no proxy -> ValueError before I/O (never dropped silently, never sent)."""
    srv = raw_server(serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    header = {"Proxy-Authorization": basic("pu", "pp")}
    c = new_client(headers=header) if where == "client" else new_client()
    with pytest.raises(ValueError, match="Proxy-Authorization"):
        c.get(f"{srv.url}/", **({"headers": header} if where == "request" else {}))
    assert srv.connections_accepted == 0


def test_proxy_authorization_for_a_no_proxy_target(
    new_client: Any, server: Any, other_server: Any, proxy: HTTPProxy, monkeypatch: Any
) -> None:
    """api.md 12, R3: with a proxy variable, the header goes to the proxy for proxied
    targets, and a target NO_PROXY exempts (no proxy in use) raises ValueError."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", f"127.0.0.1:{other_server.port}")
    c = new_client(headers={"Proxy-Authorization": basic("pu", "pp")})
    assert c.get(f"{server.url}/echo").status_code == 200
    assert proxy_header(proxy, "Proxy-Authorization") == [[basic("pu", "pp")]]
    with pytest.raises(ValueError, match="Proxy-Authorization"):
        c.get(f"{other_server.url}/echo")


# -- client.proxy ------------------------------------------------------------------------------


def test_proxy_property(new_client: Any, server: Any, proxy: HTTPProxy) -> None:
    """api.md 2 properties: `proxy` reads back; the setter applies to later requests; None
    goes direct; the cookie jar and the pool survive (api.md 17)."""
    c = new_client()
    assert c.proxy is None
    c.get(f"{server.url}/headers?Set-Cookie=kept%3D1")
    c.proxy = proxy.url
    assert c.proxy == proxy.url
    r = c.get(f"{server.url}/echo")
    assert values(r, "Cookie") == ["kept=1"]
    assert lines(proxy) == [f"GET {server.url}/echo HTTP/1.1"]
    c.proxy = None
    assert c.proxy is None
    c.get(f"{server.url}/echo")
    assert len(lines(proxy)) == 1
    assert new_client(proxy=proxy.url).proxy == proxy.url


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("ftp://127.0.0.1:21", httpr.UnsupportedProtocol),
        ("http://[::1", httpr.InvalidURL),
        ("http://127.0.0.1:99999", httpr.InvalidURL),
        (3128, TypeError),
    ],
)
def test_proxy_validated(new_client: Any, value: Any, error: type[Exception]) -> None:
    """api.md 2 `proxy`: unparsable -> InvalidURL; other schemes -> UnsupportedProtocol;
    at construction and at the setter, which keeps the old value."""
    with pytest.raises(error):
        new_client(proxy=value)
    c = new_client(proxy="http://127.0.0.1:3128")
    with pytest.raises(error):
        c.proxy = value
    assert c.proxy == "http://127.0.0.1:3128"
