"""The real transport: one hop on the client's C engine (design.md sections 1-3, 8-10).

It turns a ``Request`` into the header lines libcurl takes (with libcurl's own defaults
suppressed where httpr decides), runs the transfer, and turns the C record's raw head and
body into a ``Response`` or the exception of the error table.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from .._content import StreamedBody
from .._curl import CURL
from .._curl.engine import AsyncDispatcher, Engine
from .._curl.errors import Failure, exception_for, is_retryable
from .._curl.xfer import (
    EAGAIN,
    ECLOSED,
    EV_HEAD,
    F_BODY,
    F_CHUNKED,
    F_HEAD,
    F_NOTIFY,
    F_OWN_DECODE,
    F_REPLAYABLE,
    F_STREAM,
    F_UPLOAD,
    HTTP_1_1,
    HTTP_2_ONLY,
    HTTP_DEFAULT,
    Result,
    Transfer,
    TransferOptions,
    run_transfer,
    version_name,
)
from .._exceptions import ClientClosed, LocalProtocolError, RemoteProtocolError, RequestError
from .._models import CaseInsensitiveHeaderMap, Request, Response, Timings
from .base import BaseTransport, Hop

__all__ = ["CurlTransport"]


# Headers libcurl adds by itself unless the request names them; "Name:" removes one
# (CURLOPT_HTTPHEADER). httpr sends its own defaults (api.md 4.2), so a default the user
# removed must not come back from libcurl.
_LIBCURL_DEFAULTS = ("Accept", "Accept-Encoding")

# Buffered bodies without a size cap are decoded by httpr's own decoders (csrc/decode.c:
# libdeflate, about twice zlib's speed; sync ones on the caller's thread without the GIL,
# async ones on the engine thread) when the build has them; streams and capped clients keep
# libcurl's incremental decoders. A module switch, so the tests run both decoders.
OWN_DECODING = CURL.own_decoding

# A cache of option structs per Timeout: most clients use one or two.
_OPTIONS_CACHE_MAX = 16
# A cache of HTTPHEADER blocks per set of wire headers.
_HEADER_LINES_CACHE_MAX = 64


class CurlTransport(BaseTransport):
    """Runs each hop on one C engine, shared by every thread using the client."""

    def __init__(
        self,
        *,
        verify: bool = True,
        ca_file: str | None = None,
        http1_only: bool = False,
        http2_only: bool = False,
        max_response_size: int | None = None,
        max_connections: int | None = 100,
        max_connections_per_host: int | None = None,
        keepalive_expiry: float | None = 60.0,
        client_pem: str | None = None,
        client_pem_data: bytes | None = None,
    ) -> None:
        self._verify = verify
        self._ca_file = ca_file
        self._http_version = HTTP_1_1 if http1_only else HTTP_2_ONLY if http2_only else HTTP_DEFAULT
        self._max_response_size = max_response_size
        self._max_connections = max_connections
        self._max_host = max_connections_per_host
        self._keepalive = keepalive_expiry
        self._client_pem = client_pem
        self._client_pem_data = client_pem_data
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._users = 0
        self._closed = False
        self._options: dict[tuple[object, ...], TransferOptions] = {}
        self._lines: dict[tuple[tuple[tuple[str, str], ...], bool], bytes] = {}
        self._async: AsyncDispatcher | None = None

    # -- engine lifetime: the last user lets go (amendment 3.1) --

    def _acquire(self) -> Engine:
        with self._lock:
            if self._closed:
                raise ClientClosed("Cannot send a request, as the client has been closed.")
            engine = self._engine
            if engine is None or not engine.alive:
                # First request, or a forked child: a fresh engine (the old one is leaked
                # in the child by design, never cleaned up).
                engine = self._engine = Engine(self._max_connections, self._max_host)
                self._users = 0
            self._users += 1
            return engine

    def _release(self, engine: Engine) -> None:
        with self._lock:
            if engine is not self._engine:
                return
            self._users -= 1
            last = self._closed and self._users == 0
        if last:
            self._free_engine(engine)

    def _free_engine(self, engine: Engine) -> None:
        dispatcher = self._async
        if dispatcher is not None and dispatcher.engine is engine:
            dispatcher.detach()
        engine.release()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            engine = self._engine
            idle = self._users == 0
        if engine is not None:
            engine.close()
            if idle:
                self._free_engine(engine)

    def _options_for(self, hop: Hop) -> TransferOptions:
        timeout, proxy = hop.timeout, hop.proxy
        key = (timeout, proxy, hop.proxy_headers)
        opts = self._options.get(key)
        if opts is None:
            proxy_lines = "".join(f"{k}: {v}\0" for k, v in hop.proxy_headers).encode()
            opts = TransferOptions(
                http_version=self._http_version,
                verify=self._verify,
                ca_file=self._ca_file,
                proxy=proxy.url if proxy is not None else "",
                proxy_userpwd=proxy.userpwd if proxy is not None else None,
                proxy_headers=proxy_lines,
                client_pem=self._client_pem,
                client_pem_data=self._client_pem_data,
                accept_encoding="",
                connect=timeout.connect,
                read=timeout.read,
                write=timeout.write,
                pool=timeout.pool,
                total=timeout.total,
                max_response_size=self._max_response_size,
                keepalive_expiry=self._keepalive,
            )
            if len(self._options) >= _OPTIONS_CACHE_MAX:
                self._options.clear()
            self._options[key] = opts
        return opts

    def _header_lines(self, hop: Hop) -> bytes:
        """The hop's ``HTTPHEADER`` lines (``_build_header_lines``), from a small cache of
        this client's: it sends the same few header sets again and again. A header that
        changes on every request (a cookie, a signature) only costs a miss; the cache, which
        may hold credentials as the option structs do, goes with the client."""
        key = (hop.wire_headers, hop.send_body)
        lines = self._lines.get(key)
        if lines is None:
            lines = _build_header_lines(hop.wire_headers, hop.send_body)
            if len(self._lines) >= _HEADER_LINES_CACHE_MAX:
                self._lines.clear()
            self._lines[key] = lines
        return lines

    # -- one hop --

    @staticmethod
    def _flags(request: Request, hop: Hop, notify: bool, stream: bool) -> int:
        flags = F_NOTIFY if notify else 0
        if stream:
            flags |= F_STREAM
        elif OWN_DECODING:
            flags |= F_OWN_DECODE
        if request.method == "HEAD":
            flags |= F_HEAD
        elif hop.body_stream is not None:
            flags |= F_BODY | F_UPLOAD  # fed from the body source (design.md 4)
            if hop.body_stream.length is None:
                flags |= F_CHUNKED
        elif hop.send_body:
            flags |= F_BODY
            if hop.replayable:
                flags |= F_REPLAYABLE
        return flags

    def _transfer_args(
        self, engine: Engine, request: Request, hop: Hop
    ) -> tuple[Engine, TransferOptions, bytes, bytes, bytes, bytes]:
        """What Transfer() and run_transfer() take before the flags."""
        return (
            engine,
            self._options_for(hop),
            request.method.encode("ascii"),
            request.url.encode("ascii"),
            self._header_lines(hop),
            request.content if hop.send_body and hop.body_stream is None else b"",
        )

    def _start(
        self, engine: Engine, request: Request, hop: Hop, notify: bool, stream: bool = False
    ) -> Transfer:
        flags = self._flags(request, hop, notify, stream)
        declared: int | None = None
        if request.method != "HEAD" and hop.body_stream is not None:
            declared = hop.body_stream.length or 0  # None (chunked) -> 0
        return Transfer(*self._transfer_args(engine, request, hop), flags, declared_len=declared)

    def handle_request(self, request: Request, hop: Hop) -> Response:
        engine = self._acquire()
        try:
            if hop.body_stream is None:
                # One cffi call for the whole request when it ends within a wait slice.
                done = run_transfer(
                    *self._transfer_args(engine, request, hop),
                    self._flags(request, hop, notify=False, stream=False),
                )
                if isinstance(done, Result):
                    return self._response(request, hop, done)
                xfer = done
            else:
                xfer = self._start(engine, request, hop, notify=False)
            try:
                if hop.body_stream is not None:
                    _feed(xfer, request, hop.body_stream)
                res = xfer.finish()
            finally:
                xfer.free()
        finally:
            self._release(engine)
        return self._response(request, hop, res)

    async def handle_async_request(self, request: Request, hop: Hop) -> Response:
        """The same hop for ``AsyncClient``: the engine's eventfd wakes the event loop."""
        loop = asyncio.get_running_loop()
        engine = self._acquire()
        try:
            dispatcher = self._dispatcher(engine)
            dispatcher.attach(loop)
            xfer = self._start(engine, request, hop, notify=True)
            try:
                if hop.body_stream is not None:
                    await _afeed(xfer, dispatcher, request, hop.body_stream)
                    while xfer.result_if_done() is None:  # DONE may have woken the feed
                        await dispatcher.wait(xfer)
                else:
                    await dispatcher.wait(xfer)
                res = xfer.result()
            finally:
                xfer.free()
        finally:
            self._release(engine)
        return self._response(request, hop, res)

    def open_stream(self, request: Request, hop: Hop) -> tuple[Response, CurlStream]:
        """Starts a streamed hop and returns once its final head is in (api.md 7)."""
        engine = self._acquire()
        stream: CurlStream | None = None
        try:
            xfer = self._start(engine, request, hop, notify=False, stream=True)
            stream = CurlStream(self, engine, xfer, request, hop, None)
            if hop.body_stream is not None:
                _feed(xfer, request, hop.body_stream)
            xfer.wait(EV_HEAD)
            return stream.head_response(), stream
        except BaseException:
            if stream is not None:
                stream.close()
            else:
                self._release(engine)
            raise

    async def open_async_stream(self, request: Request, hop: Hop) -> tuple[Response, CurlStream]:
        """The same for AsyncClient: the engine's events wake the loop."""
        loop = asyncio.get_running_loop()
        engine = self._acquire()
        stream: CurlStream | None = None
        try:
            dispatcher = self._dispatcher(engine)
            dispatcher.attach(loop)
            xfer = self._start(engine, request, hop, notify=True, stream=True)
            stream = CurlStream(self, engine, xfer, request, hop, dispatcher)
            if hop.body_stream is not None:
                await _afeed(xfer, dispatcher, request, hop.body_stream)
            while xfer.head() is None and not stream.finished_now():
                await dispatcher.wait(xfer)
            return stream.head_response(), stream
        except BaseException:
            if stream is not None:
                stream.close()
            else:
                self._release(engine)
            raise

    def _dispatcher(self, engine: Engine) -> AsyncDispatcher:
        with self._lock:
            if self._async is None or self._async.engine is not engine:
                self._async = AsyncDispatcher(engine)
            return self._async

    def _response(self, request: Request, hop: Hop, res: Result) -> Response:
        """The response of a finished transfer, or the exception of the error table."""
        if res.curlcode != 0 or res.reason != 0:
            options = self._options_for(hop)
            failure = Failure(
                curlcode=res.curlcode,
                reason=res.reason,
                error=res.error,
                method=request.method,
                url=request.url,
                connected=res.times_us[1] > 0 or (res.request_sent and res.num_connects == 0),
                head_done=res.head_done,
                connect_code=res.connect_code,
                proxy=hop.proxy is not None,
                limit=options.limit_for(res.reason),
                max_response_size=options.max_size,
            )
            error = exception_for(failure)
            if isinstance(error, RequestError):
                error.request = request
            if not is_retryable(failure):
                error._httpr_no_retry = True  # type: ignore[attr-defined]  # api.md 13
            raise error

        # libcurl decoded the body (or failed with 61): the headers describe the content.
        status, headers = _parse_head(request, res.head)
        timings = Timings._from_curl(res.times_us, res.num_connects)
        return Response._from_transport(
            status_code=status or res.status,
            headers=headers,
            content=res.body,
            http_version=version_name(res.http_version),
            url=request.url,
            request=request,
            elapsed=timedelta(microseconds=res.elapsed_us),
            timings=timings,
        )


class CurlStream:
    """The body side of a streamed hop: chunks from the record's bounded ring.

    It holds one user of the engine until closed, so a stream outlives its client
    (api.md 7). Closing mid-body cancels the transfer: HTTP/1.1 closes the connection,
    HTTP/2 resets the stream.
    """

    def __init__(
        self,
        transport: CurlTransport,
        engine: Engine,
        xfer: Transfer,
        request: Request,
        hop: Hop,
        dispatcher: AsyncDispatcher | None,
    ) -> None:
        self._transport = transport
        self._engine: Engine | None = engine
        self._xfer: Transfer | None = xfer
        self._request = request
        self._hop = hop
        self._dispatcher = dispatcher
        self._cursor = Transfer.stream_cursor()
        self._result: Result | None = None

    def finished_now(self) -> bool:
        """Whether the transfer ended (e.g. failed before its head)."""
        xfer = self._xfer
        return xfer is not None and xfer.head() is None and xfer.result_if_done() is not None

    def head_response(self) -> Response:
        """The response of the head, or the transfer's error (raised)."""
        xfer = self._xfer
        assert xfer is not None
        head = xfer.head()
        if head is None:  # DONE before the head: the error of the table
            res = xfer.result()
            self.close()
            self._transport._response(self._request, self._hop, res)
            raise AssertionError("unreachable: a transfer without a head failed")  # Defensive
        try:
            status, headers = _parse_head(self._request, head)
        except BaseException:
            self.close()
            raise
        return Response._from_transport(
            status_code=status,
            headers=headers,
            content=b"",
            http_version=_head_version(head),
            url=self._request.url,
            request=self._request,
            elapsed=timedelta(0),
            timings=Timings(),
        )

    def read(self) -> bytes:
        """The next chunk (<= 64 KiB), b"" at the end; raises the transfer's error."""
        xfer = self._xfer
        if xfer is None:
            return b""
        data = xfer.read_chunk_blocking(self._cursor)
        if not data:
            self._end()
        return data

    async def aread(self) -> bytes:
        xfer = self._xfer
        if xfer is None:
            return b""
        dispatcher = self._dispatcher
        assert dispatcher is not None
        while True:
            rc, data = xfer.read_chunk(self._cursor, 0)
            if rc == 0:
                if not data:
                    self._end()
                return data
            await dispatcher.wait(xfer)  # DATA or DONE; cancelling it cancels the transfer

    def _end(self) -> None:
        """At the end of the body: the result, or its error (the stream is then closed)."""
        xfer = self._xfer
        assert xfer is not None
        res = xfer.result()
        self._result = res
        self.close()
        self._transport._response(self._request, self._hop, res)  # raises on failure

    @property
    def result(self) -> Result | None:
        return self._result

    def close(self) -> None:
        """Idempotent; mid-body it cancels the transfer on the engine."""
        xfer, self._xfer = self._xfer, None
        engine, self._engine = self._engine, None
        if xfer is not None:
            if xfer.result_if_done() is None:
                xfer.cancel()
            xfer.free()
        if engine is not None:
            self._transport._release(engine)


def _length_error(request: Request, body: StreamedBody, sent: int) -> LocalProtocolError:
    return LocalProtocolError(
        f"the request body gave {sent} bytes but Content-Length declares {body.length} "
        f"for {request.method} {request.url}",
        request=request,
    )


def _feed(xfer: Transfer, request: Request, body: StreamedBody) -> None:
    """Feeds a body source into the upload ring; a declared length must be met exactly."""
    sent = 0
    try:
        for chunk in body.chunks():
            sent += len(chunk)
            if body.length is not None and sent > body.length:
                raise _length_error(request, body, sent)
            if not xfer.feed_blocking(chunk, eof=False):
                return  # the transfer ended early (e.g. the server answered): its result says
        if body.length is not None and sent != body.length:
            raise _length_error(request, body, sent)
        xfer.feed_blocking(b"", eof=True)
    except BaseException:
        xfer.cancel()  # the source failed (its own exception) or broke the framing
        raise


async def _afeed(
    xfer: Transfer, dispatcher: AsyncDispatcher, request: Request, body: StreamedBody
) -> None:
    sent = 0
    try:
        async for chunk in body.achunks():
            sent += len(chunk)
            if body.length is not None and sent > body.length:
                raise _length_error(request, body, sent)
            if not await _afeed_chunk(xfer, dispatcher, chunk, eof=False):
                return
        if body.length is not None and sent != body.length:
            raise _length_error(request, body, sent)
        await _afeed_chunk(xfer, dispatcher, b"", eof=True)
    except BaseException:
        xfer.cancel()
        raise


async def _afeed_chunk(xfer: Transfer, dispatcher: AsyncDispatcher, data: bytes, eof: bool) -> bool:
    while True:
        rc, taken = xfer.feed(data, eof, 0)
        if rc == ECLOSED:
            return False
        if rc == 0:
            data = data[taken:]
            if not data:
                return True
            continue
        if rc != EAGAIN:  # Defensive: the C layer only answers 0, EAGAIN or ECLOSED here
            raise RuntimeError(f"httpr: feeding the request body failed ({rc})")
        await dispatcher.wait(xfer)  # SPACE, or DONE when the server answered early


def _parse_head(request: Request, head: bytes) -> tuple[int, CaseInsensitiveHeaderMap]:
    """Status and headers of a raw head whose body libcurl decodes (the headers lose
    Content-Encoding and Content-Length); a status line libcurl let through but httpr cannot
    read (``HTTP/1.1 200OK``) is the server's error (api.md 14), found by fuzzing."""
    try:
        status, headers = CaseInsensitiveHeaderMap._from_response_head(head, decoded=True)
    except ValueError as e:
        raise RemoteProtocolError(
            f"malformed response status line ({e}) for {request.method} {request.url}",
            request=request,
        ) from None
    return status, headers


def _head_version(head: bytes) -> str:
    if head.startswith(b"HTTP/2"):
        return "HTTP/2"
    if head.startswith(b"HTTP/1.0"):
        return "HTTP/1.0"
    return "HTTP/1.1"


def _build_header_lines(wire_headers: tuple[tuple[str, str], ...], send_body: bool) -> bytes:
    """The NUL-terminated ``HTTPHEADER`` lines of a hop (design.md section 8).

    - An empty value goes as ``Name;`` (libcurl drops ``Name:``, which means "remove").
    - libcurl's own ``Accept``/``Accept-Encoding`` are removed when the request has none.
    - A body gets an empty ``Expect:`` unless the user set one: libcurl would otherwise
      wait up to 1 s for a 100-continue on bodies over 1 MiB (measured: 1.005 s).
    - A body without ``Content-Type`` gets ``Content-Type:``: libcurl would add
      ``application/x-www-form-urlencoded`` to any POST.
    Values are validated (no CR/LF/NUL) before they get here (R1), so NUL separates lines.
    """
    parts: list[str] = []
    seen: set[str] = set()
    for name, value in wire_headers:
        seen.add(name.lower())
        parts.append(f"{name}: {value}\0" if value else f"{name};\0")
    for name in _LIBCURL_DEFAULTS:
        if name.lower() not in seen:
            parts.append(f"{name}:\0")
    if send_body:
        if "expect" not in seen:
            parts.append("Expect:\0")
        if "content-type" not in seen:
            parts.append("Content-Type:\0")
    # Names are tokens (ASCII); values go out as UTF-8, as httpx sends non-ASCII str values.
    return "".join(parts).encode("utf-8") if parts else b""
