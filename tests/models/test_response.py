"""Response, Request and Timings (api.md section 6): construction, members, body decoding."""

from __future__ import annotations

import codecs
import dataclasses
import datetime
import json
import pickle
import sys
import types
from decimal import Decimal
from typing import Any

import pytest

import httpr._models as models
from httpr._exceptions import DecodingError, HTTPStatusError, RequestNotRead
from httpr._models import (
    CaseInsensitiveHeaderMap,
    Request,
    Response,
    Timings,
    reason_phrase,
)

MDN = "https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/"


def transport_response(**overrides: Any) -> Response:
    fields: dict[str, Any] = {
        "status_code": 200,
        "headers": CaseInsensitiveHeaderMap({"Content-Type": "text/plain"}),
        "content": b"hello",
        "http_version": "HTTP/2",
        "url": "https://example.test/final",
        "request": Request("GET", "https://example.test/final", {}),
        "elapsed": datetime.timedelta(milliseconds=12),
        "timings": Timings(name_lookup=0.001, total=0.012, new_connection=True),
    }
    fields.update(overrides)
    return Response._from_transport(**fields)


# -- construction -----------------------------------------------------------------------------


def test_constructed_defaults() -> None:
    r = Response(200)
    assert r.status_code == 200
    assert r.http_version == "HTTP/1.1"
    assert r.url == ""
    assert r.request is None
    assert r.history == []
    assert r.elapsed == datetime.timedelta(0)
    assert r.timings == Timings()
    assert r.content == b""
    assert r.text == ""
    assert r.headers == {}
    assert r.cookies == {}


@pytest.mark.parametrize("code", [100, 200, 599, 999])
def test_status_range_accepted(code: int) -> None:
    assert Response(code).status_code == code


@pytest.mark.parametrize("code", [0, 99, 1000, -200])
def test_status_out_of_range(code: int) -> None:
    with pytest.raises(ValueError, match=f"status_code must be from 100 to 999, got {code}"):
        Response(code)


@pytest.mark.parametrize("code", [True, 200.0, "200", None])
def test_status_type(code: object) -> None:
    with pytest.raises(TypeError, match="status_code must be an int"):
        Response(code)  # type: ignore[arg-type]


def test_content_forms() -> None:
    assert Response(200, content="caf\u00e9").content == b"caf\xc3\xa9"
    assert Response(200, content=bytearray(b"ab")).content == b"ab"
    assert Response(200, content=memoryview(b"abc")[1:]).content == b"bc"
    assert type(Response(200, content=bytearray(b"ab")).content) is bytes


@pytest.mark.parametrize("content", [1, None, ["a"], {"a": 1}])
def test_content_type_error(content: object) -> None:
    with pytest.raises(TypeError, match="content must be bytes-like or str"):
        Response(200, content=content)  # type: ignore[arg-type]


def test_headers_forms_and_validation() -> None:
    assert Response(200, headers={"A": "1"}).headers == {"a": "1"}
    assert Response(200, headers=[("A", "1"), ("a", "2")]).headers.get_list("A") == ["1", "2"]
    shared = CaseInsensitiveHeaderMap({"A": "1"})
    assert Response(200, headers=shared).headers is shared
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Response(200, headers={"A": "1\r\nB: 2"})
    with pytest.raises(TypeError):
        Response(200, headers={"A": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        Response(200, headers="A: 1")  # type: ignore[arg-type]


def test_constructor_is_keyword_only_after_status() -> None:
    with pytest.raises(TypeError):
        Response(200, {"A": "1"})  # type: ignore[call-arg]


def test_from_transport_sets_every_field_without_validation() -> None:
    headers = CaseInsensitiveHeaderMap({"Content-Type": "text/plain"})
    request = Request("GET", "https://example.test/final", {})
    timings = Timings(name_lookup=0.001, total=0.012, new_connection=True)
    r = transport_response(headers=headers, request=request, timings=timings)
    assert r.status_code == 200
    assert r.headers is headers
    assert r.content == b"hello"
    assert r.http_version == "HTTP/2"
    assert r.url == "https://example.test/final"
    assert r.request is request
    assert r.elapsed == datetime.timedelta(milliseconds=12)
    assert r.timings is timings
    assert r.history == []


def test_client_sets_private_attributes() -> None:
    r = Response(200)
    first = Response(302, headers={"Location": "/final"})
    request = Request("GET", "http://h/final", {})
    r._url = "http://h/final"
    r._request = request
    r._history = [first]
    r._elapsed = datetime.timedelta(seconds=1)
    assert r.url == "http://h/final"
    assert r.request is request
    assert r.history == [first]
    assert r.elapsed == datetime.timedelta(seconds=1)


@pytest.mark.parametrize(
    "name",
    [
        "status_code",
        "reason_phrase",
        "http_version",
        "url",
        "headers",
        "cookies",
        "content",
        "text",
        "request",
        "history",
        "elapsed",
        "timings",
        "is_success",
        "has_redirect_location",
    ],
)
def test_read_only_members(name: str) -> None:
    with pytest.raises(AttributeError):
        setattr(Response(200), name, None)


def test_headers_is_the_same_object_each_time() -> None:
    r = Response(200, headers={"A": "1"})
    assert r.headers is r.headers


def test_pickle_round_trip() -> None:
    r = transport_response()
    r._history = [Response(301, headers={"Location": "/final"})]
    restored: Any = pickle.loads(pickle.dumps(r))
    assert restored.status_code == 200
    assert restored.content == b"hello"
    assert restored.headers == r.headers
    assert r.request is not None
    assert restored.request.url == r.request.url
    assert restored.history[0].status_code == 301
    assert restored.timings == r.timings


# -- reason phrases and repr ------------------------------------------------------------------

REGISTERED = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
    204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
    208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
    411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
    414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
    417: "Expectation Failed", 418: "I'm a teapot", 421: "Misdirected Request",
    422: "Unprocessable Content", 423: "Locked", 424: "Failed Dependency", 425: "Too Early",
    426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    510: "Not Extended", 511: "Network Authentication Required",
}  # fmt: skip


def test_reason_phrase_table_is_exactly_the_registry() -> None:
    for code in range(100, 1000):
        assert reason_phrase(code) == REGISTERED.get(code, ""), code
        assert Response(code).reason_phrase == REGISTERED.get(code, "")


def test_teapot_is_httpr_spelling_not_pythons() -> None:
    assert Response(418).reason_phrase == "I'm a teapot"
    assert reason_phrase(306) == ""
    assert reason_phrase(0) == ""


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (200, "<Response [200 OK]>"),
        (418, "<Response [418 I'm a teapot]>"),
        (599, "<Response [599]>"),
    ],
)
def test_repr(code: int, text: str) -> None:
    assert repr(Response(code)) == text


# -- status predicates ------------------------------------------------------------------------

PREDICATES = ["is_informational", "is_success", "is_redirect", "is_client_error", "is_server_error"]


@pytest.mark.parametrize(
    ("code", "true_one"),
    [
        (100, "is_informational"),
        (199, "is_informational"),
        (200, "is_success"),
        (299, "is_success"),
        (300, "is_redirect"),
        (304, "is_redirect"),
        (399, "is_redirect"),
        (400, "is_client_error"),
        (499, "is_client_error"),
        (500, "is_server_error"),
        (599, "is_server_error"),
        (600, None),
        (999, None),
    ],
)
def test_status_predicates(code: int, true_one: str | None) -> None:
    r = Response(code)
    for name in PREDICATES:
        assert getattr(r, name) is (name == true_one), name
    assert r.is_error is (400 <= code < 600)


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_has_redirect_location(code: int) -> None:
    assert Response(code, headers={"location": "/x"}).has_redirect_location is True
    assert Response(code).has_redirect_location is False


@pytest.mark.parametrize("code", [200, 300, 304, 305, 306, 399, 404])
def test_no_redirect_location_for_other_codes(code: int) -> None:
    assert Response(code, headers={"Location": "/x"}).has_redirect_location is False


# -- cookies ----------------------------------------------------------------------------------


def test_cookies_from_every_set_cookie() -> None:
    r = Response(
        200,
        headers=[
            ("Set-Cookie", "sid=abc; Path=/; HttpOnly"),
            ("X-Other", "no=cookie"),
            ("set-cookie", " theme = dark ; Secure"),
            ("Set-Cookie", "empty=; Max-Age=0"),
            ("Set-Cookie", "no-equals-sign"),
            ("Set-Cookie", "=nameless"),
            ("Set-Cookie", "expires=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"),
            ("Set-Cookie", "sid=later"),
            ("Set-Cookie", "token=a=b=c"),
        ],
    )
    assert r.cookies == {
        "sid": "later",
        "theme": "dark",
        "empty": "",
        "expires": "1",
        "token": "a=b=c",
    }


def test_cookies_fresh_dict_per_access() -> None:
    r = Response(200, headers={"Set-Cookie": "a=1"})
    first = r.cookies
    first["a"] = "changed"
    first["b"] = "2"
    assert r.cookies == {"a": "1"}
    assert r.cookies is not r.cookies


# -- encoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/plain; charset=ISO-8859-1", "iso-8859-1"),
        ('text/plain; charset="Windows-1252"', "windows-1252"),
        ("text/plain; charset='latin-1'", "latin-1"),
        ("text/html; q=1; CHARSET = utf-16", "utf-16"),
        ("text/plain;format=flowed;charset=koi8-r", "koi8-r"),
        ("application/json; charset=latin-1", "latin-1"),
        ("text/plain; charset=no-such-codec", "utf-8"),
        ("text/plain; charset=base64", "utf-8"),
        ("text/plain; charset=", "utf-8"),
        ("application/json", "utf-8"),
        ("Application/JSON", "utf-8"),
        ("application/problem+json", "utf-8"),
        ("application/vnd.api+json; v=1", "utf-8"),
        ("text/plain", "utf-8"),
        ("application/octet-stream", "utf-8"),
    ],
)
def test_encoding_from_content_type(content_type: str, expected: str) -> None:
    # The body's own charset= must not win: header steps come first, and these types are
    # not sniffed.
    r = Response(200, headers={"Content-Type": content_type}, content=b'charset="cp1251"')
    assert r.encoding == expected


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/html",
        "TEXT/HTML; level=1",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
    ],
)
def test_encoding_sniffed_for_markup_or_no_type(content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = b'<html><head><meta charset="Shift_JIS"></head></html>'
    assert Response(200, headers=headers, content=body).encoding == "shift_jis"


@pytest.mark.parametrize(
    "body",
    [
        b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2">',
        b"<?xml version='1.0'?><doc charset=ISO-8859-2/>",
        b"<meta CHARSET = 'iso-8859-2' >",
    ],
)
def test_sniffing_forms(body: bytes) -> None:
    assert Response(200, headers={"Content-Type": "text/html"}, content=body).encoding == (
        "iso-8859-2"
    )


def test_xml_declaration_encoding_is_not_sniffed() -> None:
    body = b'<?xml version="1.0" encoding="iso-8859-2"?><doc/>'
    assert Response(200, headers={"Content-Type": "text/xml"}, content=body).encoding == "utf-8"


def test_sniffing_is_limited_to_2048_bytes() -> None:
    inside = b" " * (2048 - len(b"charset=")) + b"charset=latin-1"
    assert Response(200, content=inside).encoding == "latin-1"
    outside = b" " * (2048 - len(b"charset=") + 1) + b"charset=latin-1"
    assert Response(200, content=outside).encoding == "utf-8"
    far = b"x" * 5000 + b'<meta charset="latin-1">'
    assert Response(200, headers={"Content-Type": "text/html"}, content=far).encoding == "utf-8"


def test_sniffed_unknown_label_falls_back_to_utf8() -> None:
    assert Response(200, content=b'<meta charset="x-unknown-9">').encoding == "utf-8"
    assert Response(200, content=b'<meta charset="">').encoding == "utf-8"


def test_charset_param_beats_sniffing() -> None:
    r = Response(
        200,
        headers={"Content-Type": "text/html; charset=koi8-r"},
        content=b'<meta charset="latin-1">',
    )
    assert r.encoding == "koi8-r"


def test_default_encoding_is_utf8() -> None:
    assert Response(200, content=b"plain").encoding == "utf-8"


def test_encoding_detected_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = models._sniff_charset

    def counting(body: bytes) -> str | None:
        calls.append(body)
        return original(body)

    monkeypatch.setattr(models, "_sniff_charset", counting)
    r = Response(200, content=b'<meta charset="latin-1">')
    assert r.encoding == "latin-1"
    assert r.encoding == "latin-1"
    _ = r.text
    assert len(calls) == 1


def test_encoding_setter() -> None:
    r = Response(200, headers={"Content-Type": "text/plain; charset=latin-1"}, content=b"caf\xe9")
    assert r.text == "caf\u00e9"
    r.encoding = "utf-8"
    assert r.encoding == "utf-8"
    assert r.text == "caf\ufffd"
    r.encoding = "CP1252"
    assert r.encoding == "CP1252"
    assert r.text == "caf\u00e9"
    r.encoding = None
    assert r.encoding == "latin-1"


def test_encoding_setter_rejects_unknown_and_non_text_codecs() -> None:
    r = Response(200)
    with pytest.raises(LookupError, match="unknown encoding"):
        r.encoding = "no-such-codec"
    with pytest.raises(LookupError, match="not a text encoding"):
        r.encoding = "zlib"
    with pytest.raises(TypeError, match="encoding must be a str or None"):
        r.encoding = b"utf-8"  # type: ignore[assignment]
    assert r.encoding == "utf-8"


# -- text -------------------------------------------------------------------------------------


def test_text_decodes_with_the_encoding_and_replaces_invalid_bytes() -> None:
    assert Response(200, content="\u2603 snow".encode()).text == "\u2603 snow"
    assert Response(200, content=b"bad \xff\xfe byte").text == "bad \ufffd\ufffd byte"
    latin = Response(200, headers={"Content-Type": "text/plain; charset=latin-1"}, content=b"\xe9")
    assert latin.text == "\u00e9"


@pytest.mark.parametrize(
    ("body", "label"),
    [
        (codecs.BOM_UTF8 + "h\u00e9".encode(), "latin-1"),
        (codecs.BOM_UTF16_LE + "h\u00e9".encode("utf-16-le"), "utf-8"),
        (codecs.BOM_UTF16_BE + "h\u00e9".encode("utf-16-be"), "latin-1"),
        (codecs.BOM_UTF16_LE + "h\u00e9".encode("utf-16-le"), None),
    ],
)
def test_bom_overrides_the_label_and_is_stripped(body: bytes, label: str | None) -> None:
    headers = {} if label is None else {"Content-Type": f"text/plain; charset={label}"}
    r = Response(200, headers=headers, content=body)
    before = r.encoding
    assert r.text == "h\u00e9"
    # Reading text has no side effect on encoding.
    assert r.encoding == before


def test_bom_beats_an_explicit_encoding_too() -> None:
    r = Response(200, content=codecs.BOM_UTF8 + b"\xc3\xa9")
    r.encoding = "latin-1"
    assert r.text == "\u00e9"


def test_bom_only_at_the_start() -> None:
    assert Response(200, content=b"a" + codecs.BOM_UTF8).text == "a\ufeff"


# -- json and cbor ----------------------------------------------------------------------------


def test_json_keeps_order_and_big_ints() -> None:
    r = Response(200, content=b'{"z": 1, "a": 123456789012345678901234567890}')
    assert list(r.json()) == ["z", "a"]
    assert r.json()["a"] == 123456789012345678901234567890


def test_json_kwargs_and_other_encodings() -> None:
    assert Response(200, content=b'{"x": 1.5}').json(parse_float=Decimal) == {"x": Decimal("1.5")}
    assert Response(200, content='{"x": "\u00e9"}'.encode("utf-16")).json() == {"x": "\u00e9"}
    assert Response(200, content=codecs.BOM_UTF8 + b"[1]").json() == [1]


@pytest.mark.parametrize("body", [b"", b"{", b"<html>"])
def test_json_malformed(body: bytes) -> None:
    with pytest.raises(json.JSONDecodeError):
        Response(200, content=body).json()


def _cbor_response(body: bytes = b"\xa1aa\x01") -> Response:
    return Response(200, headers={"Content-Type": "application/cbor"}, content=body)


def test_cbor_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cbor2", None)  # makes `import cbor2` fail
    with pytest.raises(ImportError, match=r"pip install 'httpr\[cbor\]'"):
        _cbor_response().cbor()
    with pytest.raises(ImportError, match=r"httpr\[cbor\]"):
        _cbor_response().json()


class _FakeDecodeError(ValueError):
    pass


def _fake_cbor2(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    seen: list[bytes] = []

    def loads(data: bytes) -> object:
        seen.append(data)
        if data == b"\xa1aa\x01":
            return {"a": 1}
        if data == b"\x18":
            raise EOFError("premature end of stream")
        raise _FakeDecodeError("invalid additional information")

    module = types.ModuleType("cbor2")
    module.loads = loads  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cbor2", module)
    return seen


def test_cbor_and_json_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _fake_cbor2(monkeypatch)
    assert _cbor_response().cbor() == {"a": 1}
    assert _cbor_response().json() == {"a": 1}
    r = Response(200, headers={"Content-Type": "Application/CBOR; x=1"}, content=b"\xa1aa\x01")
    assert r.json() == {"a": 1}
    assert seen == [b"\xa1aa\x01"] * 3


@pytest.mark.parametrize("body", [b"\xff\xff", b"\x18"])
def test_cbor_malformed_is_a_decoding_error(monkeypatch: pytest.MonkeyPatch, body: bytes) -> None:
    _fake_cbor2(monkeypatch)
    r = _cbor_response(body)
    request = Request("GET", "http://user:pw@h/data", {})
    r._request = request
    with pytest.raises(DecodingError) as info:
        r.cbor()
    assert info.value.request is request
    assert str(info.value).startswith("Malformed CBOR body (")
    assert str(info.value).endswith(" for GET http://user:[secure]@h/data")
    assert "pw" not in str(info.value)


# -- raise_for_status -------------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 204, 299])
def test_raise_for_status_returns_self_for_2xx(code: int) -> None:
    r = Response(code)
    assert r.raise_for_status() is r


@pytest.mark.parametrize(
    ("code", "headers", "message"),
    [
        (
            404,
            {},
            f"Client error '404 Not Found' for url 'http://h/x'\n"
            f"For more information check: {MDN}404",
        ),
        (
            500,
            {},
            "Server error '500 Internal Server Error' for url 'http://h/x'\n"
            f"For more information check: {MDN}500",
        ),
        (
            599,
            {},
            f"Server error '599 ' for url 'http://h/x'\nFor more information check: {MDN}599",
        ),
        (
            101,
            {},
            "Informational response '101 Switching Protocols' for url 'http://h/x'\n"
            f"For more information check: {MDN}101",
        ),
        (
            301,
            {"Location": "https://h/y"},
            "Redirect response '301 Moved Permanently' for url 'http://h/x'\n"
            "Redirect location: 'https://h/y'\n"
            f"For more information check: {MDN}301",
        ),
        (
            302,
            {},
            f"Redirect response '302 Found' for url 'http://h/x'\n"
            f"For more information check: {MDN}302",
        ),
        (
            304,
            {"Location": "/ignored"},
            "Redirect response '304 Not Modified' for url 'http://h/x'\n"
            f"For more information check: {MDN}304",
        ),
        (
            700,
            {},
            f"Invalid status code '700 ' for url 'http://h/x'\n"
            f"For more information check: {MDN}700",
        ),
    ],
)
def test_raise_for_status_message(code: int, headers: dict[str, str], message: str) -> None:
    request = Request("GET", "http://h/x", {})
    r = transport_response(
        status_code=code,
        headers=CaseInsensitiveHeaderMap(headers),
        url="http://h/x",
        request=request,
    )
    with pytest.raises(HTTPStatusError) as info:
        r.raise_for_status()
    assert str(info.value) == message
    assert info.value.response is r
    assert info.value.request is request


def test_raise_for_status_on_a_constructed_response() -> None:
    with pytest.raises(HTTPStatusError) as info:
        Response(503).raise_for_status()
    assert str(info.value).startswith("Server error '503 Service Unavailable' for url ''\n")
    assert info.value.request is None


def test_raise_for_status_masks_a_password_in_the_url() -> None:
    r = transport_response(status_code=401, url="http://user:hunter2@h/x")
    with pytest.raises(HTTPStatusError) as info:
        r.raise_for_status()
    assert "hunter2" not in str(info.value)
    assert "'http://user:[secure]@h/x'" in str(info.value)


# -- Request ----------------------------------------------------------------------------------


def test_request_members() -> None:
    request = Request("post", "http://host/path?q=1", [("X-A", "1"), ("x-a", "2")], b"body")
    assert request.method == "POST"
    assert request.url == "http://host/path?q=1"
    assert isinstance(request.headers, CaseInsensitiveHeaderMap)
    assert request.headers.get_list("x-a") == ["1", "2"]
    assert request.content == b"body"
    assert Request("GET", "http://h/", None).content == b""
    assert Request("GET", "http://h/", None, bytearray(b"x")).content == b"x"


def test_request_repr() -> None:
    assert repr(Request("post", "http://host/path", {})) == "<Request('POST', 'http://host/path')>"
    masked = repr(Request("GET", "https://user:s3cret@host:8443/p?a=b@c", {"Authorization": "x"}))
    assert masked == "<Request('GET', 'https://user:[secure]@host:8443/p?a=b@c')>"
    assert repr(Request("GET", "http://user@host/", {})) == "<Request('GET', 'http://user@host/')>"


def test_request_streamed_content() -> None:
    request = Request("PUT", "http://h/", {}, stream=True)
    with pytest.raises(RequestNotRead):
        _ = request.content
    request._content = b"read by the mock transport"
    assert request.content == b"read by the mock transport"


def test_request_read_only_except_headers() -> None:
    request = Request("GET", "http://h/", {"A": "1"})
    for name in ("method", "url", "content"):
        with pytest.raises(AttributeError):
            setattr(request, name, "x")
    request.headers = [("B", "2"), ("b", "3")]
    assert request.headers.multi_items() == [("b", "2"), ("b", "3")]
    with pytest.raises(ValueError):
        request.headers = {"B": "\n"}
    request.headers = None
    assert request.headers == {}


def test_request_headers_validated_at_construction() -> None:
    with pytest.raises(ValueError):
        Request("GET", "http://h/", {"Bad Name": "1"})


def test_request_pickles() -> None:
    request = Request("POST", "http://h/", {"A": "1"}, b"x")
    restored = pickle.loads(pickle.dumps(request))
    assert (restored.method, restored.url, restored.content) == ("POST", "http://h/", b"x")
    assert restored.headers == {"a": "1"}


# -- Timings ----------------------------------------------------------------------------------


def test_timings() -> None:
    t = Timings()
    assert [f.name for f in dataclasses.fields(Timings)] == [
        "name_lookup",
        "connect",
        "tls_handshake",
        "pretransfer",
        "first_byte",
        "total",
        "new_connection",
    ]
    assert dataclasses.astuple(t) == (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.total = 1.0  # type: ignore[misc]
    assert Timings(total=1.0) == Timings(total=1.0)
    assert hash(Timings(total=1.0)) == hash(Timings(total=1.0))
    assert Timings(total=1.0) != Timings(total=2.0)
