"""FZ-01: the URL parser (security.md section 3 "Fuzzing", R1, R9, R13; api.md 4.6).

``httpr._urls.parse_url(x)`` either returns a URL or raises exactly ``InvalidURL``,
``UnsupportedProtocol`` (a str) or ``TypeError`` (not a str). A returned URL is what libcurl
gets: ASCII, no control character or space, scheme http(s), a host that is an LDH name, an
IPv4 literal or a valid bracketed IPv6 literal, and it round-trips (``parse_url(str(u)) ==
u``). The cookie jar reads URLs with ``urllib.parse`` (``_cookies._split_url``): it must see
the host the parser chose, or cookies would be scoped to another host (R13's differential).
Parsing is linear: 60,000-character inputs built from the generated ones parse in < 50 ms.

Known bugs found here are pinned by strict xfail tests below; the harness tallies them
instead of stopping at them, so it goes on finding new ones.
"""

from __future__ import annotations

import ipaddress
import math
import random
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import httpr
from httpr._cookies import _split_url
from httpr._urls import URL, parse_url
from tests.fuzz._harness import FUZZ_TIMEOUT_SECONDS, Budget, batch_settings, run_batches

pytestmark = pytest.mark.fuzz

# R13: linear time. A 60,000-character input (under the 65,536 cap) parses in this long.
LINEAR_INPUT_CHARS = 60_000
LINEAR_LIMIT_SECONDS = 0.050
# How many generated inputs are grown to LINEAR_INPUT_CHARS and timed after the run.
LINEAR_SEEDS = 300
# Examples per hypothesis batch (a batch takes well under a second).
BATCH_EXAMPLES = 2_000
# Fewer examples than this in 60 s means the harness is broken.
MIN_EXAMPLES = 1_000

_LDH_HOST = re.compile(r"[a-z0-9._\-]+")

# -- strategies ---------------------------------------------------------------------------------

# Every code point: controls, surrogates, unassigned, full-width and IDNA-mapped characters.
ANY_CHAR = st.characters(exclude_categories=())
ASCII_CHAR = st.characters(max_codepoint=0x7F, exclude_categories=())
# Pieces that matter to URL parsers (urllib3 CVE-2021-33503, curl CVE-2022-27780, SEC-17).
SPECIAL = st.sampled_from(
    [
        *":/?#[]@!$&'()*+,;=%\\ \t\r\n\x00\x7f.-_~",
        "%2F",
        "%2f",
        "%00",
        "%25",
        "%",
        "\u3002",  # ideographic full stop: a dot after UTS 46 mapping
        "\uff0e",  # full-width full stop
        "\uff1a",  # full-width colon
        "\uff20",  # full-width commercial at
        "\u2044",
        "\ufe6b",  # small commercial at
        "\u00df",
        "\u00e4",
        "\u200d",
        "xn--",
        "xn--fa-hia",
        "[::1]",
        "@@",
        "//",
        "..",
        "\ud800",
        "\udcff",
        "0x7f",
        "4294967295",
        "65536",
        "0" * 4400,
    ]
)
PIECE = st.lists(
    st.one_of(st.text(ANY_CHAR, max_size=12), st.text(ASCII_CHAR, max_size=12), SPECIAL),
    max_size=6,
).map("".join)
# Text without controls: what a valid URL's path or query may hold before encoding.
PRINTABLE = st.one_of(
    st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=16),
    st.from_regex(r"[A-Za-z0-9._~!$&'()*+,;=:@/%?-]{0,16}", fullmatch=True),
)
LABELS = st.from_regex(r"[A-Za-z0-9_-]{1,12}(\.[A-Za-z0-9_-]{1,12}){0,3}\.?", fullmatch=True)
UNICODE_LABELS = st.lists(
    st.text(st.characters(categories=("Ll", "Lu", "Lo", "Nd", "Mn")), min_size=1, max_size=8),
    min_size=1,
    max_size=3,
).map(".".join)
# Repeated branches weigh the draw towards URLs that parse, so the checks on a parsed URL
# (round trip, host, jar view) run often.
SCHEMES = st.one_of(
    st.sampled_from(["http", "https"]),
    st.sampled_from(["http", "https", "HTTP", "hTTpS"]),
    st.sampled_from(["ftp", "file", "javascript", "gopher", "dict", "ws", "ht3p", "h"]),
    st.sampled_from(["localhost", "1http", "", "http+unix", "https "]),
    PIECE,
)
SEPARATORS = st.one_of(
    st.just("://"),
    st.just("://"),
    st.sampled_from([":/", ":", "//", ":///", "", ":\\\\"]),
)
HOSTS = st.one_of(
    st.sampled_from(
        [
            "localhost",
            "127.0.0.1",
            "example.com",
            "EXAMPLE.com.",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "[fe80::1%25eth0]",
            "[fe80::1%eth0]",
            "[:::::]",
            "[1.2.3]",
            "[v1.x]",
            "xn--fa-hia.de",
            "fa\u00df.de",
            "b\u00fccher.example",
            "127.1",
            "0x7f.1",
            "a_b.c",
            "a%2Fb",
            "evil.com\\@good.com",
            "a@b@c",
            "\uff45xample\uff0ecom",
        ]
    ),
    LABELS,
    LABELS,
    UNICODE_LABELS,
    PIECE,
)
PORTS = st.one_of(
    st.none(),
    st.none(),
    st.integers(-5, 70_000).map(str),
    st.text(st.sampled_from("0123456789"), max_size=8),
    PIECE,
)
PARTS = st.one_of(PRINTABLE, PRINTABLE, PIECE)


@st.composite
def url_texts(draw: st.DrawFn) -> str:
    """URL-shaped text: a grammar of pieces, each maybe broken."""
    text = draw(SCHEMES) + draw(SEPARATORS)
    if draw(st.integers(0, 3)) == 0:
        text += draw(PARTS) + draw(st.sampled_from(["@", ":@", "@@"]))
    text += draw(HOSTS)
    port = draw(PORTS)
    if port is not None:
        text += ":" + port
    for sep in ("/", "?", "#"):
        if draw(st.booleans()):
            text += sep + draw(PARTS)
    return text


INPUTS = st.one_of(
    url_texts(),
    url_texts(),
    url_texts(),
    st.text(ANY_CHAR, max_size=64),
    st.text(ASCII_CHAR, max_size=64),
    st.sampled_from(["http://", "https://", "http:", "http://[", "http://:80", "//h/x"]),
)
NOT_STR = st.one_of(
    st.none(), st.integers(), st.binary(max_size=20), st.floats(), st.just(object())
)

# -- invariants ---------------------------------------------------------------------------------

KNOWN_SURROGATE = (
    "parse_url raises UnicodeEncodeError (not InvalidURL) for a lone surrogate in the path "
    "or query: urllib.parse.quote() encodes it as strict UTF-8"
)
KNOWN_LONG_PORT = (
    "parse_url raises a plain ValueError (not InvalidURL) for a port of more than 4,300 "
    "digits: int() refuses the conversion (sys.set_int_max_str_digits)"
)
KNOWN_BAD_IPV6 = (
    "parse_url accepts a malformed bracketed IPv6 literal such as [:::::] or [1.2.3] (its "
    "regex only checks the characters); the cookie jar's urlsplit then raises ValueError "
    "from client.get"
)


def _known_bug(text: str, error: BaseException) -> str | None:
    """The known bug `error` is, matched narrowly; None for anything else."""
    if (
        isinstance(error, UnicodeEncodeError)
        and "surrogates not allowed" in str(error)
        and any("\ud800" <= c <= "\udfff" for c in text)
    ):
        return KNOWN_SURROGATE
    if (
        type(error) is ValueError
        and "integer string conversion" in str(error)
        and re.search(r":[0-9]{4301,}", text) is not None
    ):
        return KNOWN_LONG_PORT
    return None


def _valid_ipv6_literal(host: str) -> bool:
    address = host[1:-1]
    zone = address.find("%25")
    if zone >= 0:
        address = address[:zone]
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


def check_url(text: object) -> str:
    """Parses `text` and checks every invariant; returns the outcome for the tally."""
    try:
        url = parse_url(text)
    except (httpr.InvalidURL, httpr.UnsupportedProtocol) as e:
        assert isinstance(text, str), f"{type(e).__name__} for a non-str {text!r}"
        assert str(e)  # a message saying what is wrong
        return type(e).__name__
    except TypeError:
        assert not isinstance(text, str), f"TypeError for the str {text!r}"
        return "TypeError"
    except Exception as e:
        bug = _known_bug(text, e) if isinstance(text, str) else None
        if bug is None:
            raise
        return f"KNOWN BUG: {bug[:40]}"
    assert isinstance(text, str)
    assert isinstance(url, URL)
    s = str(url)
    assert s.isascii(), s
    assert not any(c <= " " or c == "\x7f" for c in s), s
    assert url.scheme in ("http", "https"), s
    assert s.startswith(url.scheme + "://"), s
    assert url.target.startswith("/") and "#" not in url.target, s
    assert url.port is None or 1 <= url.port <= 65535, s
    assert url.port != {"http": 80, "https": 443}[url.scheme], s  # the default is omitted
    if url.host.startswith("["):
        if not _valid_ipv6_literal(url.host):
            return f"KNOWN BUG: {KNOWN_BAD_IPV6[:40]}"
    else:
        assert _LDH_HOST.fullmatch(url.host), s
    again = parse_url(s)
    assert again == url, (s, str(again))
    assert (again.scheme, again.host, again.port, again.target) == (
        url.scheme,
        url.host,
        url.port,
        url.target,
    )
    # The cookie jar's view of the URL names the same host (R13).
    _, jar_host, _ = _split_url(s)
    assert jar_host == url.host.strip("[]").rstrip("."), (s, jar_host)
    return "URL"


def _grown(seed: str) -> list[str]:
    """60,000-character inputs repeating `seed`, bare and behind each URL part."""
    reps = math.ceil(LINEAR_INPUT_CHARS / max(1, len(seed)))
    body = (seed * reps)[: LINEAR_INPUT_CHARS - 16]
    return [body, f"http://{body}", f"http://h/{body}", f"http://h:{body}", f"https://{body}/"]


def _best_of_three(text: str) -> float:
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        try:
            parse_url(text)
        except Exception:  # only the time matters here; check_url judged the outcomes
            pass
        best = min(best, time.perf_counter() - t0)
    return best


# -- the harness --------------------------------------------------------------------------------


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
def test_fz01_parse_url() -> None:
    budget = Budget("FZ-01 parse_url")
    seeds: list[str] = []
    rng = random.Random(1)

    @batch_settings(BATCH_EXAMPLES)
    @given(st.one_of(INPUTS, INPUTS, INPUTS, NOT_STR))
    def batch(text: object) -> None:
        if budget.spent:
            return
        budget.count(check_url(text))
        if isinstance(text, str) and text:
            # Reservoir sample of the inputs, for the linear-time check.
            if len(seeds) < LINEAR_SEEDS:
                seeds.append(text)
            else:
                slot = rng.randrange(budget.examples)
                if slot < LINEAR_SEEDS:
                    seeds[slot] = text

    run_batches(budget, batch, MIN_EXAMPLES)

    # R13: linear time, on inputs grown from what the run generated and on known worst cases.
    worst = (0.0, "")
    fixed = ["a", "@", ":", "[", "%", "\u00e9", "\u00e4.", "b\u00fccher.", "a:", "/?#", "1"]
    for seed in fixed + seeds:
        for text in _grown(seed):
            took = _best_of_three(text)
            if took > worst[0]:
                worst = (took, text)
    print(
        f"[FZ-01 linear time] {len(fixed) + len(seeds)} seeds x 5 inputs of "
        f"~{LINEAR_INPUT_CHARS} chars; slowest {worst[0] * 1e3:.2f} ms "
        f"({ascii(worst[1][:30])}...)"
    )
    assert worst[0] < LINEAR_LIMIT_SECONDS, f"{worst[0] * 1e3:.1f} ms for {ascii(worst[1][:80])}..."


# -- the known bugs, pinned -------------------------------------------------------------------


@pytest.mark.parametrize("text", ["http://h/\ud800", "http://h/?q=\udc80"])
def test_fz01_found_surrogate_in_path_is_invalid_url(text: str) -> None:
    with pytest.raises(httpr.InvalidURL):
        parse_url(text)


@pytest.mark.parametrize("text", ["http://h:" + "1" * 5000 + "/", "http://h:" + "0" * 4400 + "80/"])
def test_fz01_found_very_long_port_is_invalid_url(text: str) -> None:
    with pytest.raises(httpr.InvalidURL):
        parse_url(text)


@pytest.mark.parametrize("text", ["http://[:::::]/", "http://[1.2.3]/"])
def test_fz01_found_malformed_ipv6_is_invalid_url(text: str) -> None:
    with pytest.raises(httpr.InvalidURL):
        parse_url(text)
