"""One transfer on an engine: the options struct, start, the GIL-free wait, the result.

A request costs four cffi calls: start (setup + submit, strings passed as ``bytes``
arguments, which cffi hands over without copying), wait, result, free. The option struct is
built once per settings snapshot and shared read-only (``TransferOptions``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from . import ffi, lib
from .engine import Engine, check

__all__ = [
    "OPT_NULL",
    "OPT_UNSET",
    "Result",
    "Transfer",
    "TransferOptions",
    "WAIT_SLICE_MS",
    "run_transfer",
    "version_name",
]

# How long one wait blocks without the GIL before Python looks at signals again. Ctrl-C
# must land within 200 ms (issue 3); design.md section 1 allows slices up to 100 ms.
WAIT_SLICE_MS = 50

HTTP_DEFAULT: int = lib.HTTPR_HTTP_DEFAULT
HTTP_1_1: int = lib.HTTPR_HTTP_1_1
HTTP_2_ONLY: int = lib.HTTPR_HTTP_2_ONLY

F_BODY: int = lib.HTTPR_F_BODY
F_REPLAYABLE: int = lib.HTTPR_F_REPLAYABLE
F_HEAD: int = lib.HTTPR_F_HEAD
F_NOTIFY: int = lib.HTTPR_F_NOTIFY
F_STREAM: int = lib.HTTPR_F_STREAM
F_UPLOAD: int = lib.HTTPR_F_UPLOAD
F_CHUNKED: int = lib.HTTPR_F_CHUNKED
F_OWN_DECODE: int = lib.HTTPR_F_OWN_DECODE
EAGAIN: int = lib.HTTPR_EAGAIN
ECLOSED: int = lib.HTTPR_ECLOSED
EV_HEAD: int = lib.HTTPR_EV_HEAD
EV_DONE: int = lib.HTTPR_EV_DONE
# SEC-19 (Transfer.baseline): an option the record never set; a string option set to NULL.
OPT_UNSET: int = lib.HTTPR_OPT_UNSET
OPT_NULL: int = lib.HTTPR_OPT_NULL
_BASELINE_FIELDS = tuple(name for name, _ in ffi.typeof("httpr_baseline").fields)
# api.md 7: iter_bytes() yields chunks as they arrive, up to 64 KiB each.
STREAM_CHUNK_BYTES = 64 * 1024

_NONE = -1

# CURLINFO_HTTP_VERSION -> Response.http_version (api.md 6)
_VERSION_NAMES = {
    lib.CURL_HTTP_VERSION_1_0: "HTTP/1.0",
    lib.CURL_HTTP_VERSION_1_1: "HTTP/1.1",
    lib.CURL_HTTP_VERSION_2_0: "HTTP/2",
    lib.CURL_HTTP_VERSION_3: "HTTP/3",
}


def version_name(value: int) -> str:
    """The API's name of a CURLINFO_HTTP_VERSION value ("HTTP/1.1" when none was read)."""
    return _VERSION_NAMES.get(value, "HTTP/1.1")


def _ms(seconds: float | None) -> int:
    """Seconds -> whole milliseconds; a positive value below 1 ms counts as 1 ms (api.md 5)."""
    if seconds is None:
        return _NONE
    ms = int(seconds * 1000)
    return 1 if ms == 0 and seconds > 0 else ms


class TransferOptions:
    """A ``httpr_options`` struct and the C strings it points to, kept alive together."""

    __slots__ = ("ptr", "_keep", "connect", "read", "write", "pool", "total", "max_size")

    def __init__(
        self,
        *,
        http_version: int = HTTP_DEFAULT,
        verify: bool = True,
        ca_file: str | None = None,
        proxy: str = "",
        noproxy: str = "",
        accept_encoding: str | None = "",
        proxy_userpwd: str | None = None,
        proxy_headers: bytes = b"",
        client_pem: str | None = None,
        client_pem_data: bytes | None = None,
        connect: float | None = None,
        read: float | None = None,
        write: float | None = None,
        pool: float | None = None,
        total: float | None = None,
        max_response_size: int | None = None,
        keepalive_expiry: float | None = None,
    ) -> None:
        self._keep: list[Any] = []
        opts: Any = ffi.new("httpr_options *")
        opts.http_version = http_version
        opts.verify = 1 if verify else 0
        opts.ca_file = self._cstr(ca_file)
        opts.proxy = self._cstr(proxy)
        opts.noproxy = self._cstr(noproxy)
        opts.accept_encoding = self._cstr(accept_encoding)
        opts.proxy_userpwd = self._cstr(proxy_userpwd)
        opts.proxy_headers = self._cbytes(proxy_headers) if proxy_headers else ffi.NULL
        opts.proxy_headers_len = len(proxy_headers)
        opts.client_pem = self._cstr(client_pem)
        opts.client_pem_data = self._cbytes(client_pem_data) if client_pem_data else ffi.NULL
        opts.client_pem_len = len(client_pem_data or b"")
        opts.connect_timeout_ms = _ms(connect)
        opts.read_timeout_ms = _ms(read)
        opts.write_timeout_ms = _ms(write)
        opts.pool_timeout_ms = _ms(pool)
        opts.total_timeout_ms = _ms(total)
        opts.max_response_size = _NONE if max_response_size is None else max_response_size
        opts.maxage_conn_s = _NONE if keepalive_expiry is None else int(keepalive_expiry)
        self.ptr = opts
        # The limits, for the messages of the errors they cause.
        self.connect, self.read, self.write = connect, read, write
        self.pool, self.total, self.max_size = pool, total, max_response_size

    def limit_for(self, reason: int) -> float | None:
        """The limit (seconds) behind an engine reason, for the error message."""
        return {
            lib.HTTPR_REASON_POOL: self.pool,
            lib.HTTPR_REASON_CONNECT: self.connect,
            lib.HTTPR_REASON_READ: self.read,
            lib.HTTPR_REASON_WRITE: self.write,
            lib.HTTPR_REASON_TOTAL: self.total,
        }.get(reason, self.connect)

    def _cbytes(self, value: bytes) -> Any:
        buf = ffi.new("char[]", value)
        self._keep.append(buf)
        return buf

    def _cstr(self, value: str | None) -> Any:
        if value is None:
            return ffi.NULL
        buf = ffi.new("char[]", value.encode("utf-8"))
        self._keep.append(buf)
        return buf


@dataclass
class Result:
    """What a finished transfer produced, copied out of the C record."""

    curlcode: int
    reason: int
    status: int
    http_version: int
    num_connects: int
    connect_code: int
    request_sent: bool
    head_done: bool
    times_us: tuple[int, int, int, int, int, int]
    """namelookup, connect, appconnect, pretransfer, starttransfer, total (libcurl's)."""
    elapsed_us: int
    head: bytes
    body: bytes
    error: str


class StreamCursor:
    """A stream reader's place in the ring: the out-parameters of ``httpr_stream_next``,
    made once per stream, and the bytes of the last chunk still to release."""

    __slots__ = ("consumed", "count", "data")

    def __init__(self) -> None:
        self.data: Any = ffi.new("const char **")
        self.count: Any = ffi.new("size_t *")
        self.consumed = 0


def _request_args(
    engine: Engine,
    options: TransferOptions,
    method: bytes,
    url: bytes,
    headers: bytes,
    body: bytes,
    declared_len: int | None,
) -> tuple[Any, ...]:
    """The leading arguments httpr_xfer_start and httpr_xfer_run share (bytes go to C
    without a copy; ``declared_len`` is a fed upload's length)."""
    body_len = len(body) if declared_len is None else declared_len
    return (
        engine.ptr,
        options.ptr,
        method,
        url,
        headers,
        len(headers),
        body if body else ffi.NULL,
        body_len,
    )


class Transfer:
    """A submitted transfer; its owner must call ``free()`` (``ffi.gc`` is a safety net)."""

    __slots__ = ("_ptr", "engine", "id")

    def __init__(
        self,
        engine: Engine,
        options: TransferOptions,
        method: bytes,
        url: bytes,
        headers: bytes,
        body: bytes,
        flags: int,
        declared_len: int | None = None,
    ) -> None:
        out = ffi.new("httpr_xfer **")
        try:
            rc = lib.httpr_xfer_start(
                *_request_args(engine, options, method, url, headers, body, declared_len),
                flags,
                out,
            )
            check(rc, "starting the transfer")  # a failed start leaves out[0] NULL
            self._ptr: Any = ffi.gc(out[0], lib.httpr_xfer_free)
            out[0] = ffi.NULL  # ours now: a later exception frees it through ffi.gc
        except BaseException:
            _abandon(engine, out)
            raise
        self.engine = engine
        if flags & F_NOTIFY:
            tid: Any = ffi.new("uint64_t *")
            lib.httpr_xfer_id(self._ptr, tid)
            self.id = int(tid[0])
        else:
            self.id = 0  # sync waiters use the record's condition variable, not the id

    def wait(self, events: int = lib.HTTPR_EV_DONE) -> None:
        """Blocks until one of ``events`` (or DONE), without the GIL, in slices so signals land.

        Any exception while waiting (KeyboardInterrupt from Ctrl-C) cancels the transfer and
        propagates once the engine has let go of it.
        """
        ptr = self._ptr
        wait = lib.httpr_xfer_wait
        try:
            while wait(ptr, events, WAIT_SLICE_MS) != 0:
                pass
        except BaseException:
            self.cancel()
            raise

    @classmethod
    def _adopt(cls, engine: Engine, ptr: Any) -> Transfer:
        """A Transfer for a record httpr_xfer_run started (a sync one: no id)."""
        xfer = cls.__new__(cls)
        xfer._ptr = ffi.gc(ptr, lib.httpr_xfer_free)
        xfer.engine = engine
        xfer.id = 0
        return xfer

    def cancel(self) -> None:
        """Asks the engine to abort the transfer (idempotent); DONE follows promptly."""
        lib.httpr_engine_cancel(self.engine.ptr, self._ptr)

    def result_if_done(self) -> Result | None:
        """The outcome if the transfer has ended, else None (no wait)."""
        probe: Any = ffi.new("httpr_result *")
        if lib.httpr_xfer_result(self._ptr, probe) != 0:
            return None
        return self.result()

    def finish(self) -> Result:
        """``wait()`` for DONE and ``result()`` in one C call per wait slice (a sync request's
        blocking step: every cffi call hands the GIL over, which threads sharing a client
        pay for). Any exception while waiting cancels the transfer, as in ``wait()``."""
        ptr = self._ptr
        finish = lib.httpr_xfer_finish
        res: Any = ffi.new("httpr_result *")
        try:
            while (rc := finish(ptr, WAIT_SLICE_MS, res)) != 0:
                if rc != lib.HTTPR_ETIMEDOUT:
                    check(rc, "waiting for the transfer")
        except BaseException:
            self.cancel()
            raise
        return self._result_from(res)

    def result(self) -> Result:
        """The outcome; valid once ``wait()`` returned."""
        res: Any = ffi.new("httpr_result *")
        check(lib.httpr_xfer_result(self._ptr, res), "reading the result")
        return self._result_from(res)

    @staticmethod
    def _result_from(res: Any) -> Result:
        return Result(
            curlcode=res.curlcode,
            reason=res.reason,
            status=res.status,
            http_version=res.http_version,
            num_connects=res.num_connects,
            connect_code=res.connect_code,
            request_sent=bool(res.request_sent),
            head_done=bool(res.head_done),
            times_us=(
                res.t_namelookup_us,
                res.t_connect_us,
                res.t_appconnect_us,
                res.t_pretransfer_us,
                res.t_starttransfer_us,
                res.t_total_us,
            ),
            elapsed_us=res.elapsed_us,
            head=ffi.unpack(res.head, res.head_len),
            body=ffi.unpack(res.body, res.body_len),
            error=ffi.string(res.error).decode("utf-8", "replace"),
        )

    def head(self) -> bytes | None:
        """The final response head once it is complete (streams), else None."""
        out: Any = ffi.new("const char **")
        length: Any = ffi.new("size_t *")
        status: Any = ffi.new("long *")
        if lib.httpr_xfer_head(self._ptr, out, length, status) != 0:
            return None
        return bytes(ffi.unpack(out[0], length[0]))

    def read_chunk(self, cursor: StreamCursor, timeout_ms: int) -> tuple[int, bytes]:
        """``(status, data)`` from a stream's ring: data, or b"" at the end (status 0), or
        nothing yet (HTTPR_EAGAIN / HTTPR_ETIMEDOUT).

        One copy per chunk, straight from the ring into the bytes object: the C call first
        releases the previous chunk's bytes (``cursor.consumed``), then points at the next.
        """
        rc = lib.httpr_stream_next(
            self._ptr, cursor.consumed, cursor.data, STREAM_CHUNK_BYTES, cursor.count, timeout_ms
        )
        cursor.consumed = 0
        if rc != 0:
            return rc, b""
        n = cursor.count[0]
        data = ffi.unpack(cursor.data[0], n)
        cursor.consumed = n
        return 0, data

    def read_chunk_blocking(self, cursor: StreamCursor) -> bytes:
        """The next chunk, b"" at the end; waits without the GIL in signal-friendly slices."""
        try:
            while True:
                rc, data = self.read_chunk(cursor, WAIT_SLICE_MS)
                if rc == 0:
                    return data
                if rc != lib.HTTPR_ETIMEDOUT:
                    check(rc, "reading the stream")
        except BaseException:
            self.cancel()
            raise

    def feed(self, data: bytes, eof: bool, timeout_ms: int) -> tuple[int, int]:
        """``(status, accepted)``: puts what fits of ``data`` into the upload ring."""
        taken: Any = ffi.new("size_t *")
        rc = lib.httpr_xfer_feed(self._ptr, data, len(data), 1 if eof else 0, taken, timeout_ms)
        return rc, int(taken[0])

    def feed_blocking(self, data: bytes, eof: bool) -> bool:
        """Feeds all of ``data`` (waiting without the GIL in slices); False when the transfer
        already ended, e.g. the server answered before reading the whole body."""
        try:
            while True:
                rc, taken = self.feed(data, eof, WAIT_SLICE_MS)
                if rc == ECLOSED:
                    return False
                if rc not in (0, lib.HTTPR_ETIMEDOUT):
                    check(rc, "feeding the request body")
                data = data[taken:]
                if not data and (rc == 0):
                    return True
        except BaseException:
            self.cancel()
            raise

    def baseline(self) -> dict[str, int | str]:
        """SEC-19: the copy the C record kept of each security-relevant option it applied to
        this transfer's easy handle (security.md section 2), field by field.

        Longs as applied; string options as their length (``OPT_NULL``: set to NULL);
        callbacks and lists as 1/0; ``OPT_UNSET`` for an option this transfer never set;
        ``protocols``/``redir_protocols`` as text; ``uses``: transfers the record served.
        A debugging and test aid: it reads the record, never the network.
        """
        raw: Any = ffi.new("httpr_baseline *")
        check(lib.httpr_xfer_baseline(self._ptr, raw), "reading the option baseline")
        out: dict[str, int | str] = {}
        for name in _BASELINE_FIELDS:
            value = getattr(raw, name)
            out[name] = (
                ffi.string(value).decode("ascii", "replace")
                if name.endswith("protocols")
                else int(value)
            )
        return out

    @staticmethod
    def stream_cursor() -> StreamCursor:
        return StreamCursor()

    def free(self) -> None:
        """Drops the caller's reference; the record returns to the engine's pool."""
        ptr, self._ptr = self._ptr, ffi.NULL
        if ptr != ffi.NULL:
            ffi.release(ptr)


def _abandon(engine: Engine, out: Any) -> None:
    """A signal's exception (Ctrl-C) raised as soon as a C call that made a record returned,
    before Python took the record: cancel the transfer and free our reference, so the
    engine still ends it (an inline one's cancel starts the engine thread). A record that
    ffi.gc already holds is freed by it; httpr_xfer_free cancels an unfinished inline one."""
    if out[0] != ffi.NULL:
        xfer = Transfer._adopt(engine, out[0])
        out[0] = ffi.NULL
        xfer.cancel()
        xfer.free()


# run_transfer's copy buffer, one per thread that makes requests: a response whose head and
# body fit is copied there by the C call that ran it, and its record freed in the same call.
# 128 KiB holds the bench's 5 and 50 KiB bodies (68 KB decoded) and costs 100 threads 12.5 MiB.
RUN_COPY_BYTES = 128 * 1024
_run_buffers = threading.local()


def run_transfer(
    engine: Engine,
    options: TransferOptions,
    method: bytes,
    url: bytes,
    headers: bytes,
    body: bytes,
    flags: int,
) -> Result | Transfer:
    """A sync request with a buffered body in as few cffi calls as it can (httpr_xfer_run).

    Every cffi call releases and retakes the GIL, a hand-over to a waiting thread when threads
    share a client. A request that ends within one wait slice and fits the thread's copy
    buffer costs this one call; otherwise the started ``Transfer`` comes back, for
    ``finish()`` and ``free()`` as usual.
    """
    try:
        copy = _run_buffers.copy
    except AttributeError:
        copy = _run_buffers.copy = ffi.from_buffer(bytearray(RUN_COPY_BYTES))
    res: Any = ffi.new("httpr_result *")
    out: Any = ffi.new("httpr_xfer **")
    try:
        rc = lib.httpr_xfer_run(
            *_request_args(engine, options, method, url, headers, body, None),
            flags,
            WAIT_SLICE_MS,
            copy,
            RUN_COPY_BYTES,
            res,
            out,
        )
    except BaseException:
        _abandon(engine, out)
        raise
    if out[0] == ffi.NULL:
        check(rc, "starting the transfer")
        return Transfer._result_from(res)  # copied into `copy`; the record is already freed
    xfer = Transfer._adopt(engine, out[0])
    if rc == lib.HTTPR_ETIMEDOUT:
        return xfer
    try:
        check(rc, "waiting for the transfer")
        return Transfer._result_from(res)
    finally:
        xfer.free()
