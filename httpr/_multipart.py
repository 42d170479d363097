"""``multipart/form-data`` request bodies for ``files=`` and ``data=`` (api.md 4.3, 4.4).

Everything is checked when the body is built, before any I/O with the server: the shape of
``files``, every value's type, that each path exists and can be opened, part header values.
Contents are read only when the body is produced by ``iter_chunks``, a chunk at a time, so
a large file is streamed rather than held in memory. The size of every part is learnt at
construction (``os.fstat`` for paths, ``tell``/``seek`` for seekable file objects), which
gives the body a ``Content-Length`` whenever no part is a non-seekable stream.

Wire format: RFC 7578, with CRLF line endings; field names and filenames are escaped as the
WHATWG HTML standard's form encoding does (and httpx, browsers, curl's ``-F``).
"""

from __future__ import annotations

import errno
import io
import mimetypes
import os
import re
import stat
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any

from ._exceptions import LocalProtocolError, StreamConsumed, StreamError
from ._models import _TOKEN_RE, _checked_field

__all__ = ["DEFAULT_CHUNK_BYTES", "MultipartBody", "encode_multipart"]

# libcurl's default upload buffer (CURLOPT_UPLOAD_BUFFERSIZE, 64 KiB since 7.62): one chunk
# fills one libcurl read callback, and a streamed file holds at most this much in memory.
DEFAULT_CHUNK_BYTES = 64 * 1024
# 128 random bits, as httpx (os.urandom(16).hex()): a boundary that occurs in the content by
# chance is negligible, so the content is not scanned for it.
_BOUNDARY_RANDOM_BYTES = 16
# RFC 2046 section 5.1.1: a boundary is 1 to 70 characters.
_MAX_BOUNDARY_CHARS = 70
# RFC 2046 section 5.1.1, bcharsnospace := DIGIT / ALPHA / "'" / "(" / ")" / "+" / "_" / ","
# / "-" / "." / "/" / ":" / "=" / "?". The space bchars also allows (not last) is refused:
# servers differ on quoted boundaries, and no caller needs one.
_BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=?]+")

# WHATWG HTML, "multipart/form-data encoding algorithm": in field names and filenames, LF ->
# %0A, CR -> %0D and '"' -> %22 (what browsers and httpx send). NUL is escaped too (%00, as
# httpx does): RFC 9110 section 5.5 forbids it in a field value. '%' itself and '\' are left
# as they are, as browsers do; a receiver cannot tell an escape from a literal "%22".
_FORM_ESCAPES = {'"': "%22", "\r": "%0D", "\n": "%0A", "\0": "%00"}
_FORM_ESCAPE_RE = re.compile('["\r\n\0]')

# mimetypes reports a compression suffix as an encoding ("a.tar.gz" -> ("application/x-tar",
# "gzip")); httpx sends the inner type, which mislabels the bytes. The part's content is the
# compressed file, so it is labelled as such (RFC 6713 registers application/gzip).
_COMPRESSED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}
_OCTET_STREAM = "application/octet-stream"

_VALUE_FORMS = (
    "a path (str or os.PathLike), bytes, bytearray, memoryview, a binary file object or a "
    "(filename, content[, content_type[, headers]]) tuple"
)


def _escape(value: str) -> str:
    return _FORM_ESCAPE_RE.sub(lambda m: _FORM_ESCAPES[m.group(0)], value)


def _guess_type(filename: str) -> str:
    content_type, encoding = mimetypes.guess_type(filename)
    if encoding is not None:
        return _COMPRESSED_TYPES.get(encoding, _OCTET_STREAM)
    return content_type or _OCTET_STREAM


def _check_boundary(boundary: object) -> str:
    if not isinstance(boundary, str):
        raise TypeError(f"boundary must be a str, not {type(boundary).__name__}")
    if len(boundary) > _MAX_BOUNDARY_CHARS or not _BOUNDARY_RE.fullmatch(boundary):
        raise ValueError(
            f"Invalid multipart boundary {boundary!r}: RFC 2046 allows 1 to "
            f"{_MAX_BOUNDARY_CHARS} letters, digits and '()+_,-./:=?"
        )
    return boundary


class _Source:
    """Where a part's content comes from; ``size`` is ``None`` when it is not known."""

    size: int | None = None
    replayable = True

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        raise NotImplementedError  # Defensive: every source overrides it

    def rewind(self) -> None:
        """Puts a file object back at its start position (nothing to do for others)."""


class _BytesSource(_Source):
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        if len(self.data) <= chunk_size:
            if self.data:
                yield self.data
            return
        view = memoryview(self.data)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])


def _read_sized(f: Any, size: int | None, chunk_size: int, field: str) -> Iterator[bytes]:
    """Reads ``f`` in chunks: ``size`` bytes exactly, or to EOF when ``size`` is ``None``.

    A file that grew since it was measured is cut at ``size``: the body's ``Content-Length``
    was fixed then. One that shrank cannot fill it, which is ``LocalProtocolError``, as for
    an iterator body shorter than its declared length (api.md 4.2).
    """
    remaining = size
    while remaining is None or remaining > 0:
        want = chunk_size if remaining is None else min(chunk_size, remaining)
        data = f.read(want)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            if data is None:
                # A non-blocking raw file with nothing ready; there is no way to wait here.
                raise TypeError(
                    f"files: the file object for field {field!r} returned None from read() "
                    "(non-blocking mode is not supported)"
                )
            raise TypeError(
                f"files: the file object for field {field!r} must return bytes from read(), "
                f"not {type(data).__name__}; open it in binary mode ('rb')"
            )
        if not data:
            break
        chunk = bytes(data[:want]) if len(data) > want else bytes(data)
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk
    if remaining:
        raise LocalProtocolError(
            f"files: the file for field {field!r} ended {remaining} bytes short of the "
            f"{size} bytes it had when the request was built"
        )


class _PathSource(_Source):
    """A file named by a path: measured and checked now, opened again when sent."""

    def __init__(self, path: str | bytes, field: str) -> None:
        self.path = path
        self.field = field
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(
                errno.EISDIR,
                f"files: the path for field {field!r} is a directory",
                os.fsdecode(path),
            )
        if stat.S_ISREG(st.st_mode):
            # Opening proves it readable (permissions, locks) without reading any of it.
            with open(path, "rb", buffering=0) as f:
                self.size = os.fstat(f.fileno()).st_size
        else:
            # A FIFO or a device: opening could block until a writer appears, and what it
            # yields is neither sized nor repeatable.
            if not os.access(path, os.R_OK):
                raise PermissionError(
                    errno.EACCES,
                    f"files: the path for field {field!r} is not readable",
                    os.fsdecode(path),
                )
            self.size = None
            self.replayable = False

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        # Unbuffered: each read goes straight into the chunk, no second copy.
        with open(self.path, "rb", buffering=0) as f:
            yield from _read_sized(f, self.size, chunk_size, self.field)


class _FileSource(_Source):
    """A user's binary file object, read from the position it had when the body was built."""

    def __init__(self, f: Any, field: str) -> None:
        self.file = f
        self.field = field
        self.start: int | None = None
        if getattr(f, "closed", False) is True:
            raise ValueError(f"files: the file object for field {field!r} is closed")
        if isinstance(f, io.TextIOBase):
            raise TypeError(
                f"files: the file object for field {field!r} is in text mode; open it in "
                "binary mode ('rb')"
            )
        position = self._measure(f)
        if position is None:
            self.size = None
            self.replayable = False
        else:
            self.start, self.size = position

    @staticmethod
    def _measure(f: Any) -> tuple[int, int] | None:
        """(start, remaining size) of a seekable file, else ``None`` (a pipe, a socket)."""
        seekable = getattr(f, "seekable", None)
        try:
            if seekable is not None and not seekable():
                return None
            start = f.tell()
            f.seek(0, os.SEEK_END)
            end = f.tell()
            f.seek(start)
        except (AttributeError, OSError, ValueError):
            # io.UnsupportedOperation is both OSError and ValueError; objects with only
            # read() lack tell/seek.
            return None
        if not isinstance(start, int) or not isinstance(end, int):
            return None
        return start, max(end - start, 0)

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        # The start position, not the current one: the Content-Length was computed from it,
        # and a replay must send the same bytes.
        self.rewind()
        yield from _read_sized(self.file, self.size, chunk_size, self.field)

    def rewind(self) -> None:
        if self.start is not None:
            self.file.seek(self.start)


class _Part:
    __slots__ = ("head", "source")

    def __init__(self, head: bytes, source: _Source) -> None:
        self.head = head
        self.source = source


def _render_head(
    name: str,
    filename: str | None,
    content_type: str | None,
    extra: Sequence[tuple[str, str]] = (),
) -> bytes:
    disposition = f'form-data; name="{_escape(name)}"'
    if filename is not None:
        disposition += f'; filename="{_escape(filename)}"'
    lines = [f"Content-Disposition: {disposition}\r\n"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}\r\n")
    lines.extend(f"{key}: {value}\r\n" for key, value in extra)
    lines.append("\r\n")
    # UTF-8, as browsers send non-ASCII names and filenames (RFC 7578 section 4.2).
    return "".join(lines).encode("utf-8")


def _part_headers(field: str, value: object) -> list[tuple[str, str]]:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"files: the headers of field {field!r} must be a mapping, not {type(value).__name__}"
        )
    headers = [_checked_field(key, val) for key, val in value.items()]
    for key, _ in headers:
        if key.lower() == "content-disposition":
            # It carries the field name and filename, which come from files= itself.
            raise ValueError(
                f"files: the headers of field {field!r} must not set Content-Disposition"
            )
    return headers


def _file_part(field: str, value: object) -> _Part:
    """One ``files`` value as a part (api.md 4.4's table, row by row)."""
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        filename = os.path.basename(os.fsdecode(path))
        source: _Source = _PathSource(path, field)
        return _Part(_render_head(field, filename, _guess_type(filename)), source)
    if isinstance(value, (bytes, bytearray, memoryview)):
        # A snapshot: a bytearray changed after the call must not change the sent length.
        data = value if isinstance(value, bytes) else bytes(value)
        return _Part(_render_head(field, field, _OCTET_STREAM), _BytesSource(data))
    if isinstance(value, tuple):
        return _tuple_part(field, value)
    if callable(getattr(value, "read", None)):
        name = getattr(value, "name", None)
        filename = os.path.basename(name) if isinstance(name, str) else field
        source = _FileSource(value, field)
        return _Part(_render_head(field, filename, _guess_type(filename)), source)
    raise TypeError(
        f"files: the value of field {field!r} must be {_VALUE_FORMS}, not {_type(value)}"
    )


def _type(value: object) -> str:
    return type(value).__name__


def _tuple_part(field: str, value: tuple[Any, ...]) -> _Part:
    if not 2 <= len(value) <= 4:
        raise TypeError(
            f"files: the tuple for field {field!r} must be (filename, content[, content_type"
            f"[, headers]]), got {len(value)} items"
        )
    filename, content = value[0], value[1]
    content_type = value[2] if len(value) > 2 else None
    headers = value[3] if len(value) > 3 else None
    if filename is not None and not isinstance(filename, str):
        raise TypeError(
            f"files: the filename of field {field!r} must be a str or None, not {_type(filename)}"
        )
    extra = _part_headers(field, headers) if headers is not None else []
    if content_type is not None:
        content_type = _checked_field("Content-Type", content_type)[1]
    elif filename is not None:
        content_type = _guess_type(filename)
    # else: no filename and no type, no Content-Type line (RFC 7578 section 4.4: text/plain
    # is implied), as httpx does.
    for key, val in extra:
        if key.lower() == "content-type":
            # An explicit header wins over the tuple's third item, as in httpx.
            content_type = val
    extra = [(k, v) for k, v in extra if k.lower() != "content-type"]

    source: _Source
    if isinstance(content, (bytes, bytearray, memoryview)):
        source = _BytesSource(content if isinstance(content, bytes) else bytes(content))
    elif isinstance(content, str):
        source = _BytesSource(content.encode("utf-8"))
    elif callable(getattr(content, "read", None)):
        source = _FileSource(content, field)
    else:
        raise TypeError(
            f"files: the content of field {field!r} must be bytes, bytearray, memoryview, str "
            f"or a binary file object, not {_type(content)}"
        )
    return _Part(_render_head(field, filename, content_type, extra), source)


def _file_items(files: object) -> list[tuple[object, object]]:
    if files is None:
        return []
    if isinstance(files, (str, bytes, bytearray, memoryview)):
        raise TypeError(
            f"files must be a mapping or a sequence of (field, value) pairs, not {_type(files)}"
        )
    if isinstance(files, Mapping):
        return list(files.items())
    if not isinstance(files, Sequence):
        raise TypeError(
            f"files must be a mapping or a sequence of (field, value) pairs, not {_type(files)}"
        )
    items: list[tuple[object, object]] = []
    for item in files:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(
                f"files pairs must be (field, value) tuples, not {_type(item)}"
                + (f" of {len(item)} items" if isinstance(item, tuple) else "")
            )
        items.append((item[0], item[1]))
    return items


class MultipartBody:
    """A ``multipart/form-data`` body: the ``data`` fields, then the ``files``, in order.

    Built by ``encode_multipart``, which has validated everything; producing the body reads
    the files. ``content_length`` is ``None`` when a part is a non-seekable stream (the body
    is then sent chunked). A replayable body (bytes, paths and seekable files only) can be
    produced again, byte for byte, for a redirect or a retry.
    """

    __slots__ = ("_boundary", "_parts", "_content_length", "_replayable", "_started")

    def __init__(self, boundary: str, parts: list[_Part]) -> None:
        self._boundary = boundary
        self._parts = parts
        self._replayable = all(part.source.replayable for part in parts)
        self._started = False
        total = len(self._closing())
        for part in parts:
            if part.source.size is None:
                self._content_length: int | None = None
                break
            total += len(self._delimiter()) + len(part.head) + part.source.size + len(b"\r\n")
        else:
            self._content_length = total

    def _delimiter(self) -> bytes:
        return b"--" + self._boundary.encode("ascii") + b"\r\n"

    def _closing(self) -> bytes:
        return b"--" + self._boundary.encode("ascii") + b"--\r\n"

    @property
    def content_type(self) -> str:
        """The request's ``Content-Type``: ``multipart/form-data; boundary=...``."""
        if _TOKEN_RE.fullmatch(self._boundary):
            return f"multipart/form-data; boundary={self._boundary}"
        # RFC 9110 section 5.6.6: a parameter value other than a token is a quoted-string.
        return f'multipart/form-data; boundary="{self._boundary}"'

    @property
    def content_length(self) -> int | None:
        """The body's size in bytes, or ``None`` when some part's size is unknown."""
        return self._content_length

    @property
    def is_replayable(self) -> bool:
        """Whether the body can be produced again: every part is bytes, a path or seekable."""
        return self._replayable

    def rewind(self) -> None:
        """Seeks every file object back to the position it had when the body was built.

        ``iter_chunks`` starts each seekable file there anyway; this puts the user's files
        back after a send that stopped part way. A body that is not replayable raises
        ``StreamError``.
        """
        if not self._replayable:
            raise StreamError(
                "This multipart body cannot be rewound: a part is a non-seekable stream"
            )
        for part in self._parts:
            part.source.rewind()

    def iter_chunks(self, chunk_size: int = DEFAULT_CHUNK_BYTES) -> Generator[bytes, None, None]:
        """The body, produced lazily in chunks of at most ``chunk_size`` bytes.

        Small pieces (boundaries, headers, short fields) are joined up to ``chunk_size``, so
        the consumer is not called once per line. A non-replayable body can be produced
        once; a second time raises ``StreamConsumed``. Closing the generator early closes
        any file it opened from a path.
        """
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
            raise TypeError(f"chunk_size must be an int, not {_type(chunk_size)}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        return self._chunks(chunk_size)

    def _chunks(self, chunk_size: int) -> Generator[bytes, None, None]:
        if self._started and not self._replayable:
            raise StreamConsumed(
                "This multipart body was already produced once and a part is a non-seekable "
                "stream, so it cannot be produced again"
            )
        self._started = True
        buffer = bytearray()
        for piece in self._pieces(chunk_size):
            if buffer and len(buffer) + len(piece) > chunk_size:
                # Flushed short rather than split: file chunks then pass through whole,
                # without a copy into the buffer.
                yield bytes(buffer)
                buffer.clear()
            if buffer or len(piece) < chunk_size:
                buffer += piece
                if len(buffer) == chunk_size:
                    yield bytes(buffer)
                    buffer.clear()
                continue
            for start in range(0, len(piece), chunk_size):
                # Only a part head longer than a (tiny) chunk_size is ever split here.
                cut = piece[start : start + chunk_size]
                if len(cut) == chunk_size:
                    yield cut
                else:
                    buffer += cut
        if buffer:
            yield bytes(buffer)

    def _pieces(self, chunk_size: int) -> Iterator[bytes]:
        delimiter = self._delimiter()
        for part in self._parts:
            yield delimiter + part.head
            yield from part.source.chunks(chunk_size)
            yield b"\r\n"
        yield self._closing()

    def read_all(self) -> bytes:
        """The whole body at once; for bodies small enough to hold in memory."""
        return b"".join(self._chunks(DEFAULT_CHUNK_BYTES))


def encode_multipart(data: object, files: object, *, boundary: str | None = None) -> MultipartBody:
    """Builds the multipart body of ``data`` + ``files`` (api.md 4.3, 4.4), before any I/O.

    ``data`` follows ``params``' value rules (api.md 4.1) and becomes text parts first.
    Wrong shapes and types raise ``TypeError`` naming the field and the type; a path that
    is missing or unreadable raises its ``OSError``; bad part header values ``ValueError``.
    ``boundary`` is 32 random hex characters unless given.
    """
    # Imported here: _client builds request bodies from this module, and a module-level
    # import in both directions would fail on whichever is imported first.
    from ._client import encode_pairs

    if boundary is None:
        boundary = os.urandom(_BOUNDARY_RANDOM_BYTES).hex()
    boundary = _check_boundary(boundary)
    parts = [
        _Part(_render_head(key, None, None), _BytesSource(value.encode("utf-8")))
        for key, value in encode_pairs(data, "data")
    ]
    for field, value in _file_items(files):
        if not isinstance(field, str):
            raise TypeError(f"files: field names must be str, not {_type(field)}")
        parts.append(_file_part(field, value))
    return MultipartBody(boundary, parts)
