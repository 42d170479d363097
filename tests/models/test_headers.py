"""CaseInsensitiveHeaderMap (api.md section 8), its raw-head parser and the request's map."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httpr._models import CaseInsensitiveHeaderMap, Request, _RequestHeaderMap

H = CaseInsensitiveHeaderMap


def sample() -> CaseInsensitiveHeaderMap:
    return H(
        [
            ("Content-Type", "text/html"),
            ("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"),
            ("X-Trace", "one"),
            ("set-cookie", "b=2"),
            ("x-trace", "two"),
        ]
    )


# -- construction -----------------------------------------------------------------------------


def test_empty_forms() -> None:
    data: object
    for data in (None, {}, [], ()):
        h = H(data)
        assert len(h) == 0
        assert list(h) == []
        assert h.multi_items() == []
    assert len(H()) == 0


def test_from_mapping_and_pairs() -> None:
    assert H({"Accept": "a", "X-One": "1"}).multi_items() == [("accept", "a"), ("x-one", "1")]
    mixed: list[object] = [("Accept", "a"), ["Accept", "b"]]
    assert H(mixed).multi_items() == [("accept", "a"), ("accept", "b")]  # type: ignore[arg-type]
    assert H((("A", "1"),)).multi_items() == [("a", "1")]


def test_from_another_map_keeps_every_line() -> None:
    original = sample()
    copied = H(original)
    assert copied.multi_items() == original.multi_items()
    assert copied._wire_items() == original._wire_items()


def test_values_are_stripped_of_spaces_and_tabs() -> None:
    h = H({"A": "  x y \t", "B": ""})
    assert h["a"] == "x y"
    assert h["b"] == ""


@pytest.mark.parametrize("data", ["Accept: a", b"Accept: a", 42, object(), bytearray(b"x")])
def test_bad_container_types(data: object) -> None:
    with pytest.raises(TypeError, match="mapping or a sequence of \\(name, value\\) pairs"):
        H(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [[("A", "1", "extra")], [("A",)], ["AB"], [None], [{"A": "1"}]],
)
def test_bad_pair_shapes(data: object) -> None:
    with pytest.raises(TypeError, match="pairs must be \\(name, value\\) tuples, got a "):
        H(data)  # type: ignore[arg-type]


def test_bad_pair_message_does_not_echo_values() -> None:
    with pytest.raises(TypeError) as info:
        H([("Authorization", "Bearer s3cret", "extra")])  # type: ignore[list-item]
    assert str(info.value) == "headers pairs must be (name, value) tuples, got a tuple of 3 items"


@pytest.mark.parametrize("name", [b"Accept", 1, None])
def test_name_must_be_str(name: object) -> None:
    with pytest.raises(TypeError, match="Header names must be str"):
        H([(name, "v")])  # type: ignore[list-item]


@pytest.mark.parametrize("value", [b"v", 1, None, ["v"]])
def test_value_must_be_str(value: object) -> None:
    with pytest.raises(TypeError, match="The value of header 'X-A' must be str"):
        H({"X-A": value})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "name", ["", "X A", "X:A", "X\r\nB", "Ä", "X\0", "(x)", "a/b", "x\t", "{}", '"q"']
)
def test_name_must_be_a_token(name: str) -> None:
    with pytest.raises(ValueError, match="RFC 9110 token") as info:
        H({name: "v"})
    assert repr(name) in str(info.value)


def test_every_tchar_is_accepted() -> None:
    name = "!#$%&'*+-.^_`|~09azAZ"
    assert H({name: "v"})[name] == "v"


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\0b", "secret\r\nX-Injected: 1"])
def test_value_without_cr_lf_nul(value: str) -> None:
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL") as info:
        H([("Authorization", value)])
    assert "'Authorization'" in str(info.value)
    # The message names the header, not the (possibly secret) value.
    assert "secret" not in str(info.value)


def test_other_control_characters_and_non_ascii_values_are_allowed() -> None:
    assert H({"X": "caf\u00e9\x01\x7f"})["x"] == "caf\u00e9\x01\x7f"


# -- the table of api.md section 8 ------------------------------------------------------------


def test_getitem_joins_values() -> None:
    h = sample()
    assert h["x-trace"] == "one, two"
    assert h["X-TRACE"] == "one, two"
    assert h["Content-Type"] == "text/html"


def test_getitem_missing_raises_key_error_with_the_name() -> None:
    with pytest.raises(KeyError) as info:
        sample()["X-Missing"]
    assert info.value.args == ("X-Missing",)
    with pytest.raises(KeyError):
        sample()[1]  # type: ignore[index]


def test_get() -> None:
    h = sample()
    assert h.get("x-trace") == "one, two"
    assert h.get("X-Missing") is None
    assert h.get("X-Missing", "d") == "d"
    assert h.get("content-type", "d") == "text/html"
    assert h.get(None) is None  # type: ignore[call-overload]


def test_get_list() -> None:
    h = sample()
    assert h.get_list("Set-Cookie") == ["a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "b=2"]
    assert h.get_list("X-Missing") == []
    assert h.get_list(3) == []  # type: ignore[arg-type]
    # A copy: changing it changes nothing in the map.
    h.get_list("x-trace").append("three")
    assert h.get_list("x-trace") == ["one", "two"]


def test_set_cookie_join_is_lossy_but_get_list_is_not() -> None:
    h = sample()
    assert h["set-cookie"] == "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT, b=2"
    assert len(h.get_list("set-cookie")) == 2


def test_contains() -> None:
    h = sample()
    assert "content-type" in h
    assert "CONTENT-TYPE" in h
    assert "X-Missing" not in h
    keys: list[object] = [None, 1, b"content-type", ("content-type",)]
    for key in keys:
        assert key not in h


def test_keys_iter_values_items_len() -> None:
    h = sample()
    assert list(h.keys()) == ["content-type", "set-cookie", "x-trace"]
    assert list(h) == ["content-type", "set-cookie", "x-trace"]
    assert list(h.values()) == [
        "text/html",
        "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT, b=2",
        "one, two",
    ]
    assert list(h.items()) == list(zip(h.keys(), h.values()))
    assert len(h) == 3
    assert dict(h) == {
        "content-type": "text/html",
        "set-cookie": "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT, b=2",
        "x-trace": "one, two",
    }
    assert isinstance(h, Mapping)


def test_multi_items_every_line_in_order_lowercase() -> None:
    assert sample().multi_items() == [
        ("content-type", "text/html"),
        ("set-cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"),
        ("x-trace", "one"),
        ("set-cookie", "b=2"),
        ("x-trace", "two"),
    ]


def test_equality() -> None:
    h = H([("Accept", "a"), ("accept", "b"), ("X-One", "1")])
    assert h == {"x-one": "1", "ACCEPT": "a, b"}
    assert h == H([("x-one", "1"), ("accept", "a, b")])
    assert h == H([("X-ONE", "1"), ("Accept", "a"), ("Accept", "b")])
    assert not (h != {"x-one": "1", "accept": "a, b"})
    assert h != {"x-one": "1", "accept": "a"}
    assert h != {"x-one": "1"}
    assert h != {"x-one": "1", "accept": "a, b", "x-two": "2"}
    assert h != [("accept", "a, b"), ("x-one", "1")]
    assert h != "accept"
    assert h != {b"x-one": "1"}
    assert H() == {}


def test_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(sample())


def test_immutable() -> None:
    h = sample()
    with pytest.raises(TypeError):
        h["X-New"] = "1"  # type: ignore[index]
    with pytest.raises(TypeError):
        del h["x-trace"]  # type: ignore[attr-defined]
    assert not hasattr(h, "update")
    assert not hasattr(h, "pop")
    with pytest.raises(AttributeError):
        h.extra = 1  # type: ignore[attr-defined]


def test_repr_exact_and_masked() -> None:
    h = H(
        [
            ("Content-Type", "text/plain"),
            ("Authorization", "Bearer s3cret"),
            ("PROXY-AUTHORIZATION", "Basic czNjcmV0"),
            ("cookie", "sid=s3cret"),
            ("Set-Cookie", "sid=s3cret; HttpOnly"),
            ("Set-Cookie", "other=s3cret"),
            ("X-Trace", "1"),
            ("x-trace", "2"),
        ]
    )
    text = repr(h)
    assert text == (
        "CaseInsensitiveHeaderMap({'content-type': 'text/plain', 'authorization': '[secure]', "
        "'proxy-authorization': '[secure]', 'cookie': '[secure]', 'set-cookie': '[secure]', "
        "'x-trace': '1, 2'})"
    )
    assert "s3cret" not in text and "czNjcmV0" not in text
    assert "s3cret" not in str(h)
    assert repr(H()) == "CaseInsensitiveHeaderMap({})"


def test_pickle_and_copy_keep_lines_and_spelling() -> None:
    h = sample()
    for restored in (pickle.loads(pickle.dumps(h)), copy.copy(h), copy.deepcopy(h)):
        assert type(restored) is H
        assert restored.multi_items() == h.multi_items()
        assert restored._wire_items() == h._wire_items()


# -- private constructors ---------------------------------------------------------------------


def test_from_trusted_pairs_skips_validation() -> None:
    h = H._from_trusted_pairs([("X-Raw", " padded "), ("Host", "h"), ("x-raw", "2")])
    assert h.multi_items() == [("x-raw", " padded "), ("host", "h"), ("x-raw", "2")]
    assert h._wire_items() == [("X-Raw", " padded "), ("Host", "h"), ("x-raw", "2")]
    assert type(h) is H
    assert type(_RequestHeaderMap._from_trusted_pairs([("A", "1")])) is _RequestHeaderMap


def test_without_drops_every_line_of_the_names() -> None:
    h = H([("Content-Encoding", "gzip"), ("A", "1"), ("content-length", "5"), ("B", "2")])
    assert h._without("content-encoding", "Content-Length").multi_items() == [
        ("a", "1"),
        ("b", "2"),
    ]
    assert len(h) == 4


# -- _from_raw_head ---------------------------------------------------------------------------


def test_raw_head_http11() -> None:
    block = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Set-Cookie: a=1\r\n"
        b"Set-Cookie: b=2\r\n"
        b"Location: http://h:8080/x?y=1\r\n"
        b"X-Empty:\r\n"
        b"\r\n"
    )
    version, status, h = H._from_raw_head(block)
    assert (version, status) == ("HTTP/1.1", 200)
    assert type(h) is H
    assert h.multi_items() == [
        ("content-type", "text/html; charset=utf-8"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("location", "http://h:8080/x?y=1"),
        ("x-empty", ""),
    ]
    assert h.get_list("set-cookie") == ["a=1", "b=2"]


@pytest.mark.parametrize(
    ("status_line", "expected"),
    [
        (b"HTTP/2 200 \r\n", ("HTTP/2", 200)),
        (b"HTTP/2 204\r\n", ("HTTP/2", 204)),
        (b"HTTP/2.0 302 Found\r\n", ("HTTP/2", 302)),
        (b"HTTP/1.0 404 Not Found\r\n", ("HTTP/1.0", 404)),
        (b"HTTP/1.1 599\r\n", ("HTTP/1.1", 599)),
        (b"HTTP/1.1 418 Any Text The Server Likes\r\n", ("HTTP/1.1", 418)),
    ],
)
def test_raw_head_status_lines(status_line: bytes, expected: tuple[str, int]) -> None:
    version, status, h = H._from_raw_head(status_line + b"a: 1\r\n\r\n")
    assert (version, status) == expected
    assert h.multi_items() == [("a", "1")]


def test_raw_head_bare_lf_and_no_final_blank_line() -> None:
    _, status, h = H._from_raw_head(b"HTTP/1.1 201 Created\nA: 1\nB:2")
    assert status == 201
    assert h.multi_items() == [("a", "1"), ("b", "2")]


def test_raw_head_values_stripped_names_lowercased_spelling_kept() -> None:
    _, _, h = H._from_raw_head(b"HTTP/1.1 200 OK\r\nX-Mixed-Case: \t v a l \t\r\n\r\n")
    assert h.multi_items() == [("x-mixed-case", "v a l")]
    assert h._wire_items() == [("X-Mixed-Case", "v a l")]
    assert h["X-MIXED-CASE"] == "v a l"


def test_raw_head_obs_fold() -> None:
    block = b"HTTP/1.1 200 OK\r\nX-Long: first\r\n  second\r\n\tthird \r\nNext: 1\r\n\r\n"
    _, _, h = H._from_raw_head(block)
    assert h.multi_items() == [("x-long", "first second third"), ("next", "1")]
    assert h["x-long"] == "first second third"


def test_raw_head_obs_fold_of_a_duplicate_updates_its_own_line() -> None:
    block = b"HTTP/1.1 200 OK\r\nA: 1\r\nA: 2\r\n more\r\n\r\n"
    _, _, h = H._from_raw_head(block)
    assert h.get_list("a") == ["1", "2 more"]
    assert h.multi_items() == [("a", "1"), ("a", "2 more")]


def test_raw_head_obs_fold_without_previous_field_is_skipped() -> None:
    _, _, h = H._from_raw_head(b"HTTP/1.1 200 OK\r\n orphan\r\nA: 1\r\n\r\n")
    assert h.multi_items() == [("a", "1")]


def test_raw_head_obs_fold_onto_an_empty_value() -> None:
    _, _, h = H._from_raw_head(b"HTTP/1.1 200 OK\r\nA:\r\n continued\r\n\r\n")
    assert h["a"] == "continued"


def test_raw_head_lines_without_colon_are_skipped() -> None:
    _, _, h = H._from_raw_head(b"HTTP/1.1 200 OK\r\ngarbage line\r\n: no name\r\nA: 1\r\n\r\n")
    assert h.multi_items() == [("a", "1")]


def test_raw_head_value_keeps_inner_colons() -> None:
    _, _, h = H._from_raw_head(b"HTTP/1.1 200 OK\r\nDate: Tue, 15 Nov 1994 08:12:31 GMT\r\n\r\n")
    assert h["date"] == "Tue, 15 Nov 1994 08:12:31 GMT"


def test_raw_head_utf8_values() -> None:
    _, _, h = H._from_raw_head("HTTP/1.1 200 OK\r\nX-Name: caf\u00e9 \u2603\r\n\r\n".encode())
    assert h["x-name"] == "caf\u00e9 \u2603"


def test_raw_head_latin1_fallback_is_per_line() -> None:
    block = b"HTTP/1.1 200 OK\r\nX-Latin: caf\xe9\r\nX-Utf8: caf\xc3\xa9\r\n\r\n"
    _, _, h = H._from_raw_head(block)
    assert h["x-latin"] == "caf\u00e9"
    assert h["x-utf8"] == "caf\u00e9"


def test_raw_head_last_head_wins() -> None:
    block = (
        b"HTTP/1.1 200 Connection established\r\nProxy-Agent: p\r\n\r\n"
        b"HTTP/2 404 \r\ncontent-length: 0\r\n\r\n"
    )
    version, status, h = H._from_raw_head(block)
    assert (version, status) == ("HTTP/2", 404)
    assert h.multi_items() == [("content-length", "0")]


def test_raw_head_without_status_line() -> None:
    version, status, h = H._from_raw_head(b"")
    assert (version, status, len(h)) == ("", 0, 0)
    version, status, h = H._from_raw_head(b"A: 1\r\n")
    assert (version, status, h.multi_items()) == ("", 0, [("a", "1")])


@pytest.mark.parametrize("line", [b"HTTP/1.1\r\n", b"HTTP/1.1 20 OK\r\n", b"HTTP/1.1 abc OK\r\n"])
def test_raw_head_malformed_status_line(line: bytes) -> None:
    with pytest.raises(ValueError, match="Malformed status line"):
        H._from_raw_head(line)


def test_raw_head_is_linear_for_a_large_head() -> None:
    lines = b"".join(b"X-H-%d: %d\r\n" % (i, i) for i in range(1000))
    _, _, h = H._from_raw_head(b"HTTP/1.1 200 OK\r\n" + lines + b"\r\n")
    assert len(h) == 1000
    assert h["x-h-999"] == "999"


# -- _from_response_head: the lazily split map of a response ----------------------------------

# Fragments of heads: line endings, folds, repeated and encoded names, several status lines,
# bytes that are not UTF-8; everything the eager and the lazy paths must agree on.
_HEAD_PIECES = [
    b"HTTP/1.1 200 OK",
    b"HTTP/2 204",
    b"HTTP/1.0 30x",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b":",
    b"A",
    b"b-C",
    b"Set-Cookie",
    b"SET-COOKIE",
    b"x=1",
    b"Content-Encoding: gzip",
    b"content-length: 5",
    "caf\u00e9".encode(),
    b"\xe9",
    b"HTTP/",
    "\u212a".encode(),
]


def _eager(block: bytes, decoded: bool) -> object:
    try:
        _, status, h = H._from_raw_head(block)
    except ValueError as e:
        return ("ValueError", str(e))
    if decoded and "content-encoding" in h:
        h = h._without("content-encoding", "content-length")
    return (status, h.multi_items(), h._wire_items(), dict(h))


def _lazy(block: bytes, decoded: bool) -> object:
    try:
        status, h = H._from_response_head(block, decoded=decoded)
    except ValueError as e:
        return ("ValueError", str(e))
    return (status, h.multi_items(), h._wire_items(), dict(h))


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_HEAD_PIECES), max_size=25), st.booleans())
def test_response_head_split_on_first_use_matches_the_eager_parse(
    pieces: list[bytes], decoded: bool
) -> None:
    block = b"".join(pieces)
    assert _lazy(block, decoded) == _eager(block, decoded)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_HEAD_PIECES), max_size=25))
def test_may_contain_never_misses_a_name(pieces: list[bytes]) -> None:
    block = b"".join(pieces)
    try:
        _, h = H._from_response_head(block, decoded=False)
    except ValueError:
        return
    for name in ("set-cookie", "a", "b-c", "content-encoding"):
        unparsed = H._from_response_head(block, decoded=False)[1]
        if name in h:
            assert unparsed._may_contain(name)
            assert h._may_contain(name)  # parsed by "in": the index answers


def test_response_head_is_split_on_first_use_only() -> None:
    block = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\nA: 1\r\n\r\n"
    status, h = H._from_response_head(block, decoded=True)
    assert status == 200
    with pytest.raises(AttributeError):
        object.__getattribute__(h, "_index")  # not split yet
    assert not h._may_contain("set-cookie")
    assert h._may_contain("a")
    assert h.multi_items() == [("a", "1")]  # split now, encoding lines dropped
    assert h["A"] == "1" and len(h) == 1
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        h.nope  # type: ignore[attr-defined]  # noqa: B018  # other names fail


def test_response_head_with_a_malformed_status_line_fails_at_once() -> None:
    with pytest.raises(ValueError, match="Malformed status line"):
        H._from_response_head(b"HTTP/1.1 20 OK\r\nA: 1\r\n\r\n", decoded=False)


def test_response_head_several_heads_the_last_wins() -> None:
    block = b"HTTP/1.1 100 Continue\r\nX: a\r\n\r\nHTTP/1.1 201 Created\r\nY: b\r\n\r\n"
    status, h = H._from_response_head(block, decoded=False)
    assert (status, h.multi_items()) == (201, [("y", "b")])


def test_unsplit_response_map_pickles_and_copies() -> None:
    block = b"HTTP/1.1 200 OK\r\nA: 1\r\nA: 2\r\n\r\n"
    _, h = H._from_response_head(block, decoded=False)
    assert pickle.loads(pickle.dumps(h)).get_list("a") == ["1", "2"]
    _, h = H._from_response_head(block, decoded=False)
    assert copy.copy(h) == {"a": "1, 2"}


# -- the request's map (amendment 4.8) --------------------------------------------------------


def _request_headers() -> _RequestHeaderMap:
    request = Request("GET", "http://h/", [("Accept", "a"), ("X-Tag", "1"), ("x-tag", "2")])
    assert isinstance(request.headers, _RequestHeaderMap)
    return request.headers


def test_request_map_set_replaces_every_line_at_the_first_position() -> None:
    h = _request_headers()
    h["X-TAG"] = " 3 "
    assert h.multi_items() == [("accept", "a"), ("x-tag", "3")]
    assert h._wire_items() == [("Accept", "a"), ("X-TAG", "3")]


def test_request_map_set_appends_a_new_name() -> None:
    h = _request_headers()
    h["X-Signature"] = "abc"
    assert h.multi_items()[-1] == ("x-signature", "abc")
    assert h._wire_items()[-1] == ("X-Signature", "abc")
    assert len(h) == 3


def test_request_map_edits_are_validated() -> None:
    h = _request_headers()
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        h["X-Sig"] = "a\r\nEvil: 1"
    with pytest.raises(ValueError, match="RFC 9110 token"):
        h["X Sig"] = "a"
    with pytest.raises(TypeError):
        h["X-Sig"] = 1  # type: ignore[assignment]
    with pytest.raises(TypeError):
        h.update({"X-Sig": None})  # type: ignore[dict-item]
    assert "x-sig" not in h


def test_request_map_delete_and_mutable_mapping_methods() -> None:
    h = _request_headers()
    del h["x-tag"]
    assert h.multi_items() == [("accept", "a")]
    with pytest.raises(KeyError):
        del h["x-tag"]
    assert h.pop("ACCEPT") == "a"
    assert len(h) == 0
    h.update({"A": "1"}, B="2")
    assert h.setdefault("a", "other") == "1"
    assert h.multi_items() == [("a", "1"), ("b", "2")]
    h.clear()
    assert h == {}


def test_request_map_is_a_header_map_with_the_same_repr() -> None:
    h = _request_headers()
    h["Authorization"] = "Bearer s3cret"
    assert isinstance(h, CaseInsensitiveHeaderMap)
    assert repr(h).startswith("CaseInsensitiveHeaderMap({")
    assert "s3cret" not in repr(h)
    assert h == {"accept": "a", "x-tag": "1, 2", "authorization": "Bearer s3cret"}
    with pytest.raises(TypeError):
        hash(h)
    restored = pickle.loads(pickle.dumps(h))
    assert type(restored) is _RequestHeaderMap
    assert restored._wire_items() == h._wire_items()


def test_request_copies_a_given_map() -> None:
    source = H({"A": "1"})
    request = Request("GET", "http://h/", source)
    request.headers["B"] = "2"
    assert source == {"a": "1"}
    assert request.headers == {"a": "1", "b": "2"}
