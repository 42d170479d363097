"""Authentication on the wire (api.md 2 `auth`/`auth_bearer` rows and properties, 4.5, 16;
security.md R1, R11, R14, SEC-13, SEC-16).

Every behaviour runs for Client and AsyncClient (``new_client``); what the server received
is read back from /echo. Cross-origin behaviour of credentials is in test_redirects.py.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

import pytest

import httpr
from tests.requests_api._support import basic, closed_port, echo, log_text, redirect, values
from tests.servers.raw import serve_bytes

SECRET_PW = "pw-s3cr3t-0451"
SECRET_TOKEN = "tok-s3cr3t-9917"


def authorization(response: Any) -> list[str]:
    return values(response, "Authorization")


# -- Basic and Bearer ----------------------------------------------------------------------


def test_client_basic_auth(new_client: Any, server: Any) -> None:
    """api.md 4.5: auth=(user, password) -> Basic base64("user:password"), UTF-8."""
    c = new_client(auth=("user", "pässword"))
    r = c.get(f"{server.url}/echo")
    assert authorization(r) == [basic("user", "pässword")]
    assert authorization(r) == ["Basic dXNlcjpww6Rzc3dvcmQ="]  # UTF-8 before base64


def test_basic_auth_without_password(new_client: Any, server: Any) -> None:
    """api.md 2 `auth`, 4.5: a None password gives "user:"."""
    c = new_client(auth=("user", None))
    assert authorization(c.get(f"{server.url}/echo")) == ["Basic dXNlcjo="]
    r = new_client().get(f"{server.url}/echo", auth=("other", None))
    assert authorization(r) == [basic("other", "")]


def test_request_basic_auth(new_client: Any, server: Any) -> None:
    """api.md 4: per-request auth applies to that request only."""
    c = new_client()
    assert authorization(c.get(f"{server.url}/echo", auth=("u", "p"))) == [basic("u", "p")]
    assert authorization(c.get(f"{server.url}/echo")) == []


def test_bearer(new_client: Any, server: Any) -> None:
    """api.md 4.5: auth_bearer=token -> Authorization: Bearer token (client and request)."""
    c = new_client(auth_bearer="client-token")
    assert authorization(c.get(f"{server.url}/echo")) == ["Bearer client-token"]
    r = c.get(f"{server.url}/echo", auth_bearer="request-token")
    assert authorization(r) == ["Bearer request-token"]


# -- URL userinfo (R11) --------------------------------------------------------------------


def test_url_userinfo_becomes_basic_and_is_stripped(new_client: Any, server: Any) -> None:
    """api.md 4.5, R11: userinfo -> Basic for that origin, removed from the URL sent and
    shown (Response.url, Request.url)."""
    c = new_client()
    r = c.get(f"http://alice:{SECRET_PW}@127.0.0.1:{server.port}/echo?x=1")
    assert authorization(r) == [basic("alice", SECRET_PW)]
    assert r.url == f"{server.url}/echo?x=1"
    assert r.request.url == f"{server.url}/echo?x=1"
    assert echo(r)["path"] == "/echo?x=1"  # the request target carries no userinfo
    assert "alice" not in repr(r.request) and SECRET_PW not in repr(r.request)


def test_url_userinfo_user_only(new_client: Any, server: Any) -> None:
    """api.md 4.5: userinfo without a password is Basic "user:"."""
    r = new_client().get(f"http://alice@127.0.0.1:{server.port}/echo")
    assert authorization(r) == [basic("alice", "")]
    assert r.url == f"{server.url}/echo"


def test_url_userinfo_is_percent_decoded(new_client: Any, server: Any) -> None:
    """api.md 4.5 (read as httpx does): userinfo is percent-decoded before Basic encoding."""
    r = new_client().get(f"http://a%40b:p%3Aw%20x@127.0.0.1:{server.port}/echo")
    assert authorization(r) == [basic("a@b", "p:w x")]


def test_url_userinfo_is_not_remembered(new_client: Any, server: Any) -> None:
    """R11: userinfo is scoped to the request that named it; the next request to the same
    origin without userinfo carries no Authorization."""
    c = new_client()
    c.get(f"http://alice:{SECRET_PW}@127.0.0.1:{server.port}/echo")
    assert authorization(c.get(f"{server.url}/echo")) == []


def test_url_userinfo_kept_on_same_origin_redirect(new_client: Any, server: Any) -> None:
    """api.md 4.5, 9: the credentials belong to the origin, so a same-origin hop keeps them."""
    start = redirect(f"http://alice:{SECRET_PW}@127.0.0.1:{server.port}", "/echo")
    r = new_client().get(start)
    assert authorization(r) == [basic("alice", SECRET_PW)]
    assert "alice" not in r.history[0].url and "alice" not in r.url


# -- precedence (api.md 4.5) ---------------------------------------------------------------

BASIC_RQ = basic("rq-user", "rq-pw")
BASIC_URL = basic("url-user", "url-pw")
BASIC_CL = basic("cl-user", "cl-pw")

PRECEDENCE = [
    # (id, client kwargs, request kwargs, userinfo in URL, expected single header)
    ("client-header", {"headers": {"Authorization": "Client-Header"}}, {}, False,
     "Client-Header"),
    ("client-bearer>client-header",
     {"headers": {"Authorization": "Client-Header"}, "auth_bearer": "cl-tok"}, {}, False,
     "Bearer cl-tok"),
    ("client-basic>client-bearer", {"auth": ("cl-user", "cl-pw"), "auth_bearer": "cl-tok"},
     {}, False, BASIC_CL),
    ("request-header>client-auth", {"auth": ("cl-user", "cl-pw"), "auth_bearer": "cl-tok"},
     {"headers": {"Authorization": "Request-Header"}}, False, "Request-Header"),
    ("userinfo>request-header", {"auth": ("cl-user", "cl-pw")},
     {"headers": {"Authorization": "Request-Header"}}, True, BASIC_URL),
    ("request-bearer>userinfo", {}, {"auth_bearer": "rq-tok"}, True, "Bearer rq-tok"),
    ("request-basic>userinfo", {}, {"auth": ("rq-user", "rq-pw")}, True, BASIC_RQ),
    ("request-basic>request-bearer", {}, {"auth": ("rq-user", "rq-pw"),
     "auth_bearer": "rq-tok"}, False, BASIC_RQ),
    # api.md 17: request beats client (0.7.8 let client basic beat a request bearer).
    ("request-bearer>client-basic", {"auth": ("cl-user", "cl-pw")}, {"auth_bearer": "rq-tok"},
     False, "Bearer rq-tok"),
    ("request-bearer>client-header", {"headers": {"Authorization": "Client-Header"}},
     {"auth_bearer": "rq-tok"}, False, "Bearer rq-tok"),
    ("all-of-them", {"auth": ("cl-user", "cl-pw"), "auth_bearer": "cl-tok",
     "headers": {"Authorization": "Client-Header"}},
     {"auth": ("rq-user", "rq-pw"), "auth_bearer": "rq-tok",
      "headers": {"Authorization": "Request-Header"}}, True, BASIC_RQ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("client_kwargs", "request_kwargs", "userinfo", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in PRECEDENCE],
)
def test_authorization_precedence_and_exactly_one_header(
    new_client: Any,
    server: Any,
    client_kwargs: dict[str, Any],
    request_kwargs: dict[str, Any],
    userinfo: bool,
    expected: str,
) -> None:
    """api.md 4.5: request auth/auth_bearer (auth first) > URL userinfo > request header >
    client auth/auth_bearer (auth first) > client header; exactly one Authorization on the
    wire (api.md 17: 0.7.8 sent two)."""
    authority = f"url-user:url-pw@127.0.0.1:{server.port}" if userinfo else server.url[7:]
    r = new_client(**client_kwargs).get(f"http://{authority}/echo", **request_kwargs)
    assert authorization(r) == [expected]
    assert r.request.headers.get_list("authorization") == [expected]


# -- validation before I/O (R1) ------------------------------------------------------------


@pytest.mark.parametrize("bad", ["us\r\ner", "us\ner", "us\rer", "us\x00er"])
def test_control_characters_in_auth_user_rejected(
    new_client: Any, raw_server: Any, bad: str
) -> None:
    """api.md 2 (`auth`: CR/LF/NUL rejected), R1: ValueError at construction and per request,
    before I/O (the server never sees a connection)."""
    srv = raw_server(serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    with pytest.raises(ValueError):
        new_client(auth=(bad, "pw"))
    c = new_client()
    with pytest.raises(ValueError):
        c.get(f"{srv.url}/", auth=(bad, "pw"))
    assert srv.connections_accepted == 0


@pytest.mark.parametrize("bad", ["to\r\nken", "to\nken", "to\x00ken"])
def test_control_characters_in_bearer_rejected(new_client: Any, raw_server: Any, bad: str) -> None:
    """api.md 2 (`auth_bearer`: CR/LF/NUL rejected), R1: ValueError before I/O."""
    srv = raw_server(serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    with pytest.raises(ValueError):
        new_client(auth_bearer=bad)
    c = new_client()
    with pytest.raises(ValueError):
        c.get(f"{srv.url}/", auth_bearer=bad)
    assert srv.connections_accepted == 0


@pytest.mark.parametrize(
    ("kwargs"),
    [{"auth": "user:pw"}, {"auth": ["u", "p"]}, {"auth": ("u", 1)}, {"auth_bearer": 1}],
    ids=["auth-str", "auth-list", "auth-int-password", "bearer-int"],
)
def test_wrong_auth_types_are_type_errors(new_client: Any, kwargs: dict[str, Any]) -> None:
    """api.md 2, 4: a wrong type raises TypeError naming the parameter, before I/O."""
    name = next(iter(kwargs))
    with pytest.raises(TypeError, match=name):
        new_client(**kwargs)
    c = new_client()
    with pytest.raises(TypeError, match=name):
        c.get(f"http://127.0.0.1:{closed_port()}/", **kwargs)


# -- client properties (api.md 2) ----------------------------------------------------------


def test_auth_property_get_and_set(new_client: Any, server: Any) -> None:
    """api.md 2 properties: `auth` reads back; the setter applies to later requests; None
    removes; a bad value raises at the assignment and leaves the old value."""
    c = new_client()
    assert c.auth is None
    c.auth = ("u1", "p1")
    assert c.auth == ("u1", "p1")
    assert authorization(c.get(f"{server.url}/echo")) == [basic("u1", "p1")]
    with pytest.raises(ValueError):
        c.auth = ("bad\nuser", "p")
    with pytest.raises(TypeError):
        c.auth = "u:p"
    assert c.auth == ("u1", "p1")
    c.auth = None
    assert c.auth is None
    assert authorization(c.get(f"{server.url}/echo")) == []
    assert new_client(auth=("a", None)).auth == ("a", None)


def test_auth_bearer_property_get_and_set(new_client: Any, server: Any) -> None:
    """api.md 2 properties: `auth_bearer` reads back and applies to later requests."""
    c = new_client(auth_bearer="t1")
    assert c.auth_bearer == "t1"
    c.auth_bearer = "t2"
    assert c.auth_bearer == "t2"
    assert authorization(c.get(f"{server.url}/echo")) == ["Bearer t2"]
    with pytest.raises(ValueError):
        c.auth_bearer = "t\r\n3"
    with pytest.raises(TypeError):
        c.auth_bearer = 3
    assert c.auth_bearer == "t2"
    c.auth_bearer = None
    assert authorization(c.get(f"{server.url}/echo")) == []


def test_auth_property_setter_order_keeps_basic_first(new_client: Any, server: Any) -> None:
    """api.md 4.5: with both client auth and auth_bearer set, Basic wins whatever the order
    they were set in."""
    c = new_client()
    c.auth_bearer = "tok"
    c.auth = ("u", "p")
    assert authorization(c.get(f"{server.url}/echo")) == [basic("u", "p")]


# -- secrets masked (R14, SEC-16) ----------------------------------------------------------


def _secrets() -> list[str]:
    return [
        SECRET_PW,
        SECRET_TOKEN,
        basic("alice", SECRET_PW).split()[1],
        basic("bob", SECRET_PW).split()[1],
    ]


def test_secrets_masked_in_request_and_response_reprs(new_client: Any, server: Any) -> None:
    """R14, SEC-16: no Authorization, Cookie or URL password in repr(request),
    repr(request.headers), repr(response)."""
    c = new_client(auth=("bob", SECRET_PW))
    r = c.get(
        f"http://alice:{SECRET_PW}@127.0.0.1:{server.port}/echo",
        auth_bearer=SECRET_TOKEN,
        headers={"Cookie": f"session={SECRET_TOKEN}"},
    )
    assert r.request.headers["authorization"] == f"Bearer {SECRET_TOKEN}"  # really sent
    shown = "\n".join([repr(r), repr(r.request), repr(r.request.headers), str(r.request.url)])
    for secret in _secrets():
        assert secret not in shown, secret


def test_secrets_masked_in_exceptions(new_client: Any) -> None:
    """R14, SEC-16: a failing request's message, repr and pickled form hold no secret, and
    name the URL without userinfo (api.md 14)."""
    port = closed_port()
    c = new_client(auth=("bob", SECRET_PW))
    with pytest.raises(httpr.ConnectError) as info:
        c.get(f"http://alice:{SECRET_PW}@127.0.0.1:{port}/x", auth_bearer=SECRET_TOKEN)
    exc = info.value
    assert f"GET http://127.0.0.1:{port}/x" in str(exc)
    assert exc.request is not None and exc.request.url == f"http://127.0.0.1:{port}/x"
    shown = "\n".join(
        [str(exc), repr(exc), repr(exc.request), repr(exc.request.headers), repr(exc.args)]
    )
    for secret in [*_secrets(), "alice:"]:
        assert secret not in shown, secret
    restored = pickle.loads(pickle.dumps(exc))
    assert SECRET_PW not in str(restored) and SECRET_PW not in repr(restored)


def test_secrets_masked_in_debug_logs(
    new_client: Any, server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """api.md 16, R14, SEC-16: the DEBUG records of logger "httpr" (one per hop) never show
    a password, token, Authorization or Cookie value, nor the URL userinfo."""
    caplog.set_level(logging.DEBUG, logger="httpr")
    c = new_client(auth=("bob", SECRET_PW), cookies={"sid": SECRET_TOKEN})
    start = redirect(f"http://alice:{SECRET_PW}@127.0.0.1:{server.port}", "/echo")
    r = c.get(start, auth_bearer=SECRET_TOKEN)
    assert authorization(r) == [f"Bearer {SECRET_TOKEN}"]
    records = [rec for rec in caplog.records if rec.name.split(".")[0] == "httpr"]
    assert len(records) >= 2  # one per hop (test_hooks_retries_logging.py checks the count)
    text = log_text(records)
    for secret in [*_secrets(), "alice:"]:
        assert secret not in text, secret
