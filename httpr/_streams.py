"""Streaming responses (api.md 7): ``StreamingResponse`` and ``AsyncStreamingResponse``.

A module of their own (style.md puts them beside ``Response`` and ``AsyncClient``) because
both share one core: the stream position, the states, incremental text and line decoding.
Memory is bounded by the transfer's ring in C (design.md 4): a reader that does not read
pauses the transfer instead of buffering the body.
"""

from __future__ import annotations

import codecs
import datetime
import json as _json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

from ._exceptions import ResponseNotRead, StreamClosed, StreamConsumed
from ._models import Response, Timings, _encoding_from_headers

__all__ = ["AsyncStreamingResponse", "BodySource", "StreamingResponse"]


class BodySource(Protocol):
    """Where a stream's chunks come from: a transfer (the curl transport) or bytes (mock)."""

    def read(self) -> bytes: ...  # the next chunk, b"" at the end; raises transfer errors

    async def aread(self) -> bytes: ...

    def close(self) -> None: ...


class BytesSource:
    """A body already in memory, served as one chunk (MockTransport, api.md 2)."""

    def __init__(self, content: bytes) -> None:
        self._content: bytes | None = content

    def read(self) -> bytes:
        content, self._content = self._content, None
        return content or b""

    async def aread(self) -> bytes:
        return self.read()

    def close(self) -> None:
        self._content = None


class StreamingResponse(Response):
    """A response whose body is read on demand (``client.stream(...)``).

    >>> with client.stream("GET", url) as r:
    ...     for chunk in r.iter_bytes():
    ...         sink.write(chunk)

    It has the metadata of ``Response``; ``content``, ``text`` and ``json()`` work after
    ``read()``. States: open -> consumed -> closed, or open -> closed.
    """

    _source: BodySource | None
    _pending: bytes
    _consumed: bool
    _iterated: bool
    _closed: bool
    _on_close: Callable[[], None] | None

    @classmethod
    def _from_head(
        cls,
        head: Response,
        source: BodySource,
        on_close: Callable[[], None] | None = None,
    ) -> Any:
        self = cls.__new__(cls)
        self._init(
            status_code=head.status_code,
            headers=head.headers,
            content=b"",
            http_version=head.http_version,
            url=head.url,
            request=head.request,
            elapsed=head.elapsed,
            timings=head.timings,
        )
        self._content = None  # type: ignore[assignment]  # ResponseNotRead until read()
        self._source = source
        self._pending = b""
        self._consumed = False
        self._iterated = False
        self._closed = False
        self._on_close = on_close
        return self

    # -- states --

    @property
    def is_consumed(self) -> bool:
        """True once the body has been read to its end."""
        return self._consumed

    @property
    def is_closed(self) -> bool:
        """True after ``close()`` or leaving the ``with`` block."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StreamClosed()
        # Consumed by iteration, or read() took the body: iterating finds nothing to give.
        if self._consumed and (self._iterated or self._content is not None):
            raise StreamConsumed()

    def _chunk(self) -> bytes:
        """The next chunk from the pending bytes or the source; b"" at the end."""
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return self._read_source()

    def _read_source(self) -> bytes:
        source = self._source
        if source is None or self._consumed:
            return b""
        try:
            data = source.read()
        except BaseException:
            self.close()  # after an error the stream is closed (api.md 7)
            raise
        if not data:
            self._mark_consumed()
        return data

    async def _achunk(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return await self._aread_source()

    async def _aread_source(self) -> bytes:
        source = self._source
        if source is None or self._consumed:
            return b""
        try:
            data = await source.aread()
        except BaseException:
            self.close()
            raise
        if not data:
            self._mark_consumed()
        return data

    def _mark_consumed(self) -> None:
        self._consumed = True
        result = getattr(self._source, "result", None)
        if result is not None:  # final figures of the hop (api.md 6, 7)
            self._elapsed = datetime.timedelta(microseconds=result.elapsed_us)
            self._timings = Timings._from_curl(result.times_us, result.num_connects)

    # -- bytes --

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Decoded body chunks: as they arrive (<= 64 KiB) when ``chunk_size`` is None,
        else exactly ``chunk_size`` bytes except the last."""
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self._check_open()
        return self._iter_bytes(chunk_size)

    def _iter_bytes(self, chunk_size: int | None) -> Iterator[bytes]:
        # Bytes read but not yet returned stay in self._pending, so another reader (read(),
        # a new iterator) continues exactly where this one stopped (api.md 7).
        while True:
            if self._closed:  # on each advance; consumption ends the iteration instead
                raise StreamClosed()
            if chunk_size is None:
                data = self._chunk()
            else:
                while len(self._pending) < chunk_size:
                    more = self._read_source()
                    if not more:
                        break
                    self._pending += more
                data, self._pending = self._pending[:chunk_size], self._pending[chunk_size:]
            self._iterated = True
            if not data:
                return
            yield data

    def __iter__(self) -> Iterator[bytes]:
        """``iter_bytes()``: ``for chunk in r: ...``."""
        return self.iter_bytes()

    def read(self) -> bytes:
        """The rest of the body; after an earlier ``read()`` the same bytes again."""
        if self._closed:
            raise StreamClosed()
        if self._content is not None:
            return self._content
        if self._iterated and self._consumed:
            raise StreamConsumed()
        parts = []
        while True:
            data = self._chunk()
            if not data:
                break
            parts.append(data)
        self._content = b"".join(parts)
        return self._content

    # -- text --

    def _stream_encoding(self) -> str:
        """api.md 7: steps 1, 2 and 4 of the encoding detection (no body sniffing)."""
        if self._explicit_encoding is not None:
            return self._explicit_encoding
        return _encoding_from_headers(self._headers) or "utf-8"

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        """``iter_bytes`` decoded incrementally: a character split across chunks comes out
        whole; invalid bytes become U+FFFD."""
        chunks = self.iter_bytes(chunk_size)
        decoder = codecs.getincrementaldecoder(self._stream_encoding())(errors="replace")

        def generate() -> Iterator[str]:
            for chunk in chunks:
                text = decoder.decode(chunk)
                if text:
                    yield text
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail

        return generate()

    def iter_lines(self) -> Iterator[str]:
        """Lines of ``iter_text()``, each with its terminator; only "\\n" ends a line."""
        texts = self.iter_text()

        def generate() -> Iterator[str]:
            pending = ""
            for text in texts:
                pending += text
                while True:
                    end = pending.find("\n")
                    if end < 0:
                        break
                    yield pending[: end + 1]
                    pending = pending[end + 1 :]
            if pending:
                yield pending

        return generate()

    # -- content after read() --

    @property
    def content(self) -> bytes:
        """The bytes ``read()`` returned; before ``read()``, ``ResponseNotRead``."""
        if self._content is None:
            raise ResponseNotRead()
        return self._content

    @property
    def text(self) -> str:
        """``content`` decoded as ``Response.text`` does; before ``read()``,
        ``ResponseNotRead``."""
        if self._content is None:
            raise ResponseNotRead()
        return super().text

    def json(self, **kwargs: Any) -> Any:
        """``json.loads(content, **kwargs)``; before ``read()``, ``ResponseNotRead``.

        >>> with client.stream("GET", url) as r:
        ...     r.read()
        ...     doc = r.json()
        """
        if self._content is None:
            raise ResponseNotRead()
        return _json.loads(self._content, **kwargs)

    # -- closing --

    def close(self) -> None:
        """Closes the stream; idempotent. Mid-body it aborts the transfer (HTTP/1.1: the
        connection is discarded; HTTP/2: the stream is reset, the connection kept); after
        the body the connection goes back to the pool."""
        if self._closed:
            return
        self._closed = True
        source, self._source = self._source, None
        if source is not None:
            source.close()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def __enter__(self) -> StreamingResponse:
        """Returns the response itself."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Calls ``close()``, also when the block raised."""
        self.close()


class AsyncStreamingResponse(StreamingResponse):
    """``StreamingResponse`` for ``AsyncClient``: the ``a…`` twins await chunks without
    blocking the loop; the blocking forms also work (as in 0.7.8) but block it."""

    def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Async ``iter_bytes()``: decoded chunks as they arrive (<= 64 KiB) when
        ``chunk_size`` is None, else exactly ``chunk_size`` bytes except the last.

        >>> async with client.stream("GET", url) as r:
        ...     async for chunk in r.aiter_bytes():
        ...         sink.write(chunk)
        """
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self._check_open()
        return self._aiter_bytes(chunk_size)

    async def _aiter_bytes(self, chunk_size: int | None) -> AsyncIterator[bytes]:
        while True:
            if self._closed:
                raise StreamClosed()
            if chunk_size is None:
                data = await self._achunk()
            else:
                while len(self._pending) < chunk_size:
                    more = await self._aread_source()
                    if not more:
                        break
                    self._pending += more
                data, self._pending = self._pending[:chunk_size], self._pending[chunk_size:]
            self._iterated = True
            if not data:
                return
            yield data

    def __aiter__(self) -> AsyncIterator[bytes]:
        """``aiter_bytes()``: ``async for chunk in r: ...``."""
        return self.aiter_bytes()

    async def aiter_text(self, chunk_size: int | None = None) -> AsyncIterator[str]:
        """Async ``iter_text()``: chunks decoded incrementally with the stream's encoding."""
        decoder = codecs.getincrementaldecoder(self._stream_encoding())(errors="replace")
        async for chunk in self.aiter_bytes(chunk_size):
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    async def aiter_lines(self) -> AsyncIterator[str]:
        """Async ``iter_lines()``: each line with its terminator; only "\\n" ends a line."""
        pending = ""
        async for text in self.aiter_text():
            pending += text
            while True:
                end = pending.find("\n")
                if end < 0:
                    break
                yield pending[: end + 1]
                pending = pending[end + 1 :]
        if pending:
            yield pending

    async def aread(self) -> bytes:
        """Async ``read()``: the rest of the body; after an earlier read, the same bytes."""
        if self._closed:
            raise StreamClosed()
        if self._content is not None:
            return self._content
        if self._iterated and self._consumed:
            raise StreamConsumed()
        parts = []
        while True:
            data = await self._achunk()
            if not data:
                break
            parts.append(data)
        self._content = b"".join(parts)
        return self._content

    async def aclose(self) -> None:
        """Async ``close()``: idempotent; mid-body it aborts the transfer."""
        self.close()
