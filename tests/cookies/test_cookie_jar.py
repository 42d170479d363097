"""The cookie jar (api.md section 10, R4, SEC-03, SEC-11): RFC 6265 storage and matching.

No I/O: URLs go straight to the jar, as the client passes them after validation. The
public-suffix cases use rules of the vendored snapshot (httpr/_psl.dat).
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import httpr._cookies
from httpr import CookieConflict
from httpr._cookies import (
    MAX_COOKIE_AGE_S,
    MAX_COOKIE_BYTES,
    MAX_COOKIES_PER_DOMAIN,
    MAX_COOKIES_TOTAL,
    CookieJar,
    _parse_cookie_date,
    _registrable_domain,
    is_public_suffix,
)
from scripts import update_psl

# SEC-11: the time a hostile response of 10,000 big Set-Cookie lines may take to store.
SEC11_BUDGET_S = 2.0
SEC11_LINES = 10_000


def pairs(jar: CookieJar, url: str, now: float | None = None) -> list[tuple[str, str]]:
    return jar.cookie_header_pairs(url, now=now)


def names(jar: CookieJar, url: str, now: float | None = None) -> list[str]:
    return [name for name, _ in jar.cookie_header_pairs(url, now=now)]


def stored(jar: CookieJar) -> list[tuple[str, str, str]]:
    """(name, domain, path) of every stored cookie, oldest first."""
    return [(c.name, c.domain, c.path) for c in jar]


def big_line(name: str, size: int = MAX_COOKIE_BYTES) -> str:
    """A Set-Cookie line of exactly `size` octets."""
    head = f"{name}="
    return head + "v" * (size - len(head))


# -- domains ------------------------------------------------------------------------------


def test_host_only_cookie_goes_to_its_host_only() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", ["a=1"])
    assert pairs(jar, "http://example.com/") == [("a", "1")]
    assert pairs(jar, "http://www.example.com/") == []
    assert pairs(jar, "http://example.org/") == []
    assert stored(jar) == [("a", "example.com", "/")]


def test_domain_cookie_goes_to_the_domain_and_below() -> None:
    jar = CookieJar()
    jar.extract("http://www.example.com/", ["a=1; Domain=example.com"])
    assert names(jar, "http://example.com/") == ["a"]
    assert names(jar, "http://www.example.com/") == ["a"]
    assert names(jar, "http://x.y.example.com/") == ["a"]
    assert names(jar, "http://badexample.com/") == []
    assert names(jar, "http://example.com.evil/") == []


def test_domain_equal_to_the_host_makes_a_domain_cookie() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", ["a=1; Domain=example.com"])
    assert names(jar, "http://sub.example.com/") == ["a"]


@pytest.mark.parametrize(
    "attribute",
    ["Domain=.example.com", "Domain=EXAMPLE.com", "domain=example.com.", "DOMAIN=.Example.COM."],
)
def test_domain_attribute_leading_dot_case_and_trailing_dot(attribute: str) -> None:
    jar = CookieJar()
    jar.extract("http://www.example.com/", [f"a=1; {attribute}"])
    assert names(jar, "http://other.example.com/") == ["a"]
    assert stored(jar) == [("a", ".example.com", "/")]


@pytest.mark.parametrize(
    ("url", "attribute"),
    [
        ("http://example.com/", "Domain=other.com"),
        ("http://example.com/", "Domain=www.example.com"),  # below the host
        ("http://badexample.com/", "Domain=example.com"),
        ("http://www.example.com/", "Domain=ample.com"),
        ("http://www.example.com/", "Domain=..example.com"),
        ("http://www.example.com/", "Domain=exa mple.com"),
    ],
)
def test_domain_not_covering_the_host_is_rejected(url: str, attribute: str) -> None:
    jar = CookieJar()
    jar.extract(url, [f"a=1; {attribute}"])
    assert len(jar) == 0


def test_empty_domain_attribute_is_ignored_and_the_cookie_is_host_only() -> None:
    jar = CookieJar()
    jar.extract("http://www.example.com/", ["a=1; Domain=", "b=2; Domain=."])
    assert stored(jar) == [("a", "www.example.com", "/"), ("b", "www.example.com", "/")]
    assert names(jar, "http://x.www.example.com/") == []


def test_last_domain_attribute_counts() -> None:
    jar = CookieJar()
    jar.extract("http://www.example.com/", ["a=1; Domain=other.com; Domain=example.com"])
    assert names(jar, "http://example.com/") == ["a"]


def test_unicode_domain_attribute_is_idna_encoded() -> None:
    jar = CookieJar()
    jar.extract("http://www.xn--bcher-kva.example/", ["a=1; Domain=BÜCHER.example"])
    assert stored(jar) == [("a", ".xn--bcher-kva.example", "/")]


# -- public suffixes (SEC-03) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "attribute"),
    [
        ("http://example.com/", "Domain=com"),
        ("http://example.com/", "Domain=.com"),
        ("http://example.com./", "Domain=com."),  # CVE-2022-27779: the trailing dot
        ("http://example.COM/", "Domain=.COM."),
        ("http://example.co.uk/", "Domain=co.uk"),
        ("http://www.example.co.uk/", "Domain=.co.uk"),
        ("http://a.foo.ck/", "Domain=foo.ck"),  # *.ck: foo.ck is a public suffix
        ("http://a.b.kawasaki.jp/", "Domain=b.kawasaki.jp"),  # *.kawasaki.jp
        ("http://app.localhost/", "Domain=localhost"),  # no rule: the implicit "*"
        ("http://me.github.io/", "Domain=github.io"),  # a private-section rule
    ],
)
def test_public_suffix_domain_is_rejected(url: str, attribute: str) -> None:
    jar = CookieJar()
    jar.extract(url, [f"a=1; {attribute}"])
    assert len(jar) == 0


def test_exception_rule_makes_a_registrable_domain() -> None:
    jar = CookieJar()
    # !www.ck beats *.ck, !city.kawasaki.jp beats *.kawasaki.jp.
    jar.extract("http://a.www.ck/", ["a=1; Domain=www.ck"])
    jar.extract("http://a.city.kawasaki.jp/", ["b=2; Domain=city.kawasaki.jp"])
    assert names(jar, "http://b.www.ck/") == ["a"]
    assert names(jar, "http://x.city.kawasaki.jp/") == ["b"]


@pytest.mark.parametrize(
    "url", ["http://co.uk/", "http://co.uk./", "http://github.io/", "http://localhost/"]
)
def test_public_suffix_equal_to_the_host_gives_a_host_only_cookie(url: str) -> None:
    host = url.split("/")[2].rstrip(".")
    jar = CookieJar()
    jar.extract(url, [f"a=1; Domain={host}"])
    assert stored(jar) == [("a", host, "/")]
    assert names(jar, f"http://x.{host}/") == []
    assert names(jar, f"http://{host}/") == ["a"]


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("com", True),
        ("COM.", True),
        ("co.uk", True),
        ("example.co.uk", False),
        ("example.com", False),
        ("ck", True),
        ("foo.ck", True),
        ("www.ck", False),
        ("kawasaki.jp", False),  # *.kawasaki.jp does not match it
        ("x.kawasaki.jp", True),
        ("city.kawasaki.jp", False),
        ("github.io", True),
        ("me.github.io", False),
        ("localhost", True),
        ("公司.cn", True),
        ("xn--55qx5d.cn", True),
        ("example.公司.cn", False),
        ("a..b", False),
    ],
)
def test_is_public_suffix(domain: str, expected: bool) -> None:
    assert is_public_suffix(domain) is expected


def test_snapshot_is_dated_licensed_and_ascii() -> None:
    text = (Path(httpr._cookies.__file__).parent / "_psl.dat").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert re.fullmatch(
        r"// httpr snapshot of the Public Suffix List, \d{4}-\d{2}-\d{2}, from Debian "
        r"publicsuffix \S+; refreshed by make update-psl",
        lines[0],
    )
    assert lines[1].startswith(
        "// This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0"
    )
    rules = [line for line in lines if not line.startswith("//")]
    assert len(rules) > 5000 and text.isascii()
    assert {"com", "co.uk", "*.ck", "!www.ck", "github.io"} <= set(rules)


def test_update_script_converts_the_list_format() -> None:
    source = "\n".join(
        [
            "// comment",
            "// ===BEGIN ICANN DOMAINS===",
            "",
            "com",
            "*.ck",
            "!www.ck",
            "公司.cn   trailing words are ignored",
            "com",
            "// ===END ICANN DOMAINS===",
        ]
    )
    assert update_psl.convert(source) == [
        "// ===BEGIN ICANN DOMAINS===",
        "com",
        "*.ck",
        "!www.ck",
        "xn--55qx5d.cn",
        "// ===END ICANN DOMAINS===",
    ]


def test_update_script_regenerates_the_snapshot(tmp_path: Path) -> None:
    if not Path(update_psl.DEFAULT_SOURCE).is_file():
        pytest.skip("Debian's publicsuffix package is not installed")
    out = tmp_path / "psl.dat"
    assert update_psl.main(["--output", str(out)]) == 0
    shipped = Path(httpr._cookies.__file__).parent / "_psl.dat"
    # The shipped snapshot is what the installed package gives (same rules, same header).
    assert out.read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8")


def test_list_is_loaded_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []
    real = httpr._cookies._PublicSuffixList

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, lines: list[str]) -> None:
            builds.append(1)
            time.sleep(0.01)  # widen the window a second build would need
            super().__init__(lines)

    monkeypatch.setattr(httpr._cookies, "_PublicSuffixList", Counting)
    monkeypatch.setattr(httpr._cookies, "_psl", None)
    loaded: list[object] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        loaded.append(httpr._cookies._public_suffix_list())

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loaded) == 8 and all(psl is loaded[0] for psl in loaded)
    assert builds == [1]


def test_registrable_domain_groups() -> None:
    assert _registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert _registrable_domain("x.www.ck") == "www.ck"
    assert _registrable_domain("co.uk") == "co.uk"
    assert _registrable_domain("127.0.0.1") == "127.0.0.1"


# -- trailing dots and IP hosts (SEC-03) ------------------------------------------------


def test_trailing_dot_host_is_normalised() -> None:
    jar = CookieJar()
    jar.extract("http://localhost./", ["a=1", "b=2; Domain=localhost."])
    assert stored(jar) == [("a", "localhost", "/"), ("b", "localhost", "/")]
    assert names(jar, "http://localhost/") == ["a", "b"]
    assert names(jar, "http://localhost./") == ["a", "b"]
    assert names(jar, "http://x.localhost/") == []


def test_trailing_dot_request_host_domain_cookie() -> None:
    jar = CookieJar()
    jar.extract("http://www.example.com./", ["a=1; Domain=example.com"])
    assert names(jar, "http://example.com./") == ["a"]
    assert names(jar, "http://example.com/") == ["a"]


def test_ip_host_gets_host_only_cookies() -> None:
    jar = CookieJar()
    jar.extract("http://127.0.0.1:8000/", ["a=1", "b=2; Domain=127.0.0.1", "c=3; Domain=0.0.1"])
    assert stored(jar) == [("a", "127.0.0.1", "/"), ("b", "127.0.0.1", "/")]
    assert names(jar, "http://127.0.0.1/") == ["a", "b"]
    assert names(jar, "http://1.127.0.0.1/") == []
    assert names(jar, "http://127.0.0.2/") == []


def test_ip_domain_attribute_from_a_name_is_rejected() -> None:
    jar = CookieJar()
    jar.extract("http://x.1.2.3.4/", ["a=1; Domain=1.2.3.4"])
    assert len(jar) == 0


def test_ipv6_host() -> None:
    jar = CookieJar()
    jar.extract("http://[::1]:8080/", ["a=1", "b=2; Domain=[::1]", "c=3; Domain=::2"])
    assert names(jar, "http://[::1]/") == ["a", "b"]
    assert jar.get("a", domain="[::1]") == "1"
    assert names(jar, "http://[::2]/") == []


# -- paths ------------------------------------------------------------------------------


def test_default_path_is_the_request_directory() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/app/login?next=/", ["a=1"])
    jar.extract("http://example.com/top", ["b=2"])
    jar.extract("http://example.com", ["c=3"])
    assert stored(jar) == [
        ("a", "example.com", "/app"),
        ("b", "example.com", "/"),
        ("c", "example.com", "/"),
    ]


@pytest.mark.parametrize(
    ("cookie_path", "request_path", "sent"),
    [
        ("/app", "/app", True),
        ("/app", "/app/", True),
        ("/app", "/app/x/y", True),
        ("/app", "/apple", False),
        ("/app", "/", False),
        ("/app/", "/app/x", True),
        ("/app/", "/app", False),
        ("/", "/anything", True),
        ("/App", "/app", False),  # paths are case-sensitive
    ],
)
def test_path_match(cookie_path: str, request_path: str, sent: bool) -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", [f"a=1; Path={cookie_path}"])
    assert (names(jar, f"http://example.com{request_path}?q=1") == ["a"]) is sent


def test_path_not_starting_with_slash_means_default_path() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/dir/page", ["a=1; Path=relative", "b=2; Path="])
    assert stored(jar) == [("a", "example.com", "/dir"), ("b", "example.com", "/dir")]


def test_same_name_different_paths_are_different_cookies() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", ["a=root; Path=/", "a=docs; Path=/docs"])
    assert pairs(jar, "http://example.com/docs/x") == [("a", "docs"), ("a", "root")]
    assert pairs(jar, "http://example.com/") == [("a", "root")]


# -- order (RFC 6265 section 5.4 step 2) -----------------------------------------------


def test_longer_paths_first_then_earlier_creation() -> None:
    jar = CookieJar()
    t = time.time()
    jar.extract("http://example.com/", ["late=1; Path=/"], now=t + 2)
    jar.extract("http://example.com/", ["early=1; Path=/"], now=t + 1)
    jar.extract("http://example.com/", ["deep=1; Path=/a/b", "mid=1; Path=/a"], now=t + 3)
    # Same creation time (one extract call): the order of the lines decides.
    jar.extract("http://example.com/", ["x=1", "y=1"], now=t + 4)
    assert names(jar, "http://example.com/a/b/c", now=t + 5) == [
        "deep",
        "mid",
        "early",
        "late",
        "x",
        "y",
    ]


def test_replacement_keeps_the_creation_time() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", ["a=1", "b=1"])
    jar.extract("http://example.com/", ["a=2"])
    assert pairs(jar, "http://example.com/") == [("a", "2"), ("b", "1")]
    assert len(jar) == 2


# -- expiry: Max-Age, Expires, deletion --------------------------------------------------


def test_session_cookie_has_no_expiry() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", ["a=1"])
    (cookie,) = jar
    assert cookie.expires is None and cookie.discard is True


def test_max_age_expires_the_cookie() -> None:
    jar = CookieJar()
    t = time.time()
    jar.extract("http://example.com/", ["a=1; Max-Age=60"], now=t)
    assert names(jar, "http://example.com/", now=t + 59) == ["a"]
    assert names(jar, "http://example.com/", now=t + 60) == []
    assert names(jar, "http://example.com/", now=t + 61) == []


def test_expired_cookie_is_purged_from_the_jar() -> None:
    jar = CookieJar()
    t = time.time()
    jar.extract("http://example.com/", ["a=1; Max-Age=60", "b=2"], now=t)
    assert names(jar, "http://example.com/", now=t + 120) == ["b"]
    assert stored(jar) == [("b", "example.com", "/")]


@pytest.mark.parametrize(
    "line",
    [
        "a=1; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=3600",
    ],
)
def test_max_age_wins_over_expires(line: str) -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", [line])
    assert names(jar, "http://example.com/") == ["a"]


@pytest.mark.parametrize(
    "line",
    [
        "a=1; Max-Age=0",
        "a=1; Max-Age=-5",
        "a=1; Max-Age=-0",
        "a=1; Max-Age=000",
        "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "a=1; Expires=Sun, 06 Nov 1994 08:49:37 GMT",
        "a=1; Expires=Wed, 09 Jun 2099 10:18:14 GMT; Max-Age=0",
    ],
)
def test_expired_set_cookie_deletes(line: str) -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", ["a=old", "b=keep"])
    jar.extract("http://example.com/", [line])
    assert pairs(jar, "http://example.com/") == [("b", "keep")]


def test_deletion_needs_the_same_domain_and_path() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", ["a=1; Path=/x"])
    jar.extract("http://example.com/", ["a=; Max-Age=0; Path=/"])
    jar.extract("http://www.example.com/", ["a=; Max-Age=0; Path=/x"])
    assert names(jar, "http://example.com/x") == ["a"]
    jar.extract("http://example.com/", ["a=; Max-Age=0; Path=/x"])
    assert len(jar) == 0


@pytest.mark.parametrize("value", ["abc", "1.5", "+60", "6 0", "", "٣"])
def test_invalid_max_age_is_ignored(value: str) -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", [f"a=1; Max-Age={value}"])
    (cookie,) = jar
    assert cookie.expires is None


def test_max_age_leading_zeros_and_huge_values() -> None:
    jar = CookieJar()
    t = time.time()
    jar.extract(
        "http://example.com/", ["a=1; Max-Age=0000000010", "b=1; Max-Age=" + "9" * 4000], now=t
    )
    expiries = {c.name: c.expires for c in jar}
    assert expiries["a"] == int(t + 10)
    assert expiries["b"] == int(t + MAX_COOKIE_AGE_S)


def test_far_future_expires_is_capped() -> None:
    jar = CookieJar()
    t = time.time()
    jar.extract("http://example.com/", ["a=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT"], now=t)
    (cookie,) = jar
    assert cookie.expires == int(t + MAX_COOKIE_AGE_S)
    assert cookie.discard is False


def test_unparsable_expires_is_ignored() -> None:
    jar = CookieJar()
    jar.extract(
        "http://example.com/", ["a=1; Expires=tomorrow", "b=1; Expires=Feb 30 2099 10:00:00"]
    )
    assert [c.expires for c in jar] == [None, None]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, 09 Jun 2021 10:18:14 GMT", 1623233894.0),  # RFC 1123
        ("Wednesday, 09-Jun-21 10:18:14 GMT", 1623233894.0),  # RFC 850
        ("Wed Jun  9 10:18:14 2021", 1623233894.0),  # asctime
        ("09 Jun 2021 10:18:14", 1623233894.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Sun, 06-Nov-94 08:49:37 GMT", 784111777.0),  # 70..99 -> 19xx
        ("Sun, 06-Nov-69 08:49:37 GMT", 3150953377.0),  # 00..69 -> 20xx
        ("junk 9 JUNE 2021 10:18:14pm", 1623233894.0),
        ("Wed, 09 Jun 2021 24:00:00 GMT", None),
        ("Wed, 09 Jun 2021 10:60:00 GMT", None),
        ("Wed, 32 Jun 2021 10:00:00 GMT", None),
        ("Wed, 31 Jun 2021 10:00:00 GMT", None),  # no such day
        ("Wed, 09 Jun 1600 10:00:00 GMT", None),
        ("Wed, 09 Jun 2021 GMT", None),
        ("", None),
    ],
)
def test_cookie_date_parsing(text: str, expected: float | None) -> None:
    assert _parse_cookie_date(text) == expected


# -- Secure, prefixes, HttpOnly, SameSite -------------------------------------------------


def test_secure_cookie_over_http_is_rejected() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", ["a=1; Secure", "b=2"])
    assert stored(jar) == [("b", "example.com", "/")]


def test_secure_cookie_is_sent_over_https_only() -> None:
    jar = CookieJar()
    jar.extract("https://example.com/", ["s=1; Secure", "p=2"])
    assert names(jar, "https://example.com/") == ["s", "p"]
    assert names(jar, "http://example.com/") == ["p"]


def test_plain_http_cannot_overwrite_or_delete_a_secure_cookie() -> None:
    jar = CookieJar()
    jar.extract("https://www.example.com/", ["s=secret; Secure; Domain=example.com"])
    jar.extract("http://www.example.com/", ["s=evil", "s=; Max-Age=0; Domain=example.com"])
    jar.extract("http://a.example.com/", ["s=evil; Domain=a.example.com"])
    assert pairs(jar, "https://www.example.com/") == [("s", "secret")]
    assert stored(jar) == [("s", ".example.com", "/")]
    # https may replace it.
    jar.extract("https://www.example.com/", ["s=new; Domain=example.com"])
    assert pairs(jar, "http://www.example.com/") == [("s", "new")]


@pytest.mark.parametrize(
    ("url", "line", "kept"),
    [
        ("https://example.com/", "__Secure-a=1; Secure", True),
        ("https://example.com/", "__Secure-a=1", False),
        ("https://example.com/", "__secure-a=1", False),
        ("https://example.com/", "__Host-a=1; Secure; Path=/", True),
        ("https://example.com/x/y", "__Host-a=1; Secure", False),  # no Path=/
        ("https://example.com/", "__Host-a=1; Secure; Path=/; Domain=example.com", False),
        ("https://example.com/", "__Host-a=1; Path=/", False),
        ("http://example.com/", "__Host-a=1; Secure; Path=/", False),
    ],
)
def test_cookie_name_prefixes(url: str, line: str, kept: bool) -> None:
    jar = CookieJar()
    jar.extract(url, [line])
    assert (len(jar) == 1) is kept


def test_httponly_and_samesite_are_stored_and_ignored() -> None:
    jar = CookieJar()
    jar.extract("https://example.com/", ["a=1; HttpOnly; SameSite=strict", "b=2; SameSite=bogus"])
    assert names(jar, "https://example.com/") == ["a", "b"]
    a, b = jar
    assert a.has_nonstandard_attr("HttpOnly")
    assert a.get_nonstandard_attr("SameSite") == "Strict"
    assert not b.has_nonstandard_attr("HttpOnly")
    assert not b.has_nonstandard_attr("SameSite")


# -- names and values --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "noequals",
        "=value",
        " =value",
        "na me=1",
        "(a)=1",
        "a,b=1",
        'a"=1',
        "ä=1",
        "a=b\x00c",
        "a=b\x7fc",
        "a=b\tc",
        "a=1\r\nInjected: yes",
        "a=1; Path=/\nx",
        "a=€",
        "",
        ";",
    ],
)
def test_invalid_name_or_value_is_ignored(line: str) -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", [line, "ok=1"])
    assert stored(jar) == [("ok", "example.com", "/")]


@pytest.mark.parametrize(
    ("line", "pair"),
    [
        ("a=", ("a", "")),
        (" a = b c ", ("a", "b c")),
        ("\ta\t=\tb\t; Path=/", ("a", "b")),
        ('a="quoted"', ("a", '"quoted"')),
        ("a=b=c", ("a", "b=c")),
        ("a=é", ("a", "é")),  # obs-text, as a latin-1 decoded header carries it
        ("a=1;;; unknown=attr; Path", ("a", "1")),
    ],
)
def test_valid_names_and_values(line: str, pair: tuple[str, str]) -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", [line])
    assert pairs(jar, "http://example.com/") == [pair]


# -- caps (R4, SEC-11) ---------------------------------------------------------------


def test_cookie_size_cap_counts_the_whole_line() -> None:
    jar = CookieJar()
    exact = big_line("a")
    assert len(exact) == MAX_COOKIE_BYTES
    jar.extract("http://example.com/", [exact, big_line("b", MAX_COOKIE_BYTES + 1)])
    assert names(jar, "http://example.com/") == ["a"]
    # Attributes count too.
    jar.extract("http://example.com/", [big_line("c", MAX_COOKIE_BYTES - 7) + "; Path=/"])
    assert names(jar, "http://example.com/") == ["a"]


def test_per_domain_cap_evicts_the_oldest() -> None:
    jar = CookieJar()
    t = time.time()
    for i in range(MAX_COOKIES_PER_DOMAIN + 5):
        jar.extract("http://example.com/", [f"c{i}=1"], now=t + i)
    assert len(jar) == MAX_COOKIES_PER_DOMAIN
    assert [c.name for c in jar] == [f"c{i}" for i in range(5, MAX_COOKIES_PER_DOMAIN + 5)]


def test_per_domain_cap_covers_subdomains_of_one_site() -> None:
    jar = CookieJar()
    for i in range(MAX_COOKIES_PER_DOMAIN * 2):
        jar.extract(f"http://h{i}.example.com/", ["a=1"])
    jar.extract("http://other.example/", ["mine=1"])
    assert len(jar) == MAX_COOKIES_PER_DOMAIN + 1
    assert names(jar, "http://other.example/") == ["mine"]
    assert names(jar, "http://h0.example.com/") == []


def test_eviction_prefers_expired_cookies() -> None:
    jar = CookieJar()
    t = time.time()
    jar.extract("http://example.com/", ["old=1"], now=t)
    jar.extract("http://example.com/", ["short=1; Max-Age=5"], now=t + 1)
    jar.extract(
        "http://example.com/", [f"c{i}=1" for i in range(MAX_COOKIES_PER_DOMAIN - 2)], now=t + 2
    )
    jar.extract("http://example.com/", ["new=1"], now=t + 10)
    got = names(jar, "http://example.com/", now=t + 10)
    assert "old" in got and "short" not in got and "new" in got
    assert len(got) == MAX_COOKIES_PER_DOMAIN


def test_sec11_one_response_with_10000_big_cookies() -> None:
    jar = CookieJar()
    lines = [big_line(f"c{i:05d}") for i in range(SEC11_LINES)]
    start = time.perf_counter()
    jar.extract("http://example.com/", lines)
    elapsed = time.perf_counter() - start
    assert elapsed < SEC11_BUDGET_S, f"{elapsed:.2f} s"
    assert len(jar) == MAX_COOKIES_PER_DOMAIN
    got = names(jar, "http://example.com/")
    assert got == [f"c{i:05d}" for i in range(SEC11_LINES - MAX_COOKIES_PER_DOMAIN, SEC11_LINES)]


def test_sec11_total_cap_across_many_sites() -> None:
    jar = CookieJar()
    start = time.perf_counter()
    for i in range(SEC11_LINES):
        jar.extract(f"http://site{i}.example/", [big_line("c")])
    elapsed = time.perf_counter() - start
    assert elapsed < SEC11_BUDGET_S, f"{elapsed:.2f} s"
    assert len(jar) == MAX_COOKIES_TOTAL
    kept = {c.domain for c in jar}
    assert kept == {f"site{i}.example" for i in range(SEC11_LINES - MAX_COOKIES_TOTAL, SEC11_LINES)}
    jar.extract("http://fresh.example/", ["f=1"])
    assert names(jar, "http://fresh.example/") == ["f"]
    assert len(jar) == MAX_COOKIES_TOTAL


def test_cap_constants() -> None:
    assert (MAX_COOKIE_BYTES, MAX_COOKIES_PER_DOMAIN, MAX_COOKIES_TOTAL) == (4096, 50, 3000)


# -- get, clear, iteration ---------------------------------------------------------------


def test_get() -> None:
    jar = CookieJar()
    jar.extract("http://a.example/", ["id=1"])
    jar.extract("http://b.example/x/y", ["id=2", "only=3"])
    assert jar.get("only") == "3"
    assert jar.get("missing") is None
    assert jar.get("id", domain="a.example") == "1"
    assert jar.get("id", domain=".B.EXAMPLE.") == "2"
    assert jar.get("id", path="/x") == "2"
    assert jar.get("id", domain="c.example") is None
    assert jar.get("id", domain="bad..domain") is None


def test_get_conflict_raises() -> None:
    jar = CookieJar()
    jar.extract("http://a.example/", ["id=1"])
    jar.extract("http://b.example/", ["id=2"])
    with pytest.raises(CookieConflict, match="name='id'"):
        jar.get("id")
    jar.extract("http://www.a.example/", ["id=3; Domain=a.example"])  # a.example again
    jar.extract("http://a.example/", ["id=4; Path=/p"])
    with pytest.raises(CookieConflict):
        jar.get("id", domain="a.example")
    assert jar.get("id", domain="a.example", path="/p") == "4"


def test_clear_domain_and_all() -> None:
    jar = CookieJar()
    jar.extract("http://a.example/", ["x=1"])
    jar.extract("http://www.a.example/", ["y=1", "z=1; Domain=a.example"])
    jar.extract("http://b.example/", ["w=1"])
    jar.clear("A.example")
    assert stored(jar) == [("y", "www.a.example", "/"), ("w", "b.example", "/")]
    jar.clear("nothing.example")
    assert len(jar) == 2
    jar.clear()
    assert len(jar) == 0 and list(jar) == []
    assert names(jar, "http://b.example/") == []
    jar.extract("http://b.example/", ["w=1; Max-Age=100"])
    assert names(jar, "http://b.example/") == ["w"]


def test_iteration_yields_stdlib_cookies() -> None:
    jar = CookieJar()
    t = time.time()
    jar.extract(
        "https://www.example.com/app/page",
        ["host=1", "dom=2; Domain=.example.com; Path=/; Secure; Max-Age=100; HttpOnly"],
        now=t,
    )
    host, dom = jar
    assert isinstance(host, http.cookiejar.Cookie)
    assert (host.name, host.value, host.domain, host.path) == (
        "host",
        "1",
        "www.example.com",
        "/app",
    )
    assert (host.domain_specified, host.domain_initial_dot, host.path_specified) == (False,) * 3
    assert (host.secure, host.expires, host.discard, host.version) == (False, None, True, 0)
    assert (dom.name, dom.value, dom.domain, dom.path) == ("dom", "2", ".example.com", "/")
    assert (dom.domain_specified, dom.domain_initial_dot, dom.path_specified) == (True,) * 3
    assert (dom.secure, dom.expires, dom.discard) == (True, int(t + 100), False)
    assert dom.has_nonstandard_attr("HttpOnly")
    assert dom.port is None


def test_iteration_is_a_snapshot() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", ["a=1", "b=2"])
    seen = []
    for cookie in jar:
        seen.append(cookie.name)
        jar.extract("http://example.com/", [f"{cookie.name}x=1"])
    assert seen == ["a", "b"]
    assert len(jar) == 4


def test_repr() -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", ["a=1"])
    assert repr(jar) == "<CookieJar[1 cookies]>"


# -- threads -----------------------------------------------------------------------------


def test_threads_extract_and_read_concurrently() -> None:
    jar = CookieJar()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(300):
                host = f"h{(n * 7 + i) % 40}.example"
                jar.extract(f"http://{host}/", [f"c{n}_{i % 60}={i}", f"t{i % 3}=1; Max-Age=0"])
                jar.cookie_header_pairs(f"http://{host}/x")
                if i % 50 == 0:
                    list(jar)
                    len(jar)
                    try:
                        jar.get(f"c{n}_0")
                    except CookieConflict:
                        pass
                if i % 100 == 99:
                    jar.clear(host)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    cookies = list(jar)
    assert 0 < len(cookies) <= MAX_COOKIES_TOTAL
    per_domain: dict[str, int] = {}
    for cookie in cookies:
        per_domain[cookie.domain] = per_domain.get(cookie.domain, 0) + 1
    assert max(per_domain.values()) <= MAX_COOKIES_PER_DOMAIN
    # The internal indexes agree with the store: every stored cookie can be found.
    for cookie in cookies:
        assert (cookie.name, cookie.value) in pairs(jar, f"http://{cookie.domain}/")


# -- property: whatever a server sends, extract never raises and the caps hold -------------

_hosts = st.sampled_from(
    [
        "http://example.com/",
        "https://www.example.com/a/b",
        "http://127.0.0.1:8000/",
        "http://localhost./",
        "https://co.uk/",
        "http://a.foo.ck/x",
        "http://[::1]/",
    ]
)
_fragments = st.sampled_from(
    [
        "a=1",
        "b=",
        "; ",
        ";",
        "=",
        "Domain=",
        "Domain=.example.com",
        "Domain=com",
        "Domain=co.uk.",
        "Domain=ck",
        "Domain=[::1]",
        "Path=/",
        "Path=/a",
        "Max-Age=",
        "Max-Age=-1",
        "Max-Age=99999999999999999999",
        "Expires=Wed, 09 Jun 2021 10:18:14 GMT",
        "Expires=Fri, 31 Dec 9999 23:59:59 GMT",
        "Secure",
        "HttpOnly",
        "SameSite=None",
        "__Host-x=1",
        "\t",
        "\x00",
        "é",
        "\ud800",
    ]
)
_set_cookie = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_fragments, st.text(max_size=20)), max_size=8).map("".join),
    st.lists(_fragments, max_size=8).map("; ".join),
)


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(st.tuples(_hosts, st.lists(_set_cookie, max_size=20)), max_size=10),
    now_offset=st.floats(min_value=-1e9, max_value=1e9),
)
def test_extract_never_raises_and_caps_hold(
    batches: list[tuple[str, list[str]]], now_offset: float
) -> None:
    jar = CookieJar()
    now = time.time() + now_offset
    for url, lines in batches:
        jar.extract(url, lines, now=now)
        jar.cookie_header_pairs(url, now=now)
    cookies = list(jar)
    assert len(cookies) <= MAX_COOKIES_TOTAL
    groups: dict[str, int] = {}
    for cookie in cookies:
        group = _registrable_domain(cookie.domain.lstrip("."))
        groups[group] = groups.get(group, 0) + 1
        assert len(f"{cookie.name}={cookie.value}") <= MAX_COOKIE_BYTES
        value = cookie.value or ""
        assert not any(ch in value for ch in ";\t\r\n\x00\x7f")
    assert all(count <= MAX_COOKIES_PER_DOMAIN for count in groups.values())


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.text(max_size=60), max_size=120))
def test_caps_hold_for_many_arbitrary_cookies(lines: list[str]) -> None:
    jar = CookieJar()
    jar.extract("http://example.com/", [f"n{i}={line}" for i, line in enumerate(lines)])
    assert len(jar) <= MAX_COOKIES_PER_DOMAIN
