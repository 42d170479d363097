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

import os
import threading
from typing import Any

from . import ffi, lib

__all__ = ["Engine", "EngineError", "check", "fork_generation"]

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
