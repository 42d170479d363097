"""URL validation and normalisation (api.md 4.6, R9, R13) and Timeout (api.md 5), no I/O."""

from __future__ import annotations

import time

import pytest

import httpr
from httpr._urls import parse_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.invalid/a?b=1#frag", "http://example.invalid/a?b=1"),
        ("HtTpS://Example.INVALID:443/", "https://example.invalid/"),
        ("http://h.invalid:80", "http://h.invalid/"),
        ("http://h.invalid:8080/p", "http://h.invalid:8080/p"),
        ("http://h.invalid/a b/é?q=ü x", "http://h.invalid/a%20b/%C3%A9?q=%C3%BC%20x"),
        ("http://h.invalid/%41%zz", "http://h.invalid/%41%zz"),
        ("http://faß.de/", "http://xn--fa-hia.de/"),
        ("http://[::1]:8000/x", "http://[::1]:8000/x"),
        ("http://127.0.0.1?x", "http://127.0.0.1/?x"),
        ("http://h.invalid./x", "http://h.invalid./x"),  # an absolute name: one trailing dot
    ],
)
def test_normalisation(url: str, expected: str) -> None:
    assert str(parse_url(url)) == expected


def test_userinfo_is_split_off() -> None:
    u = parse_url("http://us%40er:p%3Ass@h.invalid/x")
    assert (u.username, u.password, str(u)) == ("us@er", "p:ss", "http://h.invalid/x")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://",
        "://x",
        "//host/x",
        "localhost:8080/x",
        "relative/path",
        "http://exa mple.invalid/",
        "http://[::1/",
        "http://h.invalid:99999/",
        "http://h.invalid:0/",
        "http://h.invalid:1:2/",
        "http://%00.invalid/",
        "http://h.invalid/a\r\nb",
        "http://h.invalid/\x7f",
        "http://h%2Fx.invalid/",
        "http://a\\b.invalid/",
        "http://" + "a" * 70000,
        # empty labels (FZ-01 found "http://..../", whose host the cookie jar read otherwise)
        "http://..../",
        "http://./",
        "http://.h.invalid/",
        "http://h..invalid/",
        "http://h.invalid../",
    ],
)
def test_invalid_urls(url: str) -> None:
    with pytest.raises(httpr.InvalidURL):
        parse_url(url)


@pytest.mark.parametrize(
    "url",
    ["ftp://h.invalid/", "file:///etc/passwd", "gopher://h", "dict://h", "ws://h", "ldap://h"],
)
def test_other_schemes(url: str) -> None:
    with pytest.raises(httpr.UnsupportedProtocol):
        parse_url(url)


def test_non_str_url() -> None:
    with pytest.raises(TypeError):
        parse_url(b"http://h.invalid/")


@pytest.mark.parametrize("url", ["http://" + "@" * 100000, ":" * 100000, "http://h/" + "%" * 60000])
def test_pathological_urls_are_quick(url: str) -> None:
    # IN-02: rejected or parsed, quickly (linear time, no backtracking).
    start = time.perf_counter()
    try:
        parsed = parse_url(url)
    except (httpr.InvalidURL, httpr.UnsupportedProtocol):
        pass
    else:
        assert str(parsed).startswith("http://h/%")
    assert time.perf_counter() - start < 0.05


def test_timeout_fields_and_value_semantics() -> None:
    t = httpr.Timeout(5.0, read=0.5)
    assert (t.connect, t.read, t.write, t.pool, t.total) == (5.0, 0.5, 5.0, 5.0, None)
    assert repr(t) == "Timeout(connect=5.0, read=0.5, write=5.0, pool=5.0, total=None)"
    assert t == httpr.Timeout(5.0, read=0.5) and hash(t) == hash(httpr.Timeout(5.0, read=0.5))
    assert httpr.Timeout(None).connect is None
    assert httpr.Timeout().read == 30.0
    with pytest.raises(AttributeError):
        t.read = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timeout": -1}, ValueError),
        ({"timeout": float("nan")}, ValueError),
        ({"timeout": True}, TypeError),
        ({"timeout": "1"}, TypeError),
        ({"read": -0.1}, ValueError),
        ({"total": "x"}, TypeError),
    ],
)
def test_timeout_validation(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        httpr.Timeout(**kwargs)  # type: ignore[arg-type]
