"""Walks every row of the one error table (_curl/errors.py, design.md section 10): each row is
reached by a failure built for it, maps to its exception, and the first match wins."""

from __future__ import annotations

import pickle

import pytest

import httpr
from httpr._curl import lib
from httpr._curl.errors import ROWS, Failure, exception_for

BASE = {"error": "", "method": "GET", "url": "http://127.0.0.1:1/x"}

# One failure per row, in the table's order: (row name, failure fields, exception).
CASES: list[tuple[str, dict[str, object], type[Exception]]] = [
    (
        "pool deadline",
        {"curlcode": 28, "reason": lib.HTTPR_REASON_POOL, "limit": 0.5},
        httpr.PoolTimeout,
    ),
    (
        "connect deadline",
        {"curlcode": 28, "reason": lib.HTTPR_REASON_CONNECT},
        httpr.ConnectTimeout,
    ),
    (
        "read deadline",
        {"curlcode": 28, "reason": lib.HTTPR_REASON_READ, "limit": 0.5},
        httpr.ReadTimeout,
    ),
    ("total deadline", {"curlcode": 28, "reason": lib.HTTPR_REASON_TOTAL}, httpr.ReadTimeout),
    ("write deadline", {"curlcode": 28, "reason": lib.HTTPR_REASON_WRITE}, httpr.WriteTimeout),
    (
        "head cap",
        {"curlcode": 23, "reason": lib.HTTPR_REASON_HEADER_CAP},
        httpr.RemoteProtocolError,
    ),
    ("framing", {"curlcode": 0, "reason": lib.HTTPR_REASON_FRAMING}, httpr.RemoteProtocolError),
    (
        "HTTP/2 required",
        {"curlcode": 23, "reason": lib.HTTPR_REASON_VERSION},
        httpr.RemoteProtocolError,
    ),
    (
        "resend refused, reset while sending",
        {"curlcode": 42, "reason": lib.HTTPR_REASON_RESEND, "error": "Send failure: Broken pipe"},
        httpr.WriteError,
    ),
    (
        "resend refused, reset while receiving",
        {
            "curlcode": 65,
            "reason": lib.HTTPR_REASON_RESEND,
            "error": "Recv failure: Connection reset by peer",
        },
        httpr.ReadError,
    ),
    (
        "resend refused, closed",
        {
            "curlcode": 42,
            "reason": lib.HTTPR_REASON_RESEND,
            "error": "operation aborted by pre-request callback",
        },
        httpr.RemoteProtocolError,
    ),
    ("size cap", {"curlcode": 23, "reason": lib.HTTPR_REASON_SIZE_CAP}, httpr.ResponseTooLarge),
    ("decoding", {"curlcode": 23, "reason": lib.HTTPR_REASON_DECODING}, httpr.DecodingError),
    ("libcurl timeout without a connection", {"curlcode": 28, "reason": 0}, httpr.ConnectTimeout),
    (
        "libcurl timeout after connecting",
        {"curlcode": 28, "reason": 0, "connected": True},
        httpr.ReadTimeout,
    ),
    ("proxy not established", {"curlcode": 7, "reason": 0, "proxy": True}, httpr.ProxyError),
    (
        "refused reply version",
        {"curlcode": 1, "reason": 0, "error": "Received HTTP/0.9 when not allowed"},
        httpr.RemoteProtocolError,
    ),
    ("unsupported protocol", {"curlcode": 1, "reason": 0}, httpr.UnsupportedProtocol),
    ("malformed URL", {"curlcode": 3, "reason": 0}, httpr.InvalidURL),
    ("connect or TLS failure", {"curlcode": 60, "reason": 0}, httpr.ConnectError),
    (
        "decoded body too large while paused",
        {"curlcode": 27, "reason": 0, "head_done": True},
        httpr.DecodingError,
    ),
    ("broken reply", {"curlcode": 52, "reason": 0}, httpr.RemoteProtocolError),
    (
        "bad chunked encoding",
        {"curlcode": 56, "reason": 0, "error": "Malformed encoding found in chunked-encoding"},
        httpr.RemoteProtocolError,
    ),
    ("receive failure", {"curlcode": 56, "reason": 0}, httpr.ReadError),
    ("body not resent", {"curlcode": 65, "reason": 0}, httpr.WriteError),
    ("send failure", {"curlcode": 55, "reason": 0}, httpr.WriteError),
    ("bad content-coding", {"curlcode": 61, "reason": 0}, httpr.DecodingError),
    (
        "libcurl's decoder failed",
        {"curlcode": 23, "reason": 0, "head_done": True},
        httpr.DecodingError,
    ),
    ("file size exceeded", {"curlcode": 63, "reason": 0}, httpr.ResponseTooLarge),
]


def test_every_row_has_a_case() -> None:
    assert [name for name, _, _ in CASES] == [row.name for row in ROWS]


@pytest.mark.parametrize(("name", "fields", "error"), CASES, ids=[c[0] for c in CASES])
def test_row(name: str, fields: dict[str, object], error: type[Exception]) -> None:
    failure = Failure(**{**BASE, **fields})  # type: ignore[arg-type]
    first = next(row for row in ROWS if row.matches(failure))
    assert first.name == name  # this row, not an earlier one, decides
    exc = exception_for(failure)
    assert type(exc) is error
    assert str(exc).endswith("for GET http://127.0.0.1:1/x")
    assert type(pickle.loads(pickle.dumps(exc))) is error  # picklable (style.md)


def test_reason_beats_curlcode() -> None:
    # A read deadline reported with libcurl's 28 and a connection is still the read row.
    failure = Failure(curlcode=28, reason=lib.HTTPR_REASON_READ, limit=0.25, **BASE)  # type: ignore[arg-type]
    exc = exception_for(failure)
    assert type(exc) is httpr.ReadTimeout
    assert "timed out after 0.25 s waiting for the response (read timeout)" in str(exc)


def test_unknown_code_is_a_transport_error() -> None:
    exc = exception_for(Failure(curlcode=2, reason=0, **BASE))  # type: ignore[arg-type]
    assert type(exc) is httpr.TransportError
    assert "CURLcode 2" in str(exc)


def test_proxy_tunnel_refused_by_status() -> None:
    failure = Failure(curlcode=56, reason=0, proxy=True, connect_code=407, **BASE)  # type: ignore[arg-type]
    assert type(exception_for(failure)) is httpr.ProxyError
    up = Failure(curlcode=56, reason=0, proxy=True, connect_code=200, head_done=True, **BASE)  # type: ignore[arg-type]
    assert type(exception_for(up)) is httpr.ReadError  # tunnel up: the origin's failure
