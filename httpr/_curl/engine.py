"""Engine lifecycle: one C engine (a pthread driving a CURLM) per client, and the fork hook.

The engine's thread starts at its first transfer, so building a client costs no thread.
``close()`` refuses new transfers at once; ``release()`` stops and joins the thread and is
called by the client when its last user (itself, a request in flight, an open stream) lets
go (amendment 3.1). ``ffi.gc`` only backs that up (style.md).

Fork (design.md section 7): a child must never clean up what it inherited. The C layer
checks the pid itself; here a generation counter bumped in the child tells each client that
its engine is dead, so its next request builds a fresh one.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from . import ffi, lib

__all__ = ["AsyncDispatcher", "Engine", "EngineError", "check", "fork_generation"]

_generation = 0


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def fork_generation() -> int:
    """Bumped in every forked child: an engine made in another generation is dead here."""
    return _generation


class EngineError(RuntimeError):
    """The C layer failed for a reason that is not the transfer's (memory, threads)."""


_STATUS_TEXT = {
    lib.HTTPR_ENOMEM: "out of memory",
    lib.HTTPR_EINVAL: "invalid argument",
    lib.HTTPR_ECLOSED: "engine closed",
    lib.HTTPR_ESYS: "system call failed",
}


def check(rc: int, what: str) -> None:
    """Raises for a non-zero status of a C call (style.md: never fail silently)."""
    if rc == 0:
        return
    if rc > 0:
        text = ffi.string(lib.curl_easy_strerror(rc)).decode("utf-8", "replace")
        raise EngineError(f"httpr: {what} failed: libcurl rejected an option: {text} ({rc})")
    raise EngineError(f"httpr: {what} failed: {_STATUS_TEXT.get(rc, 'status')} ({rc})")


class Engine:
    """A C engine and the connection pool it owns."""

    __slots__ = ("_ptr", "_generation", "_lock", "_released", "__weakref__")

    def __init__(self, max_connections: int | None, max_host_connections: int | None) -> None:
        out = ffi.new("httpr_engine **")
        check(
            lib.httpr_engine_new(max_connections or 0, max_host_connections or 0, out),
            "creating the engine",
        )
        self._ptr: Any = ffi.gc(out[0], lib.httpr_engine_free)
        self._generation = _generation
        self._lock = threading.Lock()
        self._released = False

    @property
    def ptr(self) -> Any:
        """The ``httpr_engine *`` for the transfer wrappers of this package."""
        return self._ptr

    @property
    def alive(self) -> bool:
        """False once released, or in a forked child."""
        return not self._released and self._generation == _generation

    def close(self) -> None:
        """Refuses new transfers; those in flight go on."""
        with self._lock:
            if not self._released:
                lib.httpr_engine_close(self._ptr)

    def release(self) -> None:
        """Cancels what is left, stops and joins the thread, frees the C engine.

        The C struct lives on until the last transfer record is freed. In a forked child
        this only drops the reference: the C side leaks what belongs to the parent.
        """
        with self._lock:
            if self._released:
                return
            self._released = True
            ptr, self._ptr = self._ptr, ffi.NULL
        ffi.release(ptr)  # runs httpr_engine_free now, once (a no-op in a forked child)


# Events drained per C call: one call empties the queue of a busy engine in a few batches.
_DRAIN_BATCH = 256


class AsyncDispatcher:
    """Wakes asyncio from the engine: its eventfd, drained in batches, resolves futures.

    ``loop.add_reader`` watches the engine's eventfd (written only when the completion
    queue goes from empty to non-empty); the reader drains up to ``_DRAIN_BATCH`` events per
    C call and resolves the future of each transfer by id (design.md section 1). A loop
    without ``add_reader`` (a proactor loop) gets one waiter thread that forwards readiness
    with ``call_soon_threadsafe``. No Python thread ever runs a transfer.

    All methods but the waiter thread's run on the event loop's thread.
    """

    __slots__ = (
        "engine",
        "_loop",
        "_futures",
        "_buf",
        "_count",
        "_fd",
        "_thread",
        "_posted",
        "_stop",
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._loop: asyncio.AbstractEventLoop | None = None
        self._futures: dict[int, asyncio.Future[None]] = {}
        self._buf: Any = ffi.new("httpr_event[]", _DRAIN_BATCH)
        self._count: Any = ffi.new("size_t *")
        fd: Any = ffi.new("int *")
        check(lib.httpr_engine_events_fd(engine.ptr, fd), "reading the engine's eventfd")
        self._fd = int(fd[0])
        self._thread: threading.Thread | None = None
        self._posted = threading.Event()
        self._stop = threading.Event()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Watches the eventfd from ``loop``; moving loops needs no transfer in flight."""
        if self._loop is loop:
            return
        if self._loop is not None:
            if self._futures:
                raise RuntimeError(
                    "This AsyncClient has requests in flight on another event loop; "
                    "a client may move to another loop only when it has none"
                )
            self.detach()
        try:
            loop.add_reader(self._fd, self._drain)
        except NotImplementedError:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._wait_in_thread, args=(loop,), name="httpr-events", daemon=True
            )
            self._thread.start()
        self._loop = loop

    def detach(self) -> None:
        """Stops watching; futures still pending are failed by their own cancellation."""
        loop, self._loop = self._loop, None
        thread, self._thread = self._thread, None
        if loop is None:
            return
        if thread is None:
            if not loop.is_closed():
                loop.remove_reader(self._fd)
        else:
            self._stop.set()
            self._posted.set()  # wakes the thread if it waits for a drain
            thread.join(1.0)

    async def wait(self, transfer: Any) -> None:
        """Awaits a transfer's DONE; cancelling the await cancels the transfer."""
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[None] = loop.create_future()
        tid = transfer.id
        self._futures[tid] = future
        try:
            await future
        except BaseException:
            self._futures.pop(tid, None)
            transfer.cancel()  # the engine removes it at once; its DONE is ignored
            raise

    def _drain(self) -> None:
        buf, count, futures = self._buf, self._count, self._futures
        drain = lib.httpr_engine_drain
        ptr = self.engine.ptr
        while True:
            drain(ptr, buf, _DRAIN_BATCH, count)
            n = count[0]
            for i in range(n):
                future = futures.pop(buf[i].id, None)
                if future is not None and not future.done():
                    future.set_result(None)
            if n < _DRAIN_BATCH:
                break
        self._posted.set()

    def _wait_in_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        import select

        while not self._stop.is_set():
            readable, _, _ = select.select([self._fd], [], [], 0.5)
            if not readable:
                continue
            self._posted.clear()
            try:
                loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed
                return
            self._posted.wait()  # the eventfd stays readable until the loop drains it
