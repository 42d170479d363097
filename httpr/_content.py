"""Request bodies that are streamed rather than held in memory (api.md 4.3, design.md 4).

An iterator, an async iterable, a file object or a multipart body with files is fed to the
transfer's upload ring chunk by chunk: memory stays bounded, a known length goes out as
Content-Length and an unknown one chunked. Only seekable sources can be sent again (307/308
redirects); libcurl never resends any of them by itself.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ._exceptions import LocalProtocolError

__all__ = ["CHUNK_BYTES", "StreamedBody", "streamed_body"]

# One feed per libcurl upload buffer (64 KiB by default).
CHUNK_BYTES = 64 * 1024


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    raise TypeError(f"a request body iterator must yield bytes or str, not {type(chunk).__name__}")


class StreamedBody:
    """A body produced while the request is sent."""

    def __init__(
        self, source: Any, length: int | None, replayable: bool, start: int | None = None
    ) -> None:
        self.source = source
        self.length = length
        self.replayable = replayable
        self._start = start
        self._used = False

    def rewind(self) -> None:
        """Back to the start, for a 307/308 resend; only for replayable sources."""
        if hasattr(self.source, "rewind"):
            self.source.rewind()
        elif self._start is not None:
            self.source.seek(self._start)
        self._used = False

    def _mark_used(self) -> None:
        if self._used and not self.replayable:  # Defensive: the client checks replayable first
            raise LocalProtocolError("the request body iterator was already consumed")
        self._used = True

    def chunks(self) -> Iterator[bytes]:
        """The body for a sync send (a sync client cannot consume an async iterable)."""
        self._mark_used()
        src = self.source
        if hasattr(src, "iter_chunks"):  # MultipartBody
            yield from src.iter_chunks(CHUNK_BYTES)
        elif hasattr(src, "read"):
            while True:
                data = src.read(CHUNK_BYTES)
                if not data:
                    return
                yield _as_bytes(data)
        elif hasattr(src, "__aiter__") and not hasattr(src, "__iter__"):
            raise TypeError("an async iterable body needs AsyncClient")
        else:
            for chunk in src:
                data = _as_bytes(chunk)
                if data:
                    yield data

    async def achunks(self) -> AsyncIterator[bytes]:
        """The body for AsyncClient: async iterables awaited, blocking files read in a worker
        thread (api.md 3)."""
        self._mark_used()
        src = self.source
        if hasattr(src, "__aiter__"):
            async for chunk in src:
                data = _as_bytes(chunk)
                if data:
                    yield data
        elif hasattr(src, "read") and not hasattr(src, "iter_chunks"):
            while True:
                data = await asyncio.to_thread(src.read, CHUNK_BYTES)
                if not data:
                    return
                yield _as_bytes(data)
        else:
            for chunk in self._sync_iter():
                yield chunk

    def _sync_iter(self) -> Iterator[bytes]:
        src = self.source
        if hasattr(src, "iter_chunks"):
            yield from src.iter_chunks(CHUNK_BYTES)
        else:
            for chunk in src:
                data = _as_bytes(chunk)
                if data:
                    yield data


def _file_length(f: Any) -> tuple[int | None, int | None]:
    """(remaining length, start position) of a seekable file, else (None, None)."""
    try:
        if not f.seekable():
            return None, None
        start = f.tell()
        try:
            size = os.fstat(f.fileno()).st_size
        except (OSError, AttributeError, io.UnsupportedOperation):
            size = f.seek(0, io.SEEK_END)
            f.seek(start)
        return max(0, size - start), start
    except (OSError, AttributeError, ValueError):
        return None, None


def streamed_body(content: Any) -> StreamedBody:
    """A StreamedBody for ``content=`` given as a file object or an (async) iterable."""
    if hasattr(content, "read"):
        if isinstance(content, io.TextIOBase):
            raise TypeError("content= file objects must be opened in binary mode")
        length, start = _file_length(content)
        return StreamedBody(content, length, start is not None, start)
    return StreamedBody(content, None, False)
