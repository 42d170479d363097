"""The threaded HTTP/1.1 server behind httpr's transport and client tests.

`TestServer` runs a real server on 127.0.0.1 in a background thread (httpx and urllib3 test
against real servers the same way). Each endpoint exists for a family of tests; the docstring
of each `_Handler._ep_*` method says which. Faults that a well-formed server cannot produce
(half bodies, bad chunks, RSTs mid-stream) belong to `tests.servers.raw` instead.

The handler replaces `BaseHTTPRequestHandler.handle_one_request` so that:

- any method token is served (``PURGE`` included), not only the ``do_*`` ones defined;
- the request head is kept as received (`raw_headers`: original case, order, duplicates),
  because `/echo` is how tests see the bytes httpr put on the wire;
- every request body is read (Content-Length or chunked) before the response, so keep-alive
  stays in step whatever the endpoint;
- errors never print tracebacks (pytest runs with ``filterwarnings = error`` and tests read
  stderr); they are kept in `TestServer.errors` instead.
"""

from __future__ import annotations

import gzip
import http.server
import io
import json
import math
import random
import re
import socket
import socketserver
import sys
import threading
import time
import zlib
from collections.abc import Sequence
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

__all__ = ["DEFAULT_COMPRESSED_SIZE", "MAX_DELAY_SECONDS", "TestServer", "payload"]

HOST = "127.0.0.1"

# /gzip, /deflate and /gzip2 without ?size=.
DEFAULT_COMPRESSED_SIZE = 5120
# /delay and /slow-body never take longer than this, whatever the query asks: a typo in a
# test must not hang the run (tests are bounded, style.md).
MAX_DELAY_SECONDS = 10.0
# /slow-body sends at most this many one-byte writes.
MAX_SLOW_CHUNKS = 10_000
# /bytes and /chunked stream their payload in blocks, so they may be large (stress tests).
MAX_STREAM_BYTES = 1024 * 1024 * 1024
# /gzip, /deflate, /gzip2 compress in memory.
MAX_COMPRESSED_SOURCE_BYTES = 64 * 1024 * 1024
# Request bodies are held in memory for /echo.
MAX_REQUEST_BODY_BYTES = 64 * 1024 * 1024
# One request line, header line or chunk-size line: http.client's own _MAXLINE.
MAX_LINE_BYTES = 65536
# Header lines in one request head (trailers included): http.client's _MAXHEADERS.
MAX_HEADER_LINES = 100
# Bytes written per send() when streaming /bytes and /chunked.
STREAM_BLOCK_BYTES = 64 * 1024
# An idle keep-alive connection is dropped after this; stop() wakes idle ones at once anyway.
IDLE_TIMEOUT_SECONDS = 60.0
# stop() waits this long for handler threads to close their sockets.
STOP_JOIN_SECONDS = 2.0
# serve_forever()'s poll interval: how long shutdown() may wait for the loop to notice.
POLL_INTERVAL_SECONDS = 0.05
# At most this many server-side errors are kept for inspection.
MAX_KEPT_ERRORS = 100

# The payload repeats a pseudo-random base64 string. A prime period keeps chunk and block
# boundaries from lining up with the repetition (a reordered block would go unnoticed); being
# under deflate's 32 KiB window keeps large payloads highly compressible, as /gzip?size= with a
# big N wants (ratio near deflate's ~1000:1 ceiling).
_PAYLOAD_PERIOD = 4093
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_rng = random.Random(1234)
_PAYLOAD_BASE = bytes(_rng.choice(_B64_ALPHABET) for _ in range(_PAYLOAD_PERIOD))
del _rng

# RFC 9110 §5.6.2: token = 1*tchar.
_TOKEN_RE = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9112 §7.1: chunk-size = 1*HEXDIG (int(x, 16) alone would also take "0x", "_", signs).
_CHUNK_SIZE_RE = re.compile(rb"^[0-9A-Fa-f]+$")
# Header names /headers may not set: they would break the response framing, which the normal
# server must always get right (framing faults are the raw server's job).
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


def payload(n: int) -> bytes:
    """The `n` deterministic bytes that /bytes, /chunked, /gzip, /deflate and /gzip2 send."""
    if n < 0:
        raise ValueError(f"payload size must be >= 0, got {n!r}")
    return _payload_slice(0, n)


def _payload_slice(offset: int, length: int) -> bytes:
    """payload(offset + length)[offset:] without building the whole payload."""
    start = offset % _PAYLOAD_PERIOD
    repeats = (start + length) // _PAYLOAD_PERIOD + 1
    return (_PAYLOAD_BASE * repeats)[start : start + length]


class _BadRequest(Exception):
    """The request cannot be served; answered with `status` and the connection closed."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class _Handler(http.server.BaseHTTPRequestHandler):
    """One connection: reads requests in a keep-alive loop and routes them by path."""

    protocol_version = "HTTP/1.1"
    server_version = "httpr-test"
    # Error responses to malformed request lines (sent before the version is known) still get
    # a status line and headers; the stdlib assumes HTTP/0.9 there and sends the body alone.
    default_request_version = "HTTP/1.1"
    # One response is often two writes (head, body): without TCP_NODELAY the second waits for
    # the client's delayed ACK (~40 ms on Linux), which would distort timing tests.
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_SECONDS

    raw_headers: list[tuple[str, str]]
    trailers: list[tuple[str, str]]
    body: bytes

    # -- request reading ---------------------------------------------------------------------

    def handle_one_request(self) -> None:
        """Read one request, whatever its method, then answer it."""
        self.close_connection = True
        try:
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
        except OSError:  # the timeout, or stop() shutting the socket down
            return
        if not line:
            return
        self.raw_requestline = line
        self.requestline = ""
        self.request_version = self.default_request_version
        self.command = ""
        try:
            if len(line) > MAX_LINE_BYTES:
                raise _BadRequest("request line too long", 414)
            head_lines = self._read_lines_until_blank()
            self.raw_headers = _split_header_lines(head_lines)
            # parse_request() reads the head from self.rfile: give it the lines we kept, so it
            # still does the version checks, keep-alive rules and Expect: 100-continue.
            real_rfile = self.rfile
            self.rfile = io.BytesIO(b"".join(head_lines))
            try:
                ok = self.parse_request()
            finally:
                self.rfile = real_rfile
            if not ok:
                self.close_connection = True
                return  # parse_request() has sent the error response
            self.trailers = []
            self.body = self._read_body()
        except _BadRequest as exc:
            self._fail(exc.status, str(exc))
            return
        except OSError:
            self.close_connection = True
            return
        try:
            self._dispatch()
            self.wfile.flush()
        except _BadRequest as exc:
            self._fail(exc.status, str(exc))
        except OSError:  # the client went away mid-response
            self.close_connection = True

    def _read_lines_until_blank(self) -> list[bytes]:
        """Header (or trailer) lines up to and including the blank line."""
        lines: list[bytes] = []
        while True:
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
            if len(line) > MAX_LINE_BYTES:
                raise _BadRequest("header line too long", 431)
            if not line:
                raise _BadRequest("connection closed inside the request head")
            lines.append(line)
            if line in (b"\r\n", b"\n"):
                return lines
            if len(lines) > MAX_HEADER_LINES:
                raise _BadRequest("too many header lines", 431)

    def _read_body(self) -> bytes:
        """The request body, by Transfer-Encoding: chunked or by Content-Length."""
        codings = [
            c.strip().lower()
            for v in self.headers.get_all("Transfer-Encoding") or []
            for c in v.split(",")
            if c.strip()
        ]
        if codings:
            # RFC 9112 §6.3: chunked must be the final coding, else the length is unknown.
            if codings != ["chunked"]:
                raise _BadRequest(f"unsupported Transfer-Encoding {codings!r}", 501)
            return self._read_chunked()
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not lengths:
            return b""
        if len(lengths) > 1 or not next(iter(lengths)).isdigit():
            raise _BadRequest(f"bad Content-Length {sorted(lengths)!r}")
        length = int(next(iter(lengths)))
        if length > MAX_REQUEST_BODY_BYTES:
            raise _BadRequest("request body too large", 413)
        body = self.rfile.read(length)
        if len(body) != length:
            raise _BadRequest("connection closed inside the request body")
        return body

    def _read_chunked(self) -> bytes:
        """Decode a chunked request body (RFC 9112 §7.1); trailers go to self.trailers."""
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
            if not line.endswith(b"\n") or len(line) > MAX_LINE_BYTES:
                raise _BadRequest("bad or truncated chunk-size line")
            size_field = line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE_RE.match(size_field):
                raise _BadRequest(f"bad chunk size {size_field!r}")
            size = int(size_field, 16)
            if size == 0:
                break
            total += size
            if total > MAX_REQUEST_BODY_BYTES:
                raise _BadRequest("request body too large", 413)
            data = self.rfile.read(size)
            if len(data) != size:
                raise _BadRequest("connection closed inside a chunk")
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _BadRequest("chunk data not followed by CRLF")
            parts.append(data)
        self.trailers = _split_header_lines(self._read_lines_until_blank())
        return b"".join(parts)

    # -- response writing ----------------------------------------------------------------------

    def _respond(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/plain; charset=utf-8",
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Send a whole response with Content-Length; HEAD, 1xx, 204 and 304 get no body.

        204 gets no Content-Length (RFC 9110 §8.6 forbids it), nor does 304, whose
        Content-Length would describe the selected representation, not this empty body.
        """
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        bodiless = status < 200 or status in (204, 304)
        if not bodiless:
            self.send_header("Content-Length", str(len(body)))
        self._end_head()
        if not bodiless and self.command != "HEAD":
            self.wfile.write(body)

    def _end_head(self) -> None:
        """End the head, announcing the close when the server is about to close.

        RFC 9112 §9.6: a server closing after this response (the client asked for it, or an
        HTTP/1.0 client did not ask for keep-alive) SHOULD say so.
        """
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _fail(self, status: int, message: str) -> None:
        """Answer an unserviceable request and close the connection (framing may be lost)."""
        self.close_connection = True
        try:
            self._respond(status, message.encode("utf-8", "replace"))
            self.wfile.flush()
        except OSError:
            pass

    # -- routing -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        self.query = parse_qsl(split.query, keep_blank_values=True)
        path = split.path
        if path.startswith("/status/"):
            self._ep_status(path[len("/status/") :])
            return
        route: Callable[[], None] | None = {
            "/echo": self._ep_echo,
            "/gzip": self._ep_gzip,
            "/gzip-bad": self._ep_gzip_bad,
            "/gzip2": self._ep_gzip2,
            "/deflate": self._ep_deflate,
            "/bytes": self._ep_bytes,
            "/chunked": self._ep_chunked,
            "/delay": self._ep_delay,
            "/slow-body": self._ep_slow_body,
            "/headers": self._ep_headers,
            "/content-type": self._ep_content_type,
            "/json": self._ep_json,
            "/redirect": self._ep_redirect,
            "/close": self._ep_close,
        }.get(path)
        if route is None:
            self._respond(404, b"not found")
        else:
            route()

    def _param(self, name: str) -> str | None:
        """The first value of query parameter `name`, or None."""
        for key, value in self.query:
            if key == name:
                return value
        return None

    def _int_param(self, name: str, default: int, low: int, high: int) -> int:
        raw = self._param(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _BadRequest(f"{name} must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise _BadRequest(f"{name} must be in [{low}, {high}], got {value}")
        return value

    def _float_param(self, name: str, default: float) -> float:
        raw = self._param(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise _BadRequest(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value) or value < 0:
            raise _BadRequest(f"{name} must be finite and >= 0, got {raw!r}")
        return value

    def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early when the server stops; True if it slept the whole time."""
        return not self._srv.stopping.wait(seconds)

    @property
    def _srv(self) -> _Server:
        assert isinstance(self.server, _Server)
        return self.server

    # -- endpoints -----------------------------------------------------------------------------

    def _ep_echo(self) -> None:
        """/echo: what httpr sent, as JSON (request building, headers on the wire, bodies).

        Keys: method, path (the raw request target, query included), query ([k, v] pairs,
        blanks kept), headers ([name, value] pairs as received: case, order, duplicates),
        body (latin-1 decoded, so every byte maps to one code point), body_len, and trailers
        (of a chunked body, like headers).
        """
        doc = {
            "method": self.command,
            "path": self.path,
            "query": [list(kv) for kv in self.query],
            "headers": [list(kv) for kv in self.raw_headers],
            "body": self.body.decode("latin-1"),
            "body_len": len(self.body),
            "trailers": [list(kv) for kv in self.trailers],
        }
        self._respond(200, json.dumps(doc).encode(), "application/json")

    def _ep_gzip(self) -> None:
        """/gzip?size=N: payload(N) gzip-encoded (automatic decoding, Content-Length of the
        compressed body, decoded-size limits)."""
        size = self._int_param("size", DEFAULT_COMPRESSED_SIZE, 0, MAX_COMPRESSED_SOURCE_BYTES)
        body = gzip.compress(payload(size), mtime=0)
        self._respond(200, body, "text/plain", [("Content-Encoding", "gzip")])

    def _ep_deflate(self) -> None:
        """/deflate?size=N: payload(N) as zlib-wrapped deflate (RFC 1950), as RFC 9110
        §8.4.1.2 defines "deflate" (the raw-deflate confusion is the client's to handle)."""
        size = self._int_param("size", DEFAULT_COMPRESSED_SIZE, 0, MAX_COMPRESSED_SOURCE_BYTES)
        body = zlib.compress(payload(size))
        self._respond(200, body, "text/plain", [("Content-Encoding", "deflate")])

    def _ep_gzip_bad(self) -> None:
        """/gzip-bad: Content-Encoding gzip over a corrupt stream (decoding error mapping).

        A valid gzip header, then a deflate block of the reserved type 3 (RFC 1951 §3.2.3):
        zlib fails at the first block with "invalid block type", before any output.
        """
        body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 32
        self._respond(200, body, "text/plain", [("Content-Encoding", "gzip")])

    def _ep_gzip2(self) -> None:
        """/gzip2?size=N: payload(N) gzipped twice, `Content-Encoding: gzip, gzip` (decoder
        chains, as urllib3 tests them)."""
        size = self._int_param("size", DEFAULT_COMPRESSED_SIZE, 0, MAX_COMPRESSED_SOURCE_BYTES)
        body = gzip.compress(gzip.compress(payload(size), mtime=0), mtime=0)
        self._respond(200, body, "text/plain", [("Content-Encoding", "gzip, gzip")])

    def _ep_bytes(self) -> None:
        """/bytes?size=N: payload(N) with Content-Length, streamed in blocks (downloads,
        streaming reads, backpressure, large bodies)."""
        size = self._int_param("size", 0, 0, MAX_STREAM_BYTES)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self._end_head()
        if self.command == "HEAD":
            return
        for offset in range(0, size, STREAM_BLOCK_BYTES):
            self.wfile.write(_payload_slice(offset, min(STREAM_BLOCK_BYTES, size - offset)))

    def _ep_chunked(self) -> None:
        """/chunked?size=N&pieces=K: payload(N) as K chunks of near-equal size (chunked
        decoding, streaming without a length). K is capped at N; N = 0 sends only the last
        chunk."""
        size = self._int_param("size", 0, 0, MAX_STREAM_BYTES)
        pieces = self._int_param("pieces", 1, 1, 1_000_000)
        pieces = min(pieces, size)  # a zero-length chunk would end the body early
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self._end_head()
        if self.command == "HEAD":
            return
        base, extra = divmod(size, pieces) if pieces else (0, 0)
        offset = 0
        for i in range(pieces):
            length = base + (1 if i < extra else 0)
            self.wfile.write(b"%x\r\n" % length)
            end = offset + length
            while offset < end:
                block = min(STREAM_BLOCK_BYTES, end - offset)
                self.wfile.write(_payload_slice(offset, block))
                offset += block
            self.wfile.write(b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def _ep_status(self, code_text: str) -> None:
        """/status/<code>: that status (200-599) with body b"status <code>" (status mapping,
        raise_for_status, bodiless 204/304). Informational codes are refused: sent as a final
        response they would leave the client waiting."""
        if not code_text.isdigit() or not 200 <= int(code_text) <= 599:
            raise _BadRequest(f"status must be 200-599, got {code_text!r}")
        code = int(code_text)
        self._respond(code, b"status %d" % code)

    def _ep_delay(self) -> None:
        """/delay?s=F: wait F seconds (at most MAX_DELAY_SECONDS), then 200 b"ok" (read
        timeouts, total deadlines, cancellation)."""
        seconds = min(self._float_param("s", 1.0), MAX_DELAY_SECONDS)
        if not self._sleep(seconds):
            self.close_connection = True
            return
        self._respond(200, b"ok")

    def _ep_slow_body(self) -> None:
        """/slow-body?chunks=N&interval=F: Content-Length N, then N bytes b"x" one write at a
        time, F seconds apart (read timeouts between body bytes, streaming progress). F is
        lowered so the N-1 pauses take at most MAX_DELAY_SECONDS."""
        chunks = self._int_param("chunks", 10, 0, MAX_SLOW_CHUNKS)
        interval = self._float_param("interval", 0.1)
        if chunks > 1:
            interval = min(interval, MAX_DELAY_SECONDS / (chunks - 1))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(chunks))
        self._end_head()
        if self.command == "HEAD":
            return
        for i in range(chunks):
            if i and not self._sleep(interval):
                self.close_connection = True  # stopping: the body stays short
                return
            self.wfile.write(b"x")

    def _ep_headers(self) -> None:
        """/headers?name=value&...: each query pair becomes a response header line, repeated
        keys as repeated lines (duplicate headers, Set-Cookie, header maps). Framing headers
        and values with CR, LF or NUL are refused (400). Content-Type defaults to text/plain
        unless given."""
        headers: list[tuple[str, str]] = []
        for name, value in self.query:
            if not _TOKEN_RE.match(name.encode("latin-1", "replace")):
                raise _BadRequest(f"bad header name {name!r}")
            if name.lower() in _FRAMING_HEADERS:
                raise _BadRequest(f"/headers does not set framing header {name!r}")
            if any(c in value for c in "\r\n\0"):
                raise _BadRequest(f"bad header value {value!r}")
            headers.append((name, value))
        has_ct = any(name.lower() == "content-type" for name, _ in headers)
        self._respond(200, b"ok", None if has_ct else "text/plain", headers)

    def _ep_content_type(self) -> None:
        """/content-type?ct=...&body=...&enc=...: the body param encoded with `enc` (default
        utf-8) under Content-Type `ct`; no Content-Type header when ct is absent (charset
        detection, .text, .json)."""
        ct = self._param("ct")
        text = self._param("body") or ""
        enc = self._param("enc") or "utf-8"
        if ct is not None and any(c in ct for c in "\r\n\0"):
            raise _BadRequest(f"bad content type {ct!r}")
        try:
            body = text.encode(enc)
        except LookupError:
            raise _BadRequest(f"unknown encoding {enc!r}") from None
        except UnicodeEncodeError:
            raise _BadRequest(f"body cannot be encoded as {enc!r}") from None
        self._respond(200, body, ct)

    def _ep_json(self) -> None:
        """/json: a fixed JSON document (Response.json())."""
        self._respond(200, b'{"hello": "world", "n": 1}', "application/json")

    def _ep_redirect(self) -> None:
        """/redirect?to=URL&code=302: a redirect (300-399) to URL (redirect policy, method
        rewriting, cross-origin header stripping)."""
        to = self._param("to")
        if not to or any(c in to for c in "\r\n\0"):
            raise _BadRequest("/redirect needs a to= URL without CR, LF or NUL")
        code = self._int_param("code", 302, 300, 399)
        self._respond(code, b"redirect", "text/plain", [("Location", to)])

    def _ep_close(self) -> None:
        """/close: no response at all; the connection is closed (FIN) once the request has
        been read (RemoteProtocolError for a server that hangs up)."""
        self.close_connection = True

    # -- quiet ---------------------------------------------------------------------------------

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence: tests read stderr, and access logs would bury real failures."""


class _Server(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer that counts connections and keeps errors instead of printing."""

    daemon_threads = True
    # Concurrency and pool-limit tests open many connections at once.
    request_queue_size = 128

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted = 0
        self.open_sockets: set[socket.socket] = set()
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        super().__init__((HOST, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn(), a reverse DNS lookup that has no
        # business in a loopback test run.
        socketserver.TCPServer.server_bind(self)
        self.server_name = HOST
        self.server_port = self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with self.lock:
            self.accepted += 1
            self.open_sockets.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self.lock:
                self.open_sockets.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            with self.lock:
                if len(self.errors) < MAX_KEPT_ERRORS:
                    self.errors.append(exc)


class TestServer:
    """A started `_Server` on 127.0.0.1:<ephemeral port>, served from a daemon thread.

    Use as ``with TestServer() as srv:`` or start()/stop(). `connections_accepted` only
    grows (compare before/after on a shared server); `connections_open` counts connections
    the server has not closed yet, which lags the client's close by a moment: use
    `wait_connections_open()`.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> TestServer:
        if self._server is not None:
            raise RuntimeError("TestServer already started")
        server = _Server()
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
            name=f"httpr-test-server:{server.server_port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop accepting, wake sleeping endpoints and idle connections, close everything."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.stopping.set()
        server.shutdown()
        thread.join(STOP_JOIN_SECONDS)
        with server.lock:
            sockets = list(server.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler
        self.wait_connections_open(0, STOP_JOIN_SECONDS)
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> TestServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def _srv(self) -> _Server:
        if self._server is None:
            raise RuntimeError("TestServer is not started")
        return self._server

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return int(self._srv.server_port)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://{HOST}:{self.port}"

    @property
    def connections_accepted(self) -> int:
        with self._srv.lock:
            return self._srv.accepted

    @property
    def connections_open(self) -> int:
        with self._srv.lock:
            return len(self._srv.open_sockets)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised in handler threads (kept, never printed)."""
        with self._srv.lock:
            return list(self._srv.errors)

    def wait_connections_open(self, expected: int, timeout: float) -> bool:
        """Wait until `connections_open == expected`; False if `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.connections_open == expected:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)


def _split_header_lines(lines: list[bytes]) -> list[tuple[str, str]]:
    """(name, value) pairs as received, latin-1 decoded; obs-fold lines are joined with a
    space (RFC 9112 §5.2); the blank line ending the block is ignored."""
    pairs: list[tuple[str, str]] = []
    for raw in lines:
        line = raw.rstrip(b"\r\n").decode("latin-1")
        if not line:
            continue
        if line[0] in " \t" and pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value} {line.strip()}")
            continue
        name, _, value = line.partition(":")
        pairs.append((name, value.strip(" \t")))
    return pairs
