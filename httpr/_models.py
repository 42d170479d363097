"""What a request and its response look like to users: header maps, ``Request``, ``Response``.

Nothing here does I/O. The transport builds responses with ``Response._from_transport`` from
what the C layer captured (one raw head, parsed by ``CaseInsensitiveHeaderMap._from_raw_head``,
and one body ``bytes``); the client then sets the hop's ``_url``, ``_request``, ``_history``
and ``_elapsed``. Users build responses only for ``MockTransport`` handlers and tests, through
the validating public constructor (api.md sections 6 and 8, amendment 4.2).
"""

from __future__ import annotations

import codecs
import datetime
import importlib
import json as _json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from ._exceptions import DecodingError, HTTPStatusError, RequestNotRead

if sys.version_info >= (3, 11):
    from typing import Self  # novm
else:  # pragma: no cover - only 3.11 is tested here (amendment 2.15)
    from typing_extensions import Self

__all__ = [
    "CaseInsensitiveHeaderMap",
    "HeaderTypes",
    "Request",
    "Response",
    "Timings",
    "reason_phrase",
]

# api.md section 6: the body prefix searched for `charset=` when the type allows sniffing.
# Twice the 1,024 bytes of WHATWG's <meta> prescan, for pages with a long <head> preamble.
SNIFF_BYTES = 2048
# Longest charset label read after a `charset=` found at the end of the sniffed prefix; every
# label Python's codecs know (and every WHATWG label) is shorter.
MAX_CHARSET_LABEL_BYTES = 40

# R14: header values never shown in a repr.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_MASK = "[secure]"

# RFC 9110 section 5.6.2:  token = 1*tchar
#   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
#           / "~" / DIGIT / ALPHA
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

HeaderTypes = Union["CaseInsensitiveHeaderMap", Mapping[str, str], Sequence[tuple[str, str]], None]
"""What ``headers=`` accepts: a map, any mapping, or ``(name, value)`` pairs (names may repeat)."""


# -- reason phrases --------------------------------------------------------------------------

# The IANA "HTTP Status Code Registry" (RFC 9110 section 15 and the RFCs it lists), as of
# 2024, without unassigned, "(Unused)" and temporary entries, except 418: RFC 9110 marks it
# unused but reserves it because of RFC 2324, and every client shows "I'm a teapot" (not
# Python's "I'm a Teapot"; api.md section 6). RFC 9110 renamed 413 and 422; the new names
# are used.
_REASON_PHRASES: dict[int, str] = {
    100: "Continue",
    101: "Switching Protocols",
    102: "Processing",
    103: "Early Hints",
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non-Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    417: "Expectation Failed",
    418: "I'm a teapot",
    421: "Misdirected Request",
    422: "Unprocessable Content",
    423: "Locked",
    424: "Failed Dependency",
    425: "Too Early",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates",
    507: "Insufficient Storage",
    508: "Loop Detected",
    510: "Not Extended",
    511: "Network Authentication Required",
}


def reason_phrase(code: int) -> str:
    """The registered reason phrase of a status code, ``""`` for an unregistered one.

    Never the server's text: HTTP/2 has none, and a server's phrase is free-form.

    >>> reason_phrase(404)
    'Not Found'
    >>> reason_phrase(599)
    ''
    """
    return _REASON_PHRASES.get(code, "")


# -- helpers -----------------------------------------------------------------------------------


def _mask_url(url: str) -> str:
    """``url`` with the password of any userinfo replaced by ``[secure]`` (R14).

    Plain string work rather than ``urllib.parse``: a repr must never raise, whatever the URL.

    >>> _mask_url("http://user:pw@host/x")
    'http://user:[secure]@host/x'
    """
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    start = scheme_end + 3
    end = len(url)
    for delimiter in "/?#":
        i = url.find(delimiter, start, end)
        if i >= 0:
            end = i
    at = url.rfind("@", start, end)
    if at < 0:
        return url
    colon = url.find(":", start, at)
    if colon < 0:
        return url
    return f"{url[: colon + 1]}{_MASK}{url[at:]}"


def _checked_field(name: object, value: object) -> tuple[str, str]:
    """Validates one header field (R1) and returns it with the value's OWS stripped."""
    if not isinstance(name, str):
        raise TypeError(f"Header names must be str, not {type(name).__name__} ({name!r})")
    if not _TOKEN_RE.fullmatch(name):
        raise ValueError(
            f"Invalid header name {name!r}: a header name must be an RFC 9110 token "
            "(letters, digits and !#$%&'*+-.^_`|~)"
        )
    if not isinstance(value, str):
        raise TypeError(f"The value of header {name!r} must be str, not {type(value).__name__}")
    # The value itself is left out of the message: it may be a credential (R14).
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(
            f"Invalid value for header {name!r}: header values must not contain CR, LF or NUL"
        )
    return name, value.strip(" \t")


def _validated_fields(data: object) -> list[tuple[str, str]]:
    """Every ``(name, value)`` of a user-given ``headers`` argument, validated, in order."""
    if data is None:
        return []
    if isinstance(data, CaseInsensitiveHeaderMap):
        return data._wire_items()
    if isinstance(data, (str, bytes, bytearray, memoryview)):
        raise TypeError(
            "headers must be a mapping or a sequence of (name, value) pairs, "
            f"not {type(data).__name__}"
        )
    if isinstance(data, Mapping):
        return [_checked_field(name, value) for name, value in data.items()]
    if not isinstance(data, Iterable):
        raise TypeError(
            "headers must be a mapping or a sequence of (name, value) pairs, "
            f"not {type(data).__name__}"
        )
    fields = []
    for item in data:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            # Type and length only: the item may hold a credential (R14).
            shape = f" of {len(item)} items" if isinstance(item, (tuple, list)) else ""
            raise TypeError(
                f"headers pairs must be (name, value) tuples, got a {type(item).__name__}{shape}"
            )
        fields.append(_checked_field(item[0], item[1]))
    return fields


def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # Latin-1 maps every byte, so obs-text (RFC 9110 section 5.5) never fails.
        return raw.decode("latin-1")


def _decode_lines(block: bytes) -> list[str]:
    """A response head split at LF, each line decoded as ``_decode_line`` does."""
    try:
        # A valid UTF-8 block splits into valid UTF-8 lines and values: CR, LF and ':' are
        # ASCII and never occur inside a multi-byte sequence.
        return block.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return [_decode_line(raw) for raw in block.split(b"\n")]


# The slots a lazily built map fills when it is first used (CaseInsensitiveHeaderMap._lazy,
# _lazy_pairs).
_PARSED_SLOTS = frozenset({"_items", "_spellings", "_index"})


# The spellings libcurl reports in a status line, and the names api.md section 6 fixes.
_HTTP_VERSIONS = {
    "HTTP/1.0": "HTTP/1.0",
    "HTTP/1.1": "HTTP/1.1",
    "HTTP/2": "HTTP/2",
    "HTTP/2.0": "HTTP/2",
}


def _parse_status_line(line: str) -> tuple[str, int]:
    """``(version, status)`` of a status line; a server sends the same few ones (cached)."""
    parsed = _STATUS_LINES.get(line)
    if parsed is None:
        parsed = _split_status_line(line)
        if len(_STATUS_LINES) >= _STATUS_LINES_MAX:
            _STATUS_LINES.clear()
        _STATUS_LINES[line] = parsed
    return parsed


_STATUS_LINES: dict[str, tuple[str, int]] = {}
_STATUS_LINES_MAX = 64


def _split_status_line(line: str) -> tuple[str, int]:
    parts = line.split(None, 2)
    code = parts[1] if len(parts) > 1 else ""
    if len(code) != 3 or not (code.isascii() and code.isdigit()):
        raise ValueError(f"Malformed status line {line!r}")
    return _HTTP_VERSIONS.get(parts[0], parts[0]), int(code)


# -- header maps -------------------------------------------------------------------------------


class CaseInsensitiveHeaderMap(Mapping[str, str]):
    """An immutable, ordered, case-insensitive map of header fields.

    Every field line is kept, in order, duplicates included; looking a name up joins its
    values with ``", "`` (RFC 9110 section 5.3). Names are lowercase in ``keys()``,
    ``items()`` and ``multi_items()``.

    >>> h = CaseInsensitiveHeaderMap([("Accept", "a"), ("accept", "b"), ("X-Id", "1")])
    >>> h["ACCEPT"], h.get_list("accept"), list(h)
    ('a, b', ['a', 'b'], ['accept', 'x-id'])
    >>> h.multi_items()
    [('accept', 'a'), ('accept', 'b'), ('x-id', '1')]

    ``data`` may be a mapping or a sequence of ``(name, value)`` pairs; names must be RFC 9110
    tokens and values ``str`` without CR, LF or NUL (``TypeError`` / ``ValueError``
    otherwise); values are stripped of surrounding spaces and tabs. The map is unhashable,
    like any mapping comparing by value.
    """

    __slots__ = ("_items", "_spellings", "_index", "_lazy", "_lazy_pairs")

    _items: list[tuple[str, str]]
    """Every field line in order: (lowercase name, value)."""
    _spellings: list[str]
    """The name of each line of ``_items`` as given (the wire spelling, amendment 4.6)."""
    _index: dict[str, list[str]]
    """Lowercase name -> its values in order; dict order is first appearance."""
    _lazy: tuple[str, bool]
    """Set only on a response's map until first use: its head as text, not yet split, and
    whether libcurl decoded the body (``_from_response_head``)."""
    _lazy_pairs: tuple[tuple[str, str], ...]
    """Set only on a map of trusted pairs until first use (``_from_trusted_pairs``)."""

    def __init__(self, data: HeaderTypes = None) -> None:
        self._set_fields(_validated_fields(data))

    def _set_fields(self, fields: Iterable[tuple[str, str]]) -> None:
        items: list[tuple[str, str]] = []
        spellings: list[str] = []
        index: dict[str, list[str]] = {}
        for name, value in fields:
            lname = name.lower()
            items.append((lname, value))
            spellings.append(name)
            values = index.get(lname)
            if values is None:
                index[lname] = [value]
            else:
                values.append(value)
        self._items = items
        self._spellings = spellings
        self._index = index

    @classmethod
    def _from_trusted_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Self:
        """A map of fields httpr built or already validated: no checks, values kept as is.

        The pairs are indexed on first use: the map of every request is built, and few are
        read (a request hook, an error's ``request``)."""
        self = cls.__new__(cls)
        self._lazy_pairs = tuple(pairs)
        return self

    @staticmethod
    def _from_parts(
        items: list[tuple[str, str]], spellings: list[str], index: dict[str, list[str]]
    ) -> CaseInsensitiveHeaderMap:
        """A map of already parsed lines (the three slots as given, not copied)."""
        headers = CaseInsensitiveHeaderMap.__new__(CaseInsensitiveHeaderMap)
        headers._items = items
        headers._spellings = spellings
        headers._index = index
        return headers

    if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute

        def __getattr__(self, name: str) -> Any:
            # Reached only while a slot is unset: a lazily built map is filled on first use.
            if name in _PARSED_SLOTS and self._fill_lazy():
                return object.__getattribute__(self, name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _fill_lazy(self) -> bool:
        """Fills the parsed slots of a map built by ``_from_response_head`` or
        ``_from_trusted_pairs``; False for any other map. The lazy source stays set: two
        threads reading a new map at once both fill it, with equal values."""
        try:
            text, decoded = object.__getattribute__(self, "_lazy")
        except AttributeError:
            pass
        else:
            _, parsed = CaseInsensitiveHeaderMap._response_fields(text.split("\n"), decoded)
            self._items, self._spellings = parsed._items, parsed._spellings
            self._index = parsed._index
            return True
        try:
            pairs = object.__getattribute__(self, "_lazy_pairs")
        except AttributeError:
            return False
        self._set_fields(pairs)
        return True

    @classmethod
    def _from_response_head(
        cls, block: bytes, *, decoded: bool
    ) -> tuple[int, CaseInsensitiveHeaderMap]:
        """The status and headers of a response head, the headers split on first use.

        Most callers of ``get()`` read the body and never a header, so only the status line
        is read now (a malformed one raises ``ValueError`` now, as ``_from_raw_head`` does);
        nothing in the field lines can fail. ``decoded``: libcurl decoded the body, so
        Content-Encoding and Content-Length, which describe the encoded bytes, are dropped
        when a Content-Encoding is present. A block of several heads (a 1xx, a proxy's
        ``CONNECT`` reply) is parsed at once: the last head wins.
        """
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            text = ""  # obs-text somewhere: parsed now, line by line
        if not text.startswith("HTTP/") or "\nHTTP/" in text:
            return cls._response_fields(_decode_lines(block), decoded)
        end = text.find("\n")
        first = text if end < 0 else text[:end]
        _, status = _parse_status_line(first[:-1] if first.endswith("\r") else first)
        headers = CaseInsensitiveHeaderMap.__new__(CaseInsensitiveHeaderMap)
        headers._lazy = (text, decoded)
        return status, headers

    @staticmethod
    def _response_fields(lines: list[str], decoded: bool) -> tuple[int, CaseInsensitiveHeaderMap]:
        _, status, headers = CaseInsensitiveHeaderMap._parse_lines(lines)
        if decoded and "content-encoding" in headers._index:
            headers = headers._without("content-encoding", "content-length")
        return status, headers

    def _may_contain(self, lname: str) -> bool:
        """False when the lowercase name ``lname`` is surely absent, without parsing a map
        that has not been used yet; True otherwise (then look it up)."""
        try:
            text, _ = object.__getattribute__(self, "_lazy")
        except AttributeError:
            return lname in self._index
        # str.lower works character by character, so a line whose name lowercases to lname
        # holds lname once the whole head is lowercased.
        return lname in text.lower()

    @classmethod
    def _from_raw_head(cls, block: bytes) -> tuple[str, int, CaseInsensitiveHeaderMap]:
        """Parses a response head as libcurl's header callback delivered it.

        ``block`` is a status line then header lines, each ending in CRLF (or a bare LF), and
        maybe the final blank line. Returns ``(http_version, status_code, headers)``, with
        ``http_version`` as ``"HTTP/1.0"``, ``"HTTP/1.1"`` or ``"HTTP/2"``; ``("", 0, map)``
        when the block holds no status line. A later status line starts a new head (a proxy's
        ``CONNECT`` reply, a 1xx), so the last head wins. Malformed status line → ValueError.

        libcurl has already checked the head's syntax, so this only splits it: one decode and
        one split for the whole block, no regex per line (it runs once per response).

        >>> CaseInsensitiveHeaderMap._from_raw_head(b"HTTP/1.1 200 OK\\r\\nA: 1\\r\\n\\r\\n")
        ('HTTP/1.1', 200, CaseInsensitiveHeaderMap({'a': '1'}))
        """
        return cls._parse_lines(_decode_lines(block))

    @staticmethod
    def _parse_lines(lines: list[str]) -> tuple[str, int, CaseInsensitiveHeaderMap]:
        """``_from_raw_head`` of a block already split at LF and decoded."""
        version = ""
        status = 0
        items: list[tuple[str, str]] = []
        spellings: list[str] = []
        index: dict[str, list[str]] = {}
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            if not line:
                continue
            first = line[0]
            if first == " " or first == "\t":
                # obs-fold (RFC 9112 section 5.2): the line continues the previous value.
                more = line.strip(" \t")
                if items and more:
                    lname, value = items[-1]
                    value = f"{value} {more}" if value else more
                    items[-1] = (lname, value)
                    index[lname][-1] = value
                continue
            if line.startswith("HTTP/"):
                # "/" is not a tchar, so this can only be a status line.
                version, status = _parse_status_line(line)
                items, spellings, index = [], [], {}
                continue
            name, colon, value = line.partition(":")
            name = name.strip(" \t")
            if not colon or not name:
                continue
            value = value.strip(" \t")
            lname = name.lower()
            items.append((lname, value))
            spellings.append(name)
            values = index.get(lname)
            if values is None:
                index[lname] = [value]
            else:
                values.append(value)
        return version, status, CaseInsensitiveHeaderMap._from_parts(items, spellings, index)

    def _wire_items(self) -> list[tuple[str, str]]:
        """Every field line in order, with names spelled as given (amendment 4.6)."""
        return [(spelling, item[1]) for spelling, item in zip(self._spellings, self._items)]

    def _without(self, *names: str) -> CaseInsensitiveHeaderMap:
        """A new map without the lines of ``names`` (e.g. Content-Encoding once decoded)."""
        drop = {name.lower() for name in names}
        kept = [
            (spelling, item)
            for spelling, item in zip(self._spellings, self._items)
            if item[0] not in drop
        ]
        # The maps are immutable, so the value lists of the names kept can be shared.
        return CaseInsensitiveHeaderMap._from_parts(
            [item for _, item in kept],
            [spelling for spelling, _ in kept],
            {lname: values for lname, values in self._index.items() if lname not in drop},
        )

    def __getitem__(self, key: str) -> str:
        """All values of ``key``, joined with ``", "``; ``KeyError(key)`` when missing."""
        values = self._index.get(key.lower()) if isinstance(key, str) else None
        if values is None:
            raise KeyError(key)
        return values[0] if len(values) == 1 else ", ".join(values)

    def get_list(self, key: str) -> list[str]:
        """Every value of ``key`` in order, ``[]`` when missing.

        The lossless way to read ``Set-Cookie``, whose values may contain commas:

        >>> CaseInsensitiveHeaderMap([("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]).get_list(
        ...     "set-cookie"
        ... )
        ['a=1', 'b=2']
        """
        if not isinstance(key, str):
            return []
        return list(self._index.get(key.lower(), ()))

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` field line in order, names lowercase, duplicates kept."""
        return list(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        """The distinct names, lowercase, in order of first appearance."""
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def _joined(self) -> dict[str, str]:
        return {name: ", ".join(values) for name, values in self._index.items()}

    def __eq__(self, other: object) -> bool:
        """Same names (case-insensitively) with the same joined values; order does not matter.

        >>> CaseInsensitiveHeaderMap({"Content-Type": "text/html"}) == {"content-type": "text/html"}
        True
        """
        if isinstance(other, CaseInsensitiveHeaderMap):
            return self._joined() == other._joined()
        if isinstance(other, Mapping):
            try:
                other_map = CaseInsensitiveHeaderMap(other)
            except (TypeError, ValueError):
                return False
            return self._joined() == other_map._joined()
        return NotImplemented

    # Defining __eq__ sets __hash__ to None; said here so nobody "fixes" it: a mapping that
    # compares by value cannot be hashed (and the request's map is mutable).
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = {
            name: _MASK if name in _SECRET_HEADERS else ", ".join(values)
            for name, values in self._index.items()
        }
        return f"CaseInsensitiveHeaderMap({shown!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Slots and no __init__-free path: rebuild through the trusted constructor, keeping
        # the wire spellings.
        return (type(self)._from_trusted_pairs, (self._wire_items(),))


class _RequestHeaderMap(CaseInsensitiveHeaderMap, MutableMapping[str, str]):
    """``Request.headers``: the same map, editable by request hooks (amendment 4.8).

    ``h[name] = value`` replaces every line of ``name`` by one line where the first was (or
    appends it); ``del h[name]`` removes them all; ``pop``, ``update``, ``setdefault`` and
    ``clear`` follow. Every change is validated like ``headers=`` (R1), so a bad value raises
    in the hook, before I/O. The name keeps the spelling of the last assignment.
    """

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        name, value = _checked_field(key, value)
        lname = name.lower()
        fields: list[tuple[str, str]] = []
        placed = False
        for spelling, (item_name, item_value) in zip(self._spellings, self._items):
            if item_name != lname:
                fields.append((spelling, item_value))
            elif not placed:
                fields.append((name, value))
                placed = True
        if not placed:
            fields.append((name, value))
        self._set_fields(fields)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        lname = key.lower()
        self._set_fields(
            [
                (spelling, item[1])
                for spelling, item in zip(self._spellings, self._items)
                if item[0] != lname
            ]
        )


# -- timings, request --------------------------------------------------------------------------


@dataclass(frozen=True)
class Timings:
    """Phase times of one hop, in seconds from the start of its transfer (libcurl's times).

    On a reused connection ``name_lookup``, ``connect`` and ``tls_handshake`` are ``0.0`` and
    ``new_connection`` is ``False``.

    >>> Timings(total=0.25).total
    0.25
    """

    name_lookup: float = 0.0
    connect: float = 0.0
    tls_handshake: float = 0.0
    pretransfer: float = 0.0
    first_byte: float = 0.0
    total: float = 0.0
    new_connection: bool = False

    @classmethod
    def _from_curl(cls, times_us: Sequence[int], num_connects: int) -> Timings:
        """The timings of libcurl's microsecond times (namelookup, connect, appconnect,
        pretransfer, starttransfer, total); ``num_connects == 0`` means a reused connection.

        Filled through ``__dict__``: the frozen ``__init__`` would make seven
        ``object.__setattr__`` calls, once per response."""
        self = object.__new__(cls)
        reused = num_connects == 0
        self.__dict__.update(
            name_lookup=0.0 if reused else times_us[0] / 1e6,
            connect=0.0 if reused else times_us[1] / 1e6,
            tls_handshake=0.0 if reused else times_us[2] / 1e6,
            pretransfer=times_us[3] / 1e6,
            first_byte=times_us[4] / 1e6,
            total=times_us[5] / 1e6,
            new_connection=not reused,
        )
        return self


class Request:
    """One hop's request as httpr sent it: method, URL, headers and body.

    Users do not build requests; they get them as ``Response.request``,
    ``RequestError.request`` and in event hooks, where a request hook may edit or replace
    ``headers`` (validated like ``headers=``). Everything else is read-only.

    ``Request(method, url, headers, content=b"", *, stream=False)`` is httpr's own
    constructor: ``url`` is the URL as sent (no userinfo) and ``headers`` the fields sent,
    defaults included. With ``stream=True`` the body is an iterator or a file: ``content``
    then raises ``RequestNotRead`` until a transport that reads it (``MockTransport``) sets
    ``_content``.

    >>> Request("post", "http://host/path", {"X-A": "1"}, b"hi")
    <Request('POST', 'http://host/path')>
    """

    def __init__(
        self,
        method: str,
        url: str,
        headers: HeaderTypes,
        content: bytes | bytearray | memoryview = b"",
        *,
        stream: bool = False,
    ) -> None:
        self._method = method.upper()
        self._url = url
        self._headers = _as_request_headers(headers)
        self._content: bytes | None = None if stream else bytes(content)
        """The body; ``None`` while a streamed body has not been read into memory."""

    @property
    def method(self) -> str:
        """The method, upper case."""
        return self._method

    @property
    def url(self) -> str:
        """The URL as sent: normalised, no userinfo, no fragment."""
        return self._url

    @property
    def headers(self) -> _RequestHeaderMap:
        """The header fields sent, defaults included; editable in request hooks.

        >>> def sign(request):
        ...     request.headers["X-Signature"] = "abc"
        """
        return self._headers

    @headers.setter
    def headers(self, value: HeaderTypes) -> None:
        self._headers = _as_request_headers(value)

    @property
    def content(self) -> bytes:
        """The body (``b""`` without one); ``RequestNotRead`` for a streamed body."""
        if self._content is None:
            raise RequestNotRead()
        return self._content

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self._method!r}, {_mask_url(self._url)!r})>"


def _as_request_headers(headers: HeaderTypes) -> _RequestHeaderMap:
    if type(headers) is _RequestHeaderMap:
        return headers
    if isinstance(headers, CaseInsensitiveHeaderMap):
        # Already validated (or trusted); copy so edits in a hook stay on this request.
        return _RequestHeaderMap._from_trusted_pairs(headers._wire_items())
    return _RequestHeaderMap(headers)


# -- response ----------------------------------------------------------------------------------

_CONTENT_TYPE_SPLIT_RE = re.compile(r"[;,]")
# api.md section 6, step 3: body sniffing is for markup only, or when the type is unknown.
_SNIFFED_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/xml", "application/xml"})
_SNIFF_RE = re.compile(rb"charset\s*=", re.IGNORECASE)
_SNIFF_LABEL_RE = re.compile(rb"[\s\"']*([A-Za-z0-9][A-Za-z0-9_.:+\-]*)")
# WHATWG "decode": a byte-order mark beats every label. UTF-32 is not listed (api.md); its LE
# mark starts like UTF-16 LE's and is decoded as that, as browsers do.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MDN_STATUS_URL = "https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/"


def _is_text_codec(label: str) -> bool:
    try:
        info = codecs.lookup(label)
    except LookupError:
        return False
    # base64, zlib, rot13... are codecs but not text encodings: bytes.decode() refuses them.
    return bool(getattr(info, "_is_text_encoding", True))


def _parse_content_type(headers: CaseInsensitiveHeaderMap) -> tuple[str | None, str | None]:
    """``(media type, charset label)`` of the Content-Type field; ``None`` for what is absent.

    Several Content-Type lines arrive joined with ", ", so both ";" and "," separate parts;
    neither can occur in a media type or a charset label.
    """
    content_type = headers.get("content-type")
    if content_type is None:
        return None, None
    parts = _CONTENT_TYPE_SPLIT_RE.split(content_type)
    media_type = parts[0].strip().lower()
    for param in parts[1:]:
        key, eq, value = param.partition("=")
        if eq and key.strip().lower() == "charset":
            label = value.strip().strip("\"'").strip().lower()
            if label:
                return media_type, label
    return media_type, None


def _encoding_from_headers(headers: CaseInsensitiveHeaderMap) -> str | None:
    """Steps 1 and 2 of api.md section 6's detection, shared with streams.

    Returns the label, ``"utf-8"`` for JSON or an unknown label, or ``None`` to go on.
    """
    media_type, label = _parse_content_type(headers)
    if label is not None:
        return label if _is_text_codec(label) else "utf-8"
    if media_type is not None and (
        media_type == "application/json" or media_type.endswith("+json")
    ):
        return "utf-8"
    return None


def _sniff_charset(body: bytes) -> str | None:
    """The label of the first ``charset=`` starting in the first ``SNIFF_BYTES`` of ``body``."""
    found = _SNIFF_RE.search(body, 0, SNIFF_BYTES)
    if found is None:
        return None
    label = _SNIFF_LABEL_RE.match(body[found.end() : found.end() + MAX_CHARSET_LABEL_BYTES])
    if label is None:
        return None
    return label.group(1).decode("ascii").lower()


def _html_to_text(html: str, *, width: int, plain: bool = False) -> str:
    """A thin wrapper over html2text (api.md 6; amendment 5.2: no need to match 0.7.8)."""
    try:
        html2text = importlib.import_module("html2text")
    except ImportError:
        raise ImportError(
            "Response.text_markdown/text_plain/text_rich need the html2text package: "
            "pip install 'httpr[html]'"
        ) from None
    converter = html2text.HTML2Text()
    converter.body_width = width
    if plain:
        converter.ignore_links = True
        converter.ignore_images = True
        converter.ignore_emphasis = True
    text = str(converter.handle(html))
    if plain:  # html2text keeps Markdown heading marks even then
        text = re.sub(r"(?m)^#{1,6} ", "", text)
    return text


class Response:
    """A response with its body read and decoded.

    Returned by the request methods. Also constructible, for ``MockTransport`` handlers and
    tests: ``status_code`` an ``int`` from 100 to 999, ``headers`` a mapping
    or pairs validated as request headers, ``content`` bytes-like or ``str`` (UTF-8), taken as
    the decoded body. Until a client returns it, ``http_version`` is ``"HTTP/1.1"``, ``url``
    ``""``, ``request`` ``None``, ``history`` ``[]``, and ``elapsed``/``timings`` zero.

    >>> r = Response(404, headers={"Content-Type": "text/plain"}, content="gone")
    >>> r, r.reason_phrase, r.text, r.is_client_error
    (<Response [404 Not Found]>, 'Not Found', 'gone', True)

    Everything is read-only except ``encoding``; a client that returns the response fills
    in its ``url``, ``request``, ``history`` and ``elapsed``.
    """

    _status_code: int
    _headers: CaseInsensitiveHeaderMap
    _content: bytes
    _http_version: str
    _url: str
    _request: Request | None
    _history: list[Response]
    _elapsed: datetime.timedelta
    _timings: Timings
    _explicit_encoding: str | None
    _detected_encoding: str | None
    _text_cache: tuple[str, str] | None

    def __init__(
        self,
        status_code: int,
        *,
        headers: HeaderTypes = None,
        content: bytes | bytearray | memoryview | str = b"",
    ) -> None:
        if isinstance(status_code, bool) or not isinstance(status_code, int):
            raise TypeError(f"status_code must be an int, not {type(status_code).__name__}")
        if not 100 <= status_code <= 999:
            raise ValueError(f"status_code must be from 100 to 999, got {status_code}")
        if isinstance(content, str):
            body = content.encode("utf-8")
        elif isinstance(content, (bytes, bytearray, memoryview)):
            body = bytes(content)
        else:
            raise TypeError(f"content must be bytes-like or str, not {type(content).__name__}")
        if type(headers) is CaseInsensitiveHeaderMap:
            header_map = headers  # immutable: safe to share
        else:
            header_map = CaseInsensitiveHeaderMap(headers)
        self._init(
            status_code=status_code,
            headers=header_map,
            content=body,
            http_version="HTTP/1.1",
            url="",
            request=None,
            elapsed=datetime.timedelta(0),
            timings=Timings(),
        )

    def _init(
        self,
        *,
        status_code: int,
        headers: CaseInsensitiveHeaderMap,
        content: bytes,
        http_version: str,
        url: str,
        request: Request | None,
        elapsed: datetime.timedelta,
        timings: Timings,
    ) -> None:
        self._status_code = status_code
        self._headers = headers
        self._content = content
        self._http_version = http_version
        self._url = url
        self._request = request
        self._history = []
        self._elapsed = elapsed
        self._timings = timings
        self._explicit_encoding = None
        self._detected_encoding = None
        self._text_cache = None

    @classmethod
    def _from_transport(
        cls,
        *,
        status_code: int,
        headers: CaseInsensitiveHeaderMap,
        content: bytes,
        http_version: str,
        url: str,
        request: Request | None,
        elapsed: datetime.timedelta,
        timings: Timings,
    ) -> Self:
        """A response from what the transport received; no validation (the values are ours)."""
        self = cls.__new__(cls)
        self._init(
            status_code=status_code,
            headers=headers,
            content=content,
            http_version=http_version,
            url=url,
            request=request,
            elapsed=elapsed,
            timings=timings,
        )
        return self

    # -- metadata --

    @property
    def status_code(self) -> int:
        """The final status code."""
        return self._status_code

    @property
    def reason_phrase(self) -> str:
        """httpr's registered phrase for the status (``"Not Found"``), ``""`` if unregistered."""
        return _REASON_PHRASES.get(self._status_code, "")

    @property
    def http_version(self) -> str:
        """``"HTTP/1.0"``, ``"HTTP/1.1"`` or ``"HTTP/2"``."""
        return self._http_version

    @property
    def url(self) -> str:
        """The final URL, after redirects, normalised, without userinfo."""
        return self._url

    @property
    def headers(self) -> CaseInsensitiveHeaderMap:
        """The response's header fields (the same object on every access)."""
        return self._headers

    @property
    def cookies(self) -> dict[str, str]:
        """Name → value of every ``Set-Cookie`` of this response; a new dict on each access.

        Only this hop's cookies, whether the jar accepted them or not; attributes (``Path``,
        ``Expires``...) are not shown. A later cookie of the same name wins.

        >>> Response(200, headers=[("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2")]).cookies
        {'a': '1', 'b': '2'}
        """
        cookies: dict[str, str] = {}
        for line in self._headers.get_list("set-cookie"):
            name, eq, value = line.split(";", 1)[0].partition("=")
            name = name.strip()
            if eq and name:
                cookies[name] = value.strip()
        return cookies

    @property
    def request(self) -> Request | None:
        """The request of this hop as sent; ``None`` for a response built by hand."""
        return self._request

    @property
    def history(self) -> list[Response]:
        """The responses of the redirects followed to reach this one, oldest first."""
        return self._history

    @property
    def elapsed(self) -> datetime.timedelta:
        """This hop's time from submitting the transfer to its last body byte."""
        return self._elapsed

    @property
    def timings(self) -> Timings:
        """This hop's phase times."""
        return self._timings

    # -- status predicates --

    @property
    def is_informational(self) -> bool:
        """1xx."""
        return 100 <= self._status_code < 200

    @property
    def is_success(self) -> bool:
        """2xx."""
        return 200 <= self._status_code < 300

    @property
    def is_redirect(self) -> bool:
        """3xx, with or without ``Location`` (see ``has_redirect_location``)."""
        return 300 <= self._status_code < 400

    @property
    def is_client_error(self) -> bool:
        """4xx."""
        return 400 <= self._status_code < 500

    @property
    def is_server_error(self) -> bool:
        """5xx."""
        return 500 <= self._status_code < 600

    @property
    def is_error(self) -> bool:
        """4xx or 5xx."""
        return 400 <= self._status_code < 600

    @property
    def has_redirect_location(self) -> bool:
        """A redirect httpr would follow: 301, 302, 303, 307 or 308 with ``Location``."""
        return self._status_code in _REDIRECT_STATUSES and "location" in self._headers

    def raise_for_status(self) -> Self:
        """Returns ``self`` for 2xx, else raises ``HTTPStatusError`` (message kept from 0.7.8).

        >>> Response(404).raise_for_status()
        Traceback (most recent call last):
        httpr.HTTPStatusError: Client error '404 Not Found' for url ''
        For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/404
        """
        code = self._status_code
        if 200 <= code < 300:
            return self
        if code < 200:
            kind = "Informational response"
        elif code < 400:
            kind = "Redirect response"
        elif code < 500:
            kind = "Client error"
        elif code < 600:
            kind = "Server error"
        else:
            kind = "Invalid status code"
        message = f"{kind} '{code} {self.reason_phrase}' for url '{_mask_url(self._url)}'"
        if self.has_redirect_location:
            message += f"\nRedirect location: '{_mask_url(self._headers['location'])}'"
        message += f"\nFor more information check: {_MDN_STATUS_URL}{code}"
        raise HTTPStatusError(message, request=self._request, response=self)

    # -- body --

    @property
    def content(self) -> bytes:
        """The body with content-codings removed; ``b""`` for HEAD, 204 and 304."""
        return self._content

    @property
    def encoding(self) -> str:
        """The text encoding of the body: set explicitly, else detected once.

        Detection, first match wins: 1) a ``charset`` parameter anywhere in ``Content-Type``;
        2) ``application/json`` or ``*/*+json`` → ``"utf-8"``; 3) for HTML, XHTML, XML or no
        ``Content-Type``, a ``charset=`` in the first 2,048 body bytes (``<meta charset=…>``);
        4) ``"utf-8"``. A label Python does not know counts as ``"utf-8"``. Setting a codec
        name overrides detection (unknown → ``LookupError``); ``None`` detects again.

        >>> Response(200, headers={"Content-Type": 'text/plain; charset="ISO-8859-1"'}).encoding
        'iso-8859-1'
        """
        if self._explicit_encoding is not None:
            return self._explicit_encoding
        if self._detected_encoding is None:
            self._detected_encoding = self._detect_encoding()
        return self._detected_encoding

    @encoding.setter
    def encoding(self, value: str | None) -> None:
        if value is not None:
            if not isinstance(value, str):
                raise TypeError(f"encoding must be a str or None, not {type(value).__name__}")
            if not _is_text_codec(value):
                codecs.lookup(value)  # raises the standard "unknown encoding" LookupError
                raise LookupError(f"{value!r} is not a text encoding")
        self._explicit_encoding = value
        self._detected_encoding = None

    def _detect_encoding(self) -> str:
        from_headers = _encoding_from_headers(self._headers)
        if from_headers is not None:
            return from_headers
        media_type, _ = _parse_content_type(self._headers)
        if media_type is None or media_type in _SNIFFED_TYPES:
            label = _sniff_charset(self._content)
            if label is not None:
                return label if _is_text_codec(label) else "utf-8"
        return "utf-8"

    @property
    def text(self) -> str:
        """``content`` decoded with ``encoding``; invalid bytes become U+FFFD.

        A UTF-8 or UTF-16 byte-order mark at the start decides the codec whatever the label
        (WHATWG "decode"), and is not part of the text. Reading ``text`` never changes
        ``encoding``.

        >>> Response(200, content=b"\\xef\\xbb\\xbfhi").text
        'hi'
        """
        encoding = self.encoding
        cached = self._text_cache
        if cached is not None and cached[0] == encoding:
            return cached[1]
        content = self._content
        for bom, bom_codec in _BOMS:
            if content.startswith(bom):
                text = content[len(bom) :].decode(bom_codec, "replace")
                break
        else:
            text = content.decode(encoding, "replace")
        self._text_cache = (encoding, text)
        return text

    def json(self, **kwargs: Any) -> Any:
        """The body parsed by ``json.loads(content, **kwargs)`` (key order, big ints kept).

        Malformed or empty → ``json.JSONDecodeError`` (a ``ValueError``). With
        ``Content-Type: application/cbor`` it returns ``cbor()`` instead, as 0.7.8 does.

        >>> Response(200, content=b'{"b": 1, "a": 2}').json()
        {'b': 1, 'a': 2}
        """
        media_type, _ = _parse_content_type(self._headers)
        if media_type == "application/cbor":
            return self.cbor()
        return _json.loads(self._content, **kwargs)

    def cbor(self) -> Any:
        """The body decoded as CBOR with ``cbor2`` (extra ``httpr[cbor]``).

        Without ``cbor2`` → ``ImportError`` naming the extra; malformed → ``DecodingError``.
        """
        try:
            cbor2 = importlib.import_module("cbor2")
        except ImportError:
            raise ImportError(
                "Response.cbor() needs the cbor2 package: pip install 'httpr[cbor]'"
            ) from None
        decode_errors = (ValueError, EOFError, getattr(cbor2, "CBORDecodeError", ValueError))
        try:
            return cbor2.loads(self._content)
        except decode_errors as exc:
            # cbor2's CBORDecodeError subclassed ValueError before 5.7 and does not since; a
            # truncated item may surface as EOF.
            raise DecodingError(
                f"Malformed CBOR body ({exc}){self._for_what()}", request=self._request
            ) from exc

    @property
    def text_markdown(self) -> str:
        """The HTML body as Markdown, lines up to 100 characters (extra ``httpr[html]``)."""
        return _html_to_text(self.text, width=100)

    @property
    def text_plain(self) -> str:
        """The HTML body as plain text: no links, images or emphasis markup."""
        return _html_to_text(self.text, width=0, plain=True)

    @property
    def text_rich(self) -> str:
        """The HTML body as Markdown-like rich text (unwrapped, links kept inline)."""
        return _html_to_text(self.text, width=0)

    def _for_what(self) -> str:
        """`` for METHOD URL`` (or `` for URL``) to end an error message, secrets masked."""
        if self._request is not None:
            return f" for {self._request.method} {_mask_url(self._request.url)}"
        return f" for {_mask_url(self._url)}" if self._url else ""

    def __repr__(self) -> str:
        phrase = self.reason_phrase
        status = f"{self._status_code} {phrase}" if phrase else str(self._status_code)
        return f"<{type(self).__name__} [{status}]>"
