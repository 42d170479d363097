"""CURLcode + engine reason -> httpr exception: the one table (design.md section 10).

Rows are tried in order and the first match wins, so an engine reason (a deadline, a cap,
a framing check made in C) beats the CURLcode libcurl reported for the abort it caused.
Messages carry the cause (httpr's reason or libcurl's error text) and ``METHOD URL``; the
URL given here has no userinfo (R14).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import _exceptions as exc
from . import lib

__all__ = ["Failure", "ROWS", "Row", "exception_for", "is_retryable"]


@dataclass(frozen=True)
class Failure:
    """What the C layer reported about a failed transfer."""

    curlcode: int
    reason: int
    error: str
    method: str
    url: str
    connected: bool = False
    """A connection was established (CURLINFO_CONNECT_TIME_T > 0, or a pooled one reused)."""
    head_done: bool = False
    connect_code: int = 0
    """The proxy's reply to CONNECT (0: no CONNECT was made)."""
    proxy: bool = False
    """A proxy was in use for this transfer."""
    limit: float | None = None
    """The deadline that expired, in seconds, when ``reason`` names one."""
    max_response_size: int | None = None


@dataclass(frozen=True)
class Row:
    """One row of the table: when it applies, which exception, and the message's cause."""

    name: str
    matches: Callable[[Failure], bool]
    exception: type[exc.HTTPError]
    cause: Callable[[Failure], str]


def _curl_text(f: Failure) -> str:
    return f.error or _strerror(f.curlcode)


def _strerror(code: int) -> str:
    from . import ffi

    return str(ffi.string(lib.curl_easy_strerror(code)).decode("utf-8", "replace"))


def _limit(f: Failure) -> str:
    return "?" if f.limit is None else f"{f.limit:g} s"


def _timeout_cause(phase: str, waiting: str) -> Callable[[Failure], str]:
    return lambda f: f"timed out after {_limit(f)} {waiting} ({phase} timeout)"


def _code(*codes: int) -> Callable[[Failure], bool]:
    wanted = frozenset(codes)
    return lambda f: f.curlcode in wanted


def _reason(reason: int) -> Callable[[Failure], bool]:
    return lambda f: f.reason == reason


def _proxy_not_up(f: Failure) -> bool:
    # amendment 1.3: with a proxy in use and no tunnel or proxy connection established.
    if not f.proxy:
        return False
    if f.connect_code and not 200 <= f.connect_code < 300:
        return True
    tunnel_up = 200 <= f.connect_code < 300
    if tunnel_up:
        return False
    early = (
        lib.CURLE_COULDNT_RESOLVE_PROXY,
        lib.CURLE_COULDNT_CONNECT,
        lib.CURLE_PROXY,
    )
    if f.curlcode in early:
        return True
    # 35 (TLS to an https proxy) and 56 (closed during CONNECT) count only before a reply.
    return f.curlcode in (lib.CURLE_SSL_CONNECT_ERROR, lib.CURLE_RECV_ERROR) and not f.head_done


def _is_chunk_error(f: Failure) -> bool:
    return f.curlcode == lib.CURLE_RECV_ERROR and "chunk" in f.error.lower()


ROWS: tuple[Row, ...] = (
    Row(
        "pool deadline",
        _reason(lib.HTTPR_REASON_POOL),
        exc.PoolTimeout,
        _timeout_cause("pool", "waiting for a connection slot"),
    ),
    Row(
        "connect deadline",
        _reason(lib.HTTPR_REASON_CONNECT),
        exc.ConnectTimeout,
        _timeout_cause("connect", "connecting"),
    ),
    Row(
        "read deadline",
        _reason(lib.HTTPR_REASON_READ),
        exc.ReadTimeout,
        _timeout_cause("read", "waiting for the response"),
    ),
    Row(
        "total deadline",
        _reason(lib.HTTPR_REASON_TOTAL),
        exc.ReadTimeout,
        _timeout_cause("total", "for the whole request"),
    ),
    Row(
        "write deadline",
        _reason(lib.HTTPR_REASON_WRITE),
        exc.WriteTimeout,
        _timeout_cause("write", "sending the request body"),
    ),
    Row(
        "head cap",
        _reason(lib.HTTPR_REASON_HEADER_CAP),
        exc.RemoteProtocolError,
        lambda f: (
            f"response head larger than {lib.HTTPR_MAX_HEADER_BYTES // 1024} KiB "
            f"or {lib.HTTPR_MAX_HEADER_LINES} lines"
        ),
    ),
    Row(
        "framing",
        _reason(lib.HTTPR_REASON_FRAMING),
        exc.RemoteProtocolError,
        lambda f: (
            "malformed response framing (conflicting or invalid Content-Length, "
            "chunked twice or with Content-Length, or a head cut before its end)"
        ),
    ),
    Row(
        "HTTP/2 required",
        _reason(lib.HTTPR_REASON_VERSION),
        exc.RemoteProtocolError,
        lambda f: "the server answered over HTTP/1.x, but http2_only requires HTTP/2",
    ),
    Row(
        "resend refused, reset while sending",
        lambda f: f.reason == lib.HTTPR_REASON_RESEND and f.error.startswith("Send failure"),
        exc.WriteError,
        _curl_text,
    ),
    Row(
        "resend refused, reset while receiving",
        lambda f: f.reason == lib.HTTPR_REASON_RESEND and f.error.startswith("Recv failure"),
        exc.ReadError,
        _curl_text,
    ),
    Row(
        # libcurl's own resend stopped (api.md 13); the first attempt's error text is kept.
        "resend refused, closed",
        _reason(lib.HTTPR_REASON_RESEND),
        exc.RemoteProtocolError,
        lambda f: "the server closed the connection before a complete response head",
    ),
    Row(
        "size cap",
        _reason(lib.HTTPR_REASON_SIZE_CAP),
        exc.ResponseTooLarge,
        lambda f: f"response body larger than max_response_size={f.max_response_size} bytes",
    ),
    Row(
        "decoding",
        _reason(lib.HTTPR_REASON_DECODING),
        exc.DecodingError,
        lambda f: f"cannot decode the response body: {_curl_text(f)}",
    ),
    Row(
        "libcurl timeout without a connection",
        lambda f: f.curlcode == lib.CURLE_OPERATION_TIMEDOUT and not f.connected,
        exc.ConnectTimeout,
        lambda f: f"timed out after {_limit(f)} connecting (connect timeout): {_curl_text(f)}",
    ),
    Row(
        "libcurl timeout after connecting",
        _code(lib.CURLE_OPERATION_TIMEDOUT),
        exc.ReadTimeout,
        lambda f: f"timed out: {_curl_text(f)}",
    ),
    Row("proxy not established", _proxy_not_up, exc.ProxyError, _curl_text),
    Row(
        "refused reply version",
        # Schemes are checked in Python before any I/O (R9), so a 1 after connecting is the
        # reply's fault: HTTP/0.9, or a version or status libcurl refuses (found by fuzzing).
        lambda f: (
            f.curlcode == lib.CURLE_UNSUPPORTED_PROTOCOL and ("HTTP/0.9" in f.error or f.connected)
        ),
        exc.RemoteProtocolError,
        _curl_text,
    ),
    Row(
        "unsupported protocol",
        _code(lib.CURLE_UNSUPPORTED_PROTOCOL),
        exc.UnsupportedProtocol,
        _curl_text,
    ),
    Row("malformed URL", _code(lib.CURLE_URL_MALFORMAT), exc.InvalidURL, _curl_text),
    Row(
        "connect or TLS failure",
        _code(
            lib.CURLE_COULDNT_RESOLVE_HOST,
            lib.CURLE_COULDNT_CONNECT,
            lib.CURLE_SSL_CONNECT_ERROR,
            lib.CURLE_SSL_CERTPROBLEM,
            lib.CURLE_SSL_CIPHER,
            lib.CURLE_PEER_FAILED_VERIFICATION,
            lib.CURLE_SSL_CACERT_BADFILE,
            lib.CURLE_SSL_ISSUER_ERROR,
            lib.CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            lib.CURLE_SSL_INVALIDCERTSTATUS,
        ),
        exc.ConnectError,
        _curl_text,
    ),
    Row(
        "decoded body too large while paused",
        lambda f: f.curlcode == lib.CURLE_OUT_OF_MEMORY and f.head_done,
        exc.DecodingError,
        lambda f: (
            "the decoded body could not be held while the stream was paused: libcurl 7.88 "
            "decodes a whole read of the compressed body at once and keeps at most 64 MiB of "
            "it for a paused stream (a compression ratio above about 128:1, read slower than "
            "it arrives); read the stream faster, or ask for Accept-Encoding: identity"
        ),
    ),
    Row(
        "broken reply",
        _code(
            lib.CURLE_GOT_NOTHING,
            lib.CURLE_PARTIAL_FILE,
            lib.CURLE_WEIRD_SERVER_REPLY,
            lib.CURLE_HTTP2,
            lib.CURLE_HTTP2_STREAM,
            lib.CURLE_OUT_OF_MEMORY,  # 7.88 reports a header line over 100 KiB as 27
            lib.CURLE_BAD_FUNCTION_ARGUMENT,  # 7.88: a bare CR in a header name (fuzzing)
        ),
        exc.RemoteProtocolError,
        _curl_text,
    ),
    Row("bad chunked encoding", _is_chunk_error, exc.RemoteProtocolError, _curl_text),
    Row("receive failure", _code(lib.CURLE_RECV_ERROR), exc.ReadError, _curl_text),
    Row(
        "body not resent",
        _code(lib.CURLE_SEND_FAIL_REWIND),
        exc.WriteError,
        lambda f: (
            "the connection closed before any response, and the request body is not resent "
            "automatically (a non-idempotent method or a body that cannot be replayed; "
            "design.md 4)"
        ),
    ),
    Row(
        "send failure",
        _code(lib.CURLE_SEND_ERROR),
        exc.WriteError,
        _curl_text,
    ),
    Row("bad content-coding", _code(lib.CURLE_BAD_CONTENT_ENCODING), exc.DecodingError, _curl_text),
    Row(
        "libcurl's decoder failed",
        # httpr's callbacks set an engine reason whenever they refuse bytes, so a write error
        # without one after the head is libcurl's content decoder giving up (7.88: bytes after
        # the end of a gzip, deflate or br stream).
        lambda f: f.curlcode == lib.CURLE_WRITE_ERROR and f.reason == 0 and f.head_done,
        exc.DecodingError,
        lambda f: f"cannot decode the response body: {_curl_text(f)}",
    ),
    Row("file size exceeded", _code(lib.CURLE_FILESIZE_EXCEEDED), exc.ResponseTooLarge, _curl_text),
)


def exception_for(f: Failure) -> exc.HTTPError:
    """The exception for a failed transfer: the first matching row, else TransportError."""
    for row in ROWS:
        if row.matches(f):
            cls, cause = row.exception, row.cause(f)
            break
    else:
        cls, cause = exc.TransportError, f"{_curl_text(f)} (CURLcode {f.curlcode})"
    return cls(f"{cause} for {f.method} {f.url}")


def is_retryable(f: Failure) -> bool:
    """Whether ``retries`` may try again (api.md 13): the connection was never made, so no
    request byte left (DNS failure, refused, unreachable, connect stall), and no proxy or
    TLS verification is involved."""
    if f.proxy or f.connected:
        return False
    if f.reason == lib.HTTPR_REASON_CONNECT:
        return True
    return (
        f.curlcode
        in (
            lib.CURLE_COULDNT_RESOLVE_HOST,
            lib.CURLE_COULDNT_CONNECT,
            lib.CURLE_OPERATION_TIMEDOUT,
        )
        and f.reason == lib.HTTPR_REASON_NONE
    )
