"""Client policy through `httpr.MockTransport`: no sockets, only what the client builds.

The handler sees each hop's `Request` as the client built it: method, URL with params merged
and encoded (api.md §4.1), headers merged over the defaults (§4.2), the body (§4.3); what it
returns passes through the client (§2 "MockTransport", amendment 4.2). Also the `Client`
properties of §2: `timeout`, `is_closed`, `headers`, `params`, `base_url` (§4.6), `auth`,
`auth_bearer`, `cookies`.

Every URL names 127.0.0.1 port 9 (discard): if anything ever left the process it would be
refused on loopback, never reach another host.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from typing import Any, Callable

import pytest

import httpr

ORIGIN = "http://127.0.0.1:9"


class Recorder:
    """A MockTransport handler that keeps every Request and answers 200 b"ok"."""

    def __init__(self) -> None:
        self.requests: list[httpr.Request] = []

    def __call__(self, request: httpr.Request) -> httpr.Response:
        self.requests.append(request)
        return httpr.Response(200, content=b"ok")

    @property
    def last(self) -> httpr.Request:
        assert self.requests, "the handler was never called"
        return self.requests[-1]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder: Recorder) -> Iterator[httpr.Client]:
    with httpr.Client(transport=httpr.MockTransport(recorder)) as c:
        yield c


def mock_client(recorder: Recorder, **kwargs: Any) -> httpr.Client:
    return httpr.Client(transport=httpr.MockTransport(recorder), **kwargs)


# -- the handler's Request ---------------------------------------------------------------------


def test_handler_gets_the_request_and_its_response_passes_through() -> None:
    seen: list[httpr.Request] = []
    reply = httpr.Response(201, headers={"X-Served-By": "mock"}, content=b"made")

    def handler(request: httpr.Request) -> httpr.Response:
        seen.append(request)
        return reply

    with httpr.Client(transport=httpr.MockTransport(handler)) as c:
        r = c.request("post", f"{ORIGIN}/items", content=b"abc")
    assert len(seen) == 1
    request = seen[0]
    assert request.method == "POST"
    assert request.url == f"{ORIGIN}/items"
    assert request.content == b"abc"
    assert r.status_code == 201
    assert r.content == b"made"
    assert r.headers["x-served-by"] == "mock"
    assert r.request is request
    assert r.url == f"{ORIGIN}/items"


@pytest.mark.parametrize(
    ("client_params", "url", "request_params", "expected"),
    [
        pytest.param(None, "/p", None, "/p", id="nothing-no-question-mark"),
        pytest.param(None, "/p", {}, "/p", id="empty-mapping-no-question-mark"),
        pytest.param(None, "/p", {"a": "1"}, "/p?a=1", id="one"),
        pytest.param(None, "/p", {"t": True, "f": False}, "/p?t=true&f=false", id="bools"),
        pytest.param(None, "/p", {"n": None}, "/p?n=", id="none-is-empty"),
        pytest.param(None, "/p", {"i": 7, "x": 1.5}, "/p?i=7&x=1.5", id="numbers"),
        pytest.param(None, "/p", {"k": ["1", "2"]}, "/p?k=1&k=2", id="list-repeats"),
        pytest.param(None, "/p", {"k": ("1", 2)}, "/p?k=1&k=2", id="tuple-repeats"),
        pytest.param(
            None, "/p", [("x", "1"), ("y", "2"), ("x", "3")], "/p?x=1&y=2&x=3", id="pairs"
        ),
        pytest.param(None, "/p", {"q": "a b"}, "/p?q=a+b", id="space-is-plus"),
        pytest.param(None, "/p", {"q": "a&b=c+d"}, "/p?q=a%26b%3Dc%2Bd", id="reserved-escaped"),
        pytest.param(None, "/p", {"q": "é"}, "/p?q=%C3%A9", id="utf-8"),
        pytest.param(None, "/p?z=0", {"a": "1"}, "/p?z=0&a=1", id="appended-with-ampersand"),
        pytest.param({"a": "1"}, "/p", None, "/p?a=1", id="client-only"),
        pytest.param(
            {"a": "1", "keep": "k"},
            "/p",
            {"a": ["2", "3"], "s": "x"},
            "/p?keep=k&a=2&a=3&s=x",
            id="client-first-minus-request-keys",
        ),
        pytest.param(
            [("a", "1"), ("b", "2"), ("a", "3")],
            "/p?z=0",
            {"a": "9"},
            "/p?z=0&b=2&a=9",
            id="request-key-replaces-every-client-value",
        ),
    ],
)
def test_params_merged_and_encoded(
    recorder: Recorder, client_params: Any, url: str, request_params: Any, expected: str
) -> None:
    """api.md §4.1."""
    with mock_client(recorder, params=client_params) as c:
        r = c.get(ORIGIN + url, params=request_params)
    assert recorder.last.url == ORIGIN + expected
    assert r.url == ORIGIN + expected


@pytest.mark.parametrize(
    "params",
    [
        pytest.param("a=1", id="str"),
        pytest.param(b"a=1", id="bytes"),
        pytest.param(42, id="int"),
        pytest.param({"a": object()}, id="object-value"),
        pytest.param({"a": b"x"}, id="bytes-value"),
        pytest.param({"a": {"b": "c"}}, id="dict-value"),
        pytest.param({1: "a"}, id="non-str-key"),
    ],
)
def test_bad_params_raise_type_error_before_the_handler(
    client: httpr.Client, recorder: Recorder, params: Any
) -> None:
    with pytest.raises(TypeError):
        client.get(f"{ORIGIN}/p", params=params)
    assert recorder.requests == []


def test_default_headers(client: httpr.Client, recorder: Recorder) -> None:
    """api.md §4.2: User-Agent, Accept, Accept-Encoding by default; no framing for a GET."""
    client.get(f"{ORIGIN}/")
    h = recorder.last.headers
    assert h["user-agent"] == f"python-httpr/{httpr.__version__}"
    assert h["accept"] == "*/*"
    assert "gzip" in [c.strip() for c in h["accept-encoding"].split(",")]
    for absent in ("content-length", "transfer-encoding", "content-type", "expect", "connection"):
        assert absent not in h
    assert recorder.last.content == b""


def test_client_headers_below_request_headers(recorder: Recorder) -> None:
    client_headers = [("X-A", "client"), ("X-A", "client2"), ("Accept", "text/plain")]
    with mock_client(recorder, headers=client_headers) as c:
        c.get(f"{ORIGIN}/", headers={"X-A": "request", "X-B": "b"})
        h = recorder.last.headers
        assert h.get_list("x-a") == ["request"]  # replaces every client value of the name
        assert h["accept"] == "text/plain"  # a client header beats the default
        assert h.get_list("accept") == ["text/plain"]
        assert h["x-b"] == "b"
        c.get(f"{ORIGIN}/")  # only for that request
        assert recorder.last.headers.get_list("x-a") == ["client", "client2"]
        assert "x-b" not in recorder.last.headers


def test_request_header_none_removes_client_and_default_headers(recorder: Recorder) -> None:
    with mock_client(recorder, headers={"X-Client": "1"}) as c:
        c.get(f"{ORIGIN}/", headers={"X-Client": None, "User-Agent": None, "Accept": None})
        h = recorder.last.headers
        assert "x-client" not in h
        assert "user-agent" not in h
        assert "accept" not in h
        assert "accept-encoding" in h


def test_repeated_request_header_pairs(client: httpr.Client, recorder: Recorder) -> None:
    client.get(f"{ORIGIN}/", headers=[("X-R", "1"), ("X-R", "2"), ("X-Empty", "")])
    h = recorder.last.headers
    assert h.get_list("x-r") == ["1", "2"]
    assert h["x-r"] == "1, 2"
    assert h["x-empty"] == ""


@pytest.mark.parametrize(
    ("kwargs", "content", "content_type"),
    [
        pytest.param({"content": b"\x00\xffraw"}, b"\x00\xffraw", None, id="bytes"),
        pytest.param({"content": bytearray(b"ba")}, b"ba", None, id="bytearray"),
        pytest.param({"content": "héllo"}, "héllo".encode(), None, id="str-utf-8"),
        pytest.param({"json": {"a": 1}}, b'{"a":1}', "application/json", id="json-compact"),
        pytest.param(
            {"json": {"z": 1, "a": [1, "é"], "n": None}},
            '{"z":1,"a":[1,"é"],"n":null}'.encode(),
            "application/json",
            id="json-order-kept-utf-8",
        ),
        pytest.param(
            {"data": {"a": "1 2", "b": ["x", "y"], "c": True, "d": None}},
            b"a=1+2&b=x&b=y&c=true&d=",
            "application/x-www-form-urlencoded",
            id="form",
        ),
        pytest.param(
            {"json": [1], "headers": {"Content-Type": "application/vnd.x+json"}},
            b"[1]",
            "application/vnd.x+json",
            id="user-content-type-wins",
        ),
    ],
)
def test_bodies(
    client: httpr.Client,
    recorder: Recorder,
    kwargs: dict[str, Any],
    content: bytes,
    content_type: str | None,
) -> None:
    """api.md §4.3."""
    client.post(f"{ORIGIN}/", **kwargs)
    request = recorder.last
    assert request.content == content
    assert request.headers.get("content-type") == content_type
    assert request.headers.get_list("content-type") == ([content_type] if content_type else [])


def test_body_is_sent_for_any_method(client: httpr.Client, recorder: Recorder) -> None:
    client.request("DELETE", f"{ORIGIN}/", content=b"gone")
    assert recorder.last.method == "DELETE"
    assert recorder.last.content == b"gone"


@pytest.mark.parametrize(
    ("method", "kwargs", "length"),
    [
        pytest.param("POST", {"content": b"abc"}, "3", id="bytes"),
        pytest.param("PUT", {"json": {"a": 1}}, "7", id="json"),
        pytest.param("POST", {}, "0", id="bodyless-post"),
        pytest.param("PATCH", {}, "0", id="bodyless-patch"),
        pytest.param("GET", {}, None, id="bodyless-get"),
    ],
)
def test_request_headers_show_content_length(
    client: httpr.Client, recorder: Recorder, method: str, kwargs: dict[str, Any], length: str
) -> None:
    """api.md §6 Request.headers: "the headers httpr sent on that hop"; §4.3 says which
    requests send Content-Length (amendment 4.3)."""
    client.request(method, f"{ORIGIN}/", **kwargs)
    assert recorder.last.headers.get("content-length") == length


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"content": b"a", "json": {"a": 1}}, ValueError, ("content", "json")),
        ({"content": b"a", "data": {"a": "1"}}, ValueError, ("content", "data")),
        ({"data": {"a": "1"}, "json": {"a": 1}}, ValueError, ("data", "json")),
        ({"json": {"a": float("nan")}}, ValueError, ()),
        ({"json": [float("inf")]}, ValueError, ()),
        ({"json": {1, 2}}, TypeError, ()),
        ({"json": {"when": datetime.date(2024, 1, 1)}}, TypeError, ()),
        ({"data": "a=1"}, TypeError, ()),
        ({"data": b"a=1"}, TypeError, ()),
        ({"content": b"abc", "headers": {"Content-Length": "4"}}, ValueError, ()),
        ({"headers": {"Content-Length": "1"}}, ValueError, ()),
        ({"content": b"abc", "headers": {"Transfer-Encoding": "chunked"}}, ValueError, ()),
        ({"headers": {"Transfer-Encoding": "chunked"}}, ValueError, ()),
        ({"content": 12}, TypeError, ()),
    ],
    ids=[
        "content+json",
        "content+data",
        "data+json",
        "json-nan",
        "json-inf",
        "json-set",
        "json-date",
        "data-str",
        "data-bytes",
        "content-length-mismatch",
        "content-length-without-body",
        "transfer-encoding",
        "transfer-encoding-without-body",
        "content-int",
    ],
)
def test_bad_bodies_raise_before_the_handler(
    client: httpr.Client,
    recorder: Recorder,
    kwargs: dict[str, Any],
    error: type[Exception],
    words: tuple[str, ...],
) -> None:
    with pytest.raises(error) as info:
        client.post(f"{ORIGIN}/", **kwargs)
    for word in words:
        assert word in str(info.value)
    assert recorder.requests == []


def test_matching_content_length_is_accepted(client: httpr.Client, recorder: Recorder) -> None:
    client.post(f"{ORIGIN}/", content=b"abc", headers={"Content-Length": "3"})
    assert recorder.last.content == b"abc"


# -- what the handler may do -------------------------------------------------------------------


def test_handler_exception_propagates_as_itself() -> None:
    raised = httpr.ConnectError("refused")

    def handler(request: httpr.Request) -> httpr.Response:
        raise raised

    with httpr.Client(transport=httpr.MockTransport(handler)) as c:
        with pytest.raises(httpr.ConnectError) as info:
            c.get(f"{ORIGIN}/")
        assert info.value is raised
        assert str(info.value) == "refused"


def test_handler_user_exception_propagates_and_client_stays_usable() -> None:
    calls: list[int] = []

    class Boom(Exception):
        pass

    def handler(request: httpr.Request) -> httpr.Response:
        calls.append(1)
        if len(calls) == 1:
            raise Boom("first")
        return httpr.Response(204)

    with httpr.Client(transport=httpr.MockTransport(handler)) as c:
        with pytest.raises(Boom):
            c.get(f"{ORIGIN}/")
        assert c.get(f"{ORIGIN}/").status_code == 204


@pytest.mark.parametrize(
    "returned",
    [None, b"bytes", "str", 200, {"status_code": 200}],
    ids=["none", "bytes", "str", "int", "dict"],
)
def test_handler_returning_a_non_response_is_type_error(returned: object) -> None:
    def handler(request: httpr.Request) -> Any:
        return returned

    with httpr.Client(transport=httpr.MockTransport(handler)) as c:
        with pytest.raises(TypeError):
            c.get(f"{ORIGIN}/")


@pytest.mark.parametrize("handler", [None, "handler", 1, b"x"], ids=["none", "str", "int", "bytes"])
def test_mock_transport_needs_a_callable(handler: Any) -> None:
    with pytest.raises(TypeError):
        httpr.MockTransport(handler)


@pytest.mark.parametrize("transport", [object(), "mock", lambda r: r], ids=["object", "str", "fn"])
def test_client_transport_must_be_a_mock_transport(transport: Any) -> None:
    with pytest.raises(TypeError, match="transport"):
        httpr.Client(transport=transport)


def test_response_is_constructible() -> None:
    """api.md §6 / amendment 4.2: the state of a response no client has returned yet."""
    r = httpr.Response(200, content=b"x")
    assert r.status_code == 200
    assert r.content == b"x"
    assert r.text == "x"
    assert r.http_version == "HTTP/1.1"
    assert r.url == ""
    assert r.request is None
    assert r.history == []
    assert r.elapsed == datetime.timedelta(0)
    assert httpr.Response(200, content="é").content == "é".encode()
    assert httpr.Response(204).content == b""


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((True,), {}, TypeError),
        (("200",), {}, TypeError),
        ((99,), {}, ValueError),
        ((1000,), {}, ValueError),
        ((200,), {"content": 1}, TypeError),
        ((200,), {"headers": {"Bad Name": "x"}}, ValueError),
        ((200,), {"headers": {"X-A": "a\r\nb"}}, ValueError),
    ],
    ids=["bool", "str", "below-100", "above-999", "int-content", "bad-name", "crlf-value"],
)
def test_response_constructor_validates(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        httpr.Response(*args, **kwargs)


# -- Client properties (api.md §2) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param({}, 30.0, id="default"),
        pytest.param({"timeout": 5}, 5, id="int"),
        pytest.param({"timeout": 2.5}, 2.5, id="float"),
        pytest.param({"timeout": None}, None, id="none"),
        pytest.param(
            {"timeout": httpr.Timeout(1.0, read=2.0)}, httpr.Timeout(1.0, read=2.0), id="Timeout"
        ),
    ],
)
def test_timeout_property_returns_the_value_as_given(
    recorder: Recorder, given: dict[str, Any], expected: object
) -> None:
    with mock_client(recorder, **given) as c:
        assert c.timeout == expected
        assert type(c.timeout) is type(expected)


def test_timeout_setter_keeps_the_value_as_given(client: httpr.Client) -> None:
    t = httpr.Timeout(3.0, pool=None)
    client.timeout = t
    assert client.timeout is t
    client.timeout = None
    assert client.timeout is None
    client.timeout = 7
    assert client.timeout == 7


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-1, ValueError),
        (-0.5, ValueError),
        (float("nan"), ValueError),
        ("1", TypeError),
        (True, TypeError),
        ([1], TypeError),
    ],
    ids=["negative-int", "negative-float", "nan", "str", "bool", "list"],
)
def test_timeout_setter_validates_at_assignment(
    client: httpr.Client, value: object, error: type[Exception]
) -> None:
    client.timeout = 4.0
    with pytest.raises(error):
        client.timeout = value  # type: ignore[assignment]
    assert client.timeout == 4.0  # unchanged


def test_is_closed(recorder: Recorder) -> None:
    c = mock_client(recorder)
    assert c.is_closed is False
    c.get(f"{ORIGIN}/")
    c.close()
    assert c.is_closed is True
    c.close()  # idempotent
    assert c.is_closed is True
    with pytest.raises(httpr.ClientClosed):
        c.get(f"{ORIGIN}/")
    assert len(recorder.requests) == 1  # refused before the handler
    with mock_client(recorder) as c2:
        assert not c2.is_closed
    assert c2.is_closed


def test_is_closed_is_read_only(client: httpr.Client) -> None:
    with pytest.raises(AttributeError):
        client.is_closed = True  # type: ignore[misc]


# -- headers property --------------------------------------------------------------------------


def test_headers_property_is_a_lowercased_dict_without_defaults(recorder: Recorder) -> None:
    with mock_client(recorder, headers=[("X-A", "1"), ("X-A", "2"), ("X-Token", "t")]) as c:
        h = c.headers
        assert isinstance(h, dict)
        assert dict(h) == {"x-a": "1, 2", "x-token": "t"}
        assert list(h) == ["x-a", "x-token"]
        assert h["X-A"] == "1, 2"  # case-insensitive
        assert "X-TOKEN" in h
        assert "user-agent" not in h  # defaults are not in it
    with mock_client(recorder) as c:
        assert dict(c.headers) == {}


def test_headers_property_in_place_edits_are_sent(recorder: Recorder) -> None:
    with mock_client(recorder, headers={"X-A": "1", "X-Gone": "g"}) as c:
        h = c.headers
        h["X-B"] = "2"
        del h["x-gone"]
        h.update({"X-C": "3"})
        assert h.setdefault("X-D", "4") == "4"
        assert h.setdefault("X-D", "other") == "4"
        h |= {"X-E": "5"}
        assert h.pop("X-A") == "1"
        # Live: the property shows the edits.
        assert dict(c.headers) == {"x-b": "2", "x-c": "3", "x-d": "4", "x-e": "5"}
        c.get(f"{ORIGIN}/")
        sent = recorder.last.headers
        assert [sent.get(n) for n in ("x-a", "x-gone")] == [None, None]
        assert [sent[n] for n in ("x-b", "x-c", "x-d", "x-e")] == ["2", "3", "4", "5"]
        h["x-b"] = "two"  # replaces, whatever the spelling
        c.get(f"{ORIGIN}/")
        assert recorder.last.headers.get_list("x-b") == ["two"]
        h.clear()
        c.get(f"{ORIGIN}/")
        assert "x-b" not in recorder.last.headers
        assert recorder.last.headers["user-agent"].startswith("python-httpr/")  # defaults stay


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda h: h.__setitem__("X-A", "a\r\nInjected: 1"), ValueError),
        (lambda h: h.__setitem__("X-A", "nul\x00"), ValueError),
        (lambda h: h.__setitem__("Bad Name", "x"), ValueError),
        (lambda h: h.__setitem__("X-A", 1), TypeError),
        (lambda h: h.update({"X-A": "a\nb"}), ValueError),
        (lambda h: h.setdefault("X-A", "a\rb"), ValueError),
    ],
    ids=["crlf", "nul", "bad-name", "int-value", "update-lf", "setdefault-cr"],
)
def test_headers_property_in_place_edits_are_validated(
    recorder: Recorder, edit: Callable[[Any], object], error: type[Exception]
) -> None:
    with mock_client(recorder, headers={"X-Keep": "1"}) as c:
        with pytest.raises(error):
            edit(c.headers)
        assert dict(c.headers) == {"x-keep": "1"}  # nothing half-applied
        c.get(f"{ORIGIN}/")
        assert "x-a" not in recorder.last.headers


def test_headers_setter_replaces_all_and_none_clears(recorder: Recorder) -> None:
    with mock_client(recorder, headers={"X-Old": "1"}) as c:
        c.headers = [("X-New", "1"), ("X-New", "2")]
        assert dict(c.headers) == {"x-new": "1, 2"}
        c.get(f"{ORIGIN}/")
        assert recorder.last.headers.get_list("x-new") == ["1", "2"]
        assert "x-old" not in recorder.last.headers
        c.headers = None
        assert dict(c.headers) == {}
        c.get(f"{ORIGIN}/")
        assert "x-new" not in recorder.last.headers
        with pytest.raises(ValueError):
            c.headers = {"X-A": "a\r\nb"}
        with pytest.raises(TypeError):
            c.headers = "X-A: 1"  # type: ignore[assignment]
        assert dict(c.headers) == {}


# -- params property ---------------------------------------------------------------------------


def test_params_property_shows_repeats_as_lists(recorder: Recorder) -> None:
    given = [("a", "1"), ("b", 2), ("a", True), ("c", None)]
    with mock_client(recorder, params=given) as c:
        assert c.params == {"a": ["1", "true"], "b": "2", "c": ""}


def test_params_setter_applies_to_later_requests(recorder: Recorder) -> None:
    with mock_client(recorder, params={"a": "1"}) as c:
        c.params = {"z": ["9", "8"]}
        assert c.params == {"z": ["9", "8"]}
        c.get(f"{ORIGIN}/p")
        assert recorder.last.url == f"{ORIGIN}/p?z=9&z=8"
        c.params = None
        assert not c.params
        c.get(f"{ORIGIN}/p")
        assert recorder.last.url == f"{ORIGIN}/p"
        with pytest.raises(TypeError):
            c.params = "a=1"  # type: ignore[assignment]
        assert not c.params


# -- base_url (api.md §4.6) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "url", "expected"),
    [
        (f"{ORIGIN}/api", "/users", f"{ORIGIN}/api/users"),
        (f"{ORIGIN}/api", "users", f"{ORIGIN}/api/users"),
        (f"{ORIGIN}/api/", "/users", f"{ORIGIN}/api/users"),
        (f"{ORIGIN}/api/", "users", f"{ORIGIN}/api/users"),
        (f"{ORIGIN}/api", "/users?page=2", f"{ORIGIN}/api/users?page=2"),
        (ORIGIN, "/users", f"{ORIGIN}/users"),
        (f"{ORIGIN}/api", "http://127.0.0.1:8/other", "http://127.0.0.1:8/other"),
        (f"{ORIGIN}/api", "HTTP://127.0.0.1:8/x", "http://127.0.0.1:8/x"),
    ],
    ids=[
        "slash-relative",
        "bare-relative",
        "base-with-slash",
        "base-with-slash-bare",
        "query-kept",
        "base-without-path",
        "absolute-ignores-base",
        "absolute-any-case-scheme",
    ],
)
def test_base_url_joins_relative_urls(
    recorder: Recorder, base_url: str, url: str, expected: str
) -> None:
    with mock_client(recorder, base_url=base_url) as c:
        r = c.get(url)
    assert recorder.last.url == expected
    assert r.url == expected


def test_base_url_property_and_setter(recorder: Recorder) -> None:
    with mock_client(recorder) as c:
        assert c.base_url is None
        with pytest.raises(httpr.InvalidURL):
            c.get("/users")  # relative without base_url
        c.base_url = f"{ORIGIN}/v1"
        assert isinstance(c.base_url, str) and c.base_url.startswith(f"{ORIGIN}/v1")
        c.get("items", params={"a": "1"})
        assert recorder.last.url == f"{ORIGIN}/v1/items?a=1"
        with pytest.raises(httpr.InvalidURL):
            c.base_url = "not a url"
        with pytest.raises(httpr.UnsupportedProtocol):
            c.base_url = "ftp://127.0.0.1/x"
        assert c.base_url is not None and c.base_url.startswith(f"{ORIGIN}/v1")
        c.base_url = None
        assert c.base_url is None


@pytest.mark.parametrize(
    ("base_url", "error"),
    [
        ("relative/path", httpr.InvalidURL),
        ("http://", httpr.InvalidURL),
        ("ftp://127.0.0.1/x", httpr.UnsupportedProtocol),
        (b"http://127.0.0.1/", TypeError),
    ],
    ids=["relative", "no-host", "ftp", "bytes"],
)
def test_bad_base_url_raises_at_construction(
    recorder: Recorder, base_url: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        mock_client(recorder, base_url=base_url)


# -- auth, auth_bearer, cookies properties (api.md §2, §4.5, §10) ------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def test_auth_property(recorder: Recorder) -> None:
    with mock_client(recorder, auth=("user", "pässword")) as client:
        c: Any = client  # properties not on Client yet (mypy)
        assert c.auth == ("user", "pässword")
        c.get(f"{ORIGIN}/")
        assert recorder.last.headers.get_list("authorization") == [basic("user", "pässword")]
        c.auth = ("u", None)
        c.get(f"{ORIGIN}/")
        assert recorder.last.headers["authorization"] == basic("u", "")
        with pytest.raises(ValueError):
            c.auth = ("u\r\n", "p")
        c.auth = None
        assert c.auth is None
        c.get(f"{ORIGIN}/")
        assert "authorization" not in recorder.last.headers


def test_auth_bearer_property(recorder: Recorder) -> None:
    with mock_client(recorder, auth_bearer="tok") as client:
        c: Any = client  # properties not on Client yet (mypy)
        assert c.auth_bearer == "tok"
        c.get(f"{ORIGIN}/")
        assert recorder.last.headers.get_list("authorization") == ["Bearer tok"]
        with pytest.raises(ValueError):
            c.auth_bearer = "a\nb"
        c.auth_bearer = None
        c.get(f"{ORIGIN}/")
        assert "authorization" not in recorder.last.headers


def test_cookies_property(recorder: Recorder) -> None:
    with mock_client(recorder, cookies={"a": "1", "b": "2"}) as client:
        c: Any = client  # properties not on Client yet (mypy)
        cookies = c.cookies
        assert cookies == {"a": "1", "b": "2"}
        cookies["x"] = "not added"  # a copy
        assert c.cookies == {"a": "1", "b": "2"}
        c.get(f"{ORIGIN}/")
        assert recorder.last.headers.get_list("cookie") == ["a=1; b=2"]
        c.cookies = {"z": "9"}
        c.get(f"{ORIGIN}/")
        assert recorder.last.headers["cookie"] == "z=9"
        with pytest.raises(ValueError):
            c.cookies = {"bad": "a;b"}
        c.cookies = None
        assert c.cookies == {}
        c.get(f"{ORIGIN}/")
        assert "cookie" not in recorder.last.headers
