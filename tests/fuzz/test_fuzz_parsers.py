"""Fuzzing the parsers of what servers send (security.md section 3 "Fuzzing", R1, R4, R7).

- The cookie jar (api.md 10, R4): ``CookieJar().extract(url, set_cookie_lines)`` never raises
  for what a server sent; the caps hold (4 KiB per cookie, 50 per registrable domain, 3,000
  in all); ``cookie_header_pairs`` never yields a name or value that would break the
  ``Cookie`` header (CR, LF, NUL, ``;``), and never a Secure cookie over http.
- The response head parser: ``CaseInsensitiveHeaderMap._from_raw_head(block)`` returns a
  ``(version, status, headers)`` or raises ``ValueError``, and the map it returns works.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from httpr import CaseInsensitiveHeaderMap, CookieJar
from httpr._cookies import (
    MAX_COOKIE_BYTES,
    MAX_COOKIES_PER_DOMAIN,
    MAX_COOKIES_TOTAL,
    _registrable_domain,
)
from httpr._urls import parse_url
from tests.fuzz._harness import FUZZ_TIMEOUT_SECONDS, Budget, batch_settings, run_batches

pytestmark = pytest.mark.fuzz

MIN_EXAMPLES = 1_000
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

ANY_CHAR = st.characters(exclude_categories=())
PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=16)
LATIN1 = st.text(st.characters(max_codepoint=0xFF, exclude_categories=()), max_size=16)
INJECTION = st.sampled_from(["\r\n", "\r", "\n", "\x00", "\t", ";", "=", ",", '"', " ", "\x7f"])
TEXT = st.one_of(
    PRINTABLE,
    LATIN1,
    st.lists(st.one_of(PRINTABLE, INJECTION), max_size=5).map("".join),
    st.text(ANY_CHAR, max_size=16),
)

# -- the cookie jar -----------------------------------------------------------------------------

# Alphabets rather than from_regex: drawing from a regex is the slowest part of a run.
TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
SITE_HOSTS = st.builds(
    lambda sub, name, tld: f"{sub}{name}.{tld}",
    st.sampled_from(["", "www.", "a.b.", "x."]),
    LABEL,
    st.sampled_from(["com", "org", "co.uk", "example", "test", "github.io", "de"]),
)
HOSTS = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "www.example.com",
            "a.b.example.co.uk",
            "127.0.0.1",
            "[::1]",
            "localhost",
            "com",
            "co.uk",
            "github.io",
            "xn--fa-hia.de",
            "sub.example.com.",
        ]
    ),
    SITE_HOSTS,
)
PATHS = st.one_of(
    st.sampled_from(["/", "/a", "/a/b", "/a/b/", "/docs/x?q=1", ""]),
    st.lists(st.text("abz%09.", max_size=5), max_size=4).map(
        lambda parts: "".join("/" + p for p in parts)
    ),
)
DOMAIN_VALUES = st.one_of(
    st.sampled_from(
        [
            "example.com",
            ".example.com",
            "EXAMPLE.COM.",
            "com",
            ".com",
            "co.uk",
            "example.co.uk",
            "127.0.0.1",
            "[::1]",
            "::1",
            "localhost",
            "github.io",
            "xn--fa-hia.de",
            "fa\u00df.de",
            "..",
            ".",
            "",
        ]
    ),
    SITE_HOSTS,
    TEXT,
)
DATES = st.one_of(
    st.sampled_from(
        [
            "Wed, 09 Jun 2021 10:18:14 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "99:99:99 32 foo 1600",
            "1 jan 70 0:0:0",
            "0" * 5000,
        ]
    ),
    TEXT,
)
ATTRIBUTES = st.one_of(
    st.builds(lambda v: f"Domain={v}", DOMAIN_VALUES),
    st.builds(lambda v: f"Path={v}", st.one_of(PATHS, TEXT)),
    st.builds(lambda v: f"Expires={v}", DATES),
    st.builds(
        lambda v: f"Max-Age={v}",
        st.one_of(st.integers(-(10**20), 10**40).map(str), st.just("9" * 5000), TEXT),
    ),
    st.sampled_from(["Secure", "HttpOnly", "SameSite=Lax", "SameSite=None", "SameSite=x", ""]),
    st.builds(lambda n, v: f"{n}={v}", TEXT, TEXT),
)
NAMES = st.one_of(
    st.text(TOKEN_CHARS, min_size=1, max_size=8),
    st.sampled_from(["__Secure-id", "__Host-id", "__host-x", "sid", "a"]),
    TEXT,
)
VALUES = st.one_of(PRINTABLE, st.just('"quoted value"'), TEXT)
LINES = st.one_of(
    st.builds(
        lambda n, sep, v, attrs: n + sep + v + "".join("; " + a for a in attrs),
        NAMES,
        st.sampled_from(["=", "=", " = ", ""]),
        VALUES,
        st.lists(ATTRIBUTES, max_size=5),
    ),
    TEXT,
    st.builds(lambda n: "big=" + "x" * n, st.integers(4000, 4200)),  # around the 4 KiB cap
)
# Many cookies for one site: the 50-per-domain cap.
MANY = st.builds(
    lambda n, attrs: [f"c{i}=v{i}{attrs}" for i in range(n)],
    st.integers(40, 120),
    st.sampled_from(["", "; Path=/", "; Domain=example.com", "; Max-Age=1000"]),
)
SET_COOKIE_LISTS = st.one_of(st.lists(LINES, max_size=12), MANY)


def _url(scheme: str, host: str, path: str) -> str | None:
    """The URL as the client would have validated it (the jar gets only those)."""
    try:
        return str(parse_url(f"{scheme}://{host}{path}"))
    except ValueError:  # InvalidURL, or a generated path parse_url chokes on (FZ-01's job)
        return None


def check_jar(jar: CookieJar, urls: list[str], *, caps: bool) -> None:
    """The invariants; `caps`: also walk every stored cookie (slow on a full jar)."""
    assert len(jar) <= MAX_COOKIES_TOTAL
    cookies = list(jar) if caps else []
    if caps:
        groups = Counter(_registrable_domain(c.domain.lstrip(".")) for c in cookies)
        assert not groups or max(groups.values()) <= MAX_COOKIES_PER_DOMAIN, groups.most_common(1)
        for c in cookies:
            assert c.value is not None
            assert len((c.name + "=" + c.value).encode("utf-8")) <= MAX_COOKIE_BYTES
    for url in urls:
        pairs = jar.cookie_header_pairs(url)
        names = [name for name, _ in pairs]
        for name, value in pairs:
            assert _TOKEN.fullmatch(name), name
            assert not any(ch in value for ch in "\r\n\x00;"), (name, value)
        header = "; ".join(f"{n}={v}" for n, v in pairs)
        assert not any(ch in header for ch in "\r\n\x00"), header
        if caps and url.startswith("http://"):
            secure = {c.name for c in cookies if c.secure}
            # A name may also belong to a non-Secure cookie of another domain or path.
            plain = {c.name for c in cookies if not c.secure}
            assert not (set(names) & (secure - plain)), (url, names)


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
def test_fuzz_cookie_jar() -> None:
    budget = Budget("cookie jar")
    # One jar lives across the whole run, so the total cap is reached; each example also
    # gets a fresh jar.
    shared = CookieJar()
    peak = 0

    @batch_settings(500)
    @given(
        st.sampled_from(["http", "https"]),
        HOSTS,
        PATHS,
        SET_COOKIE_LISTS,
        st.lists(st.tuples(st.sampled_from(["http", "https"]), HOSTS, PATHS), max_size=3),
    )
    def batch(
        scheme: str,
        host: str,
        path: str,
        lines: list[str],
        others: list[tuple[str, str, str]],
    ) -> None:
        nonlocal peak
        if budget.spent:
            return
        url = _url(scheme, host, path)
        if url is None:
            budget.count("skipped (URL)")
            return
        urls = [url] + [u for u in (_url(*o) for o in others) if u is not None]
        fresh = CookieJar()
        fresh.extract(url, lines)  # never raises for what a server sent
        check_jar(fresh, urls, caps=True)
        shared.extract(url, lines)
        check_jar(shared, urls, caps=budget.examples % 50 == 0)
        peak = max(peak, len(shared))
        budget.count("extracted" if len(lines) else "extracted (none)")

    run_batches(budget, batch, MIN_EXAMPLES)
    print(f"[cookie jar] shared jar peak {peak} cookies (cap {MAX_COOKIES_TOTAL})")


# -- the response head parser -------------------------------------------------------------------

STATUS_LINES = st.one_of(
    st.sampled_from(
        [
            b"HTTP/1.1 200 OK",
            b"HTTP/1.0 404 Not Found",
            b"HTTP/2 200",
            b"HTTP/2.0 204",
            b"HTTP/1.1 100 Continue",
            b"HTTP/1.1 200",
            b"HTTP/1.1 200OK",
            b"HTTP/1.1  200  OK",
            b"HTTP/1.1 2000 OK",
            b"HTTP/1.1 20 OK",
            b"HTTP/1.1 -20 OK",
            b"HTTP/1.1 \xd9\xa2\xd9\xa0\xd9\xa0 OK",  # Arabic-Indic digits
            b"HTTP/ 200",
            b"HTTP/",
            b"HTTP/9.9 999 \xff\xfe",
            b"ICY 200 OK",
        ]
    ),
    st.builds(
        lambda v, code, reason: b"HTTP/" + v + b" " + code + reason,
        st.sampled_from([b"1.1", b"1.0", b"2", b"3", b"x", b""]),
        st.binary(max_size=4),
        st.binary(max_size=8),
    ),
)
HEADER_LINES = st.one_of(
    st.sampled_from(
        [
            b"Content-Length: 5",
            b"Content-Type: text/plain; charset=utf-8",
            b"Set-Cookie: a=1; Path=/",
            b"Transfer-Encoding: chunked",
            b"X-Folded: one",
            b" continued",
            b"\tcontinued",
            b": no name",
            b"no colon",
            b"X-Empty:",
            b"X-Space :  padded  ",
            b"X-Latin1: caf\xe9",
            b"X-Utf8: caf\xc3\xa9",
            b"X-Bad-Utf8: \xc3\x28",
            b"X-CR: a\rb",
            b"HTTP/1.1 200 OK",
        ]
    ),
    st.builds(lambda n, v: n + b":" + v, st.binary(max_size=10), st.binary(max_size=20)),
    st.binary(max_size=30),
)
EOLS = st.sampled_from([b"\r\n", b"\r\n", b"\n", b"\r", b""])


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    block = b""
    for _ in range(draw(st.integers(1, 3))):  # 1xx heads, then the final one
        eol = draw(EOLS)
        block += draw(STATUS_LINES) + eol
        for line in draw(st.lists(HEADER_LINES, max_size=8)):
            block += line + draw(EOLS)
        if draw(st.booleans()):
            block += eol
    if draw(st.integers(0, 4)) == 0:
        block = block[: draw(st.integers(0, len(block)))]
    return block


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
def test_fuzz_response_head_parser() -> None:
    budget = Budget("response head parser")

    @batch_settings(2_000)
    @given(st.one_of(heads(), heads(), st.binary(max_size=200)))
    def batch(block: bytes) -> None:
        if budget.spent:
            return
        try:
            version, status, headers = CaseInsensitiveHeaderMap._from_raw_head(block)
        except ValueError as e:
            assert str(e)
            budget.count(f"ValueError ({type(e).__name__})")
            return
        assert isinstance(version, str)
        assert isinstance(status, int) and 0 <= status <= 999
        assert isinstance(headers, CaseInsensitiveHeaderMap)
        items = headers.multi_items()
        for name, value in items:
            assert name and name == name.lower() and ":" not in name, name
            assert "\n" not in name and "\n" not in value, (name, value)
            assert name in headers
            assert value in headers.get_list(name)
            assert isinstance(headers[name], str)
        assert len(headers) == len({name for name, _ in items})
        repr(headers)
        budget.count("parsed" if status else "parsed (no status line)")

    run_batches(budget, batch, MIN_EXAMPLES)
