"""FZ-02: header and request construction (security.md section 3 "Fuzzing", R1; api.md 4, 14).

A ``Client(transport=MockTransport(handler))`` builds requests from generated methods,
header names and values (client- and request-level), params, cookies, credentials and
bodies. Either the call raises ``TypeError`` / ``ValueError`` (``InvalidURL`` and
``UnsupportedProtocol`` for the URL) before the handler runs, or the handler sees only:
a method that is an RFC 9110 token other than CONNECT, an ASCII URL without controls or
spaces, header names that are tokens and values without CR, LF or NUL (R1: libcurl sends
header lines as given, so nothing else may reach it).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import httpr
from tests.fuzz._harness import FUZZ_TIMEOUT_SECONDS, Budget, batch_settings, run_batches

pytestmark = pytest.mark.fuzz

BATCH_EXAMPLES = 1_000
MIN_EXAMPLES = 1_000

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# -- strategies ---------------------------------------------------------------------------------

ANY_CHAR = st.characters(exclude_categories=())
INJECTION = st.sampled_from(
    ["\r\n", "\r", "\n", "\x00", "\r\nX-Injected: 1", "\n\n", "\x0b", "\x7f", " ", "\t", ":"]
)
# Text that is mostly fine with an injection somewhere, or anything at all.
TEXT = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=16),
    st.lists(st.one_of(st.text(ANY_CHAR, max_size=8), INJECTION, st.just("a")), max_size=5).map(
        "".join
    ),
    st.text(ANY_CHAR, max_size=24),
)
PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=16)
NOT_STR = st.one_of(st.none(), st.integers(), st.binary(max_size=8), st.just(["x"]))
NAMES = st.one_of(
    st.sampled_from(
        [
            "X-Test",
            "Host",
            "Cookie",
            "Authorization",
            "Content-Length",
            "Content-Type",
            "Transfer-Encoding",
            "Proxy-Authorization",
            "Connection",
            "Expect",
            "User-Agent",
            "Accept-Encoding",
            "Referer",
            "TE",
            "Upgrade",
        ]
    ),
    st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}", fullmatch=True),
    st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}", fullmatch=True),
    TEXT,
)
# Weighted towards what passes validation, so that requests do reach the handler.
VALUES = st.one_of(PRINTABLE, PRINTABLE, PRINTABLE, TEXT, NOT_STR)
PAIRS = st.lists(st.tuples(NAMES, VALUES), max_size=4)
HEADERS = st.one_of(
    st.none(),
    st.none(),
    PAIRS,
    PAIRS,
    PAIRS.map(dict),
    st.one_of(  # not a mapping or pairs at all
        st.just("X-Test: 1"),
        st.lists(st.one_of(st.tuples(NAMES), st.tuples(NAMES, VALUES, VALUES)), max_size=2),
    ),
)
METHODS = st.one_of(
    st.sampled_from(["GET", "get", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
    st.sampled_from(["GET", "POST"]),
    st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,10}", fullmatch=True),
    st.sampled_from(["PURGE", "M-SEARCH", "CONNECT", "connect", "GET ", "G\u0130T", "\u017fet"]),
    TEXT,
    NOT_STR,
)
URLS = st.one_of(
    st.sampled_from(["http://127.0.0.1/x", "https://localhost:8443/a?b=c", "http://[::1]/"]),
    st.builds(lambda p: "http://127.0.0.1/" + p, TEXT),
    st.sampled_from(["ftp://h/", "http://", "http://h h/", "/relative"]),
)
PARAM_VALUES = st.one_of(
    TEXT, st.integers(), st.floats(), st.booleans(), st.none(), st.lists(TEXT, max_size=3)
)
PARAMS = st.one_of(
    st.none(),
    st.lists(st.tuples(TEXT, PARAM_VALUES), max_size=4),
    st.dictionaries(TEXT, PARAM_VALUES, max_size=4),
    st.just("a=b"),
)
COOKIES = st.one_of(st.none(), st.dictionaries(TEXT, st.one_of(TEXT, NOT_STR), max_size=3))
AUTH = st.one_of(
    st.none(), st.tuples(TEXT, st.one_of(TEXT, st.none())), st.tuples(NOT_STR, TEXT), TEXT
)
BEARER = st.one_of(st.none(), TEXT, NOT_STR)
CONTENT = st.one_of(st.none(), st.binary(max_size=16), TEXT, st.integers())


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    call: dict[str, Any] = {
        "client_headers": draw(st.one_of(st.none(), st.none(), st.none(), HEADERS)),
        "method": draw(METHODS),
        "url": draw(URLS),
    }
    kwargs: dict[str, Any] = {}
    for key, strategy in (
        ("headers", HEADERS),
        ("params", PARAMS),
        ("cookies", COOKIES),
        ("auth", AUTH),
        ("auth_bearer", BEARER),
        ("content", CONTENT),
    ):
        if draw(st.integers(0, 2)) == 0:
            kwargs[key] = draw(strategy)
    call["kwargs"] = kwargs
    return call


# -- invariants ---------------------------------------------------------------------------------

KNOWN_METHOD_CASEFOLD = (
    "validate_method upper-cases before checking the token, so a non-ASCII method whose "
    "upper case is ASCII is accepted and another method is sent: 'po\u017ft' (LATIN SMALL "
    "LETTER LONG S) goes out as POST, '\ufb00' as FF"
)


def check_seen(request: httpr.Request) -> None:
    """What the handler sees: only what may go on the wire (R1)."""
    method = request.method
    assert isinstance(method, str) and _TOKEN.fullmatch(method), method
    assert method != "CONNECT"
    url = str(request.url)
    assert url.isascii() and not any(c <= " " or c == "\x7f" for c in url), url
    for name, value in request.headers.multi_items():
        assert isinstance(name, str) and _TOKEN.fullmatch(name), name
        assert isinstance(value, str), (name, value)
        assert not any(c in value for c in "\r\n\x00"), (name, value)


def run_call(call: dict[str, Any]) -> str:
    seen: list[httpr.Request] = []

    def handler(request: httpr.Request) -> httpr.Response:
        seen.append(request)
        return httpr.Response(200, content=b"ok")

    allowed: tuple[type[BaseException], ...] = (TypeError, ValueError)  # InvalidURL is one
    url_allowed = (httpr.UnsupportedProtocol,)  # the scheme is checked first (api.md 4.6)
    try:
        client = httpr.Client(
            headers=call["client_headers"], transport=httpr.MockTransport(handler)
        )
    except allowed as e:
        return f"client refused: {type(e).__name__}"
    with client:
        try:
            response = client.request(call["method"], call["url"], **call["kwargs"])
        except allowed + url_allowed as e:
            assert seen == [], f"{type(e).__name__} after the handler ran: {e}"
            return f"refused: {type(e).__name__}"
    assert len(seen) == 1
    check_seen(seen[0])
    assert response.status_code == 200
    method = call["method"]
    if not _TOKEN.fullmatch(method):
        return f"KNOWN BUG: {KNOWN_METHOD_CASEFOLD[:40]}"
    assert seen[0].method == method.upper()
    return "sent"


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
def test_fz02_header_and_request_construction() -> None:
    budget = Budget("FZ-02 request construction")

    @batch_settings(BATCH_EXAMPLES)
    @given(calls())
    def batch(call: dict[str, Any]) -> None:
        if budget.spent:
            return
        budget.count(run_call(call))

    run_batches(budget, batch, MIN_EXAMPLES)
    assert budget.tally.get("sent", 0) > 0  # some requests did reach the handler


@pytest.mark.parametrize("method", ["po\u017ft", "\ufb00"])
def test_fz02_found_non_ascii_method_is_refused(method: str) -> None:
    def handler(request: httpr.Request) -> httpr.Response:
        return httpr.Response(200)

    with httpr.Client(transport=httpr.MockTransport(handler)) as client:
        with pytest.raises(ValueError, match="Invalid HTTP method"):
            client.request(method, "http://localhost/")
