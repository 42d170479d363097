"""Every exception httpr raises, in one hierarchy (api.md section 14).

```
Exception
  HTTPError                    any failure of a request
    RequestError               .request: the Request of the failing hop (None before one existed)
      TransportError
        NetworkError
          ConnectError  ReadError  WriteError  CloseError*
        TimeoutException
          ConnectTimeout  ReadTimeout  WriteTimeout  PoolTimeout
        ProtocolError
          LocalProtocolError  RemoteProtocolError
        UnsupportedProtocol
        ProxyError
      TooManyRedirects
      DecodingError
      ResponseTooLarge
    HTTPStatusError            .request, .response
    InvalidURL                 also a ValueError
  CookieConflict
  RuntimeError
    StreamError
      StreamConsumed  ResponseNotRead  RequestNotRead  StreamClosed
    ClientClosed
Warning > ResourceWarning > ClientReopenedWarning*

(* exported for compatibility with httpr 0.7.8, never raised)
```

``str(exc)`` is the message. Messages say what failed, the cause and ``METHOD URL`` with
userinfo removed and secrets masked (R14); building them is the raiser's job.

Every class pickles with its message and its ``request``/``response`` attributes (urllib3
does the same), so errors survive ``multiprocessing`` and ``concurrent.futures`` process
pools. The default ``BaseException.__reduce__`` would call ``cls(*args)`` and lose the
keyword-only attributes, or fail outright for ``HTTPStatusError`` whose keywords are required.

The libcurl error table that picks among these lives in ``httpr/_curl/errors.py``; the
``__module__ = "httpr"`` rewrite happens in ``httpr/__init__.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - import cycle: _models raises these exceptions
    from ._models import Request, Response

__all__ = [
    "ClientClosed",
    "ClientReopenedWarning",
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "CookieConflict",
    "DecodingError",
    "HTTPError",
    "HTTPStatusError",
    "InvalidURL",
    "LocalProtocolError",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "RequestError",
    "RequestNotRead",
    "ResponseNotRead",
    "ResponseTooLarge",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
]


def _rebuild(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    """Unpickles an exception without calling its ``__init__``.

    Bypassing ``__init__`` keeps unpickling independent of each class's signature (required
    keywords, defaults); ``BaseException.__setstate__`` then restores ``request``,
    ``response`` and anything else that was in ``__dict__``.
    """
    exc = cls.__new__(cls)
    exc.args = args
    return exc


def _reduce(self: BaseException) -> tuple[Any, ...]:
    return (_rebuild, (type(self), self.args), dict(self.__dict__))


class HTTPError(Exception):
    """Base class of every error of a request, raised or returned by httpr.

    >>> try:
    ...     client.get("http://127.0.0.1:1/")
    ... except httpr.HTTPError as exc:
    ...     print(f"request failed: {exc}")
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)

    __reduce__ = _reduce


class RequestError(HTTPError):
    """A request could not be completed (no usable response).

    ``request`` is the ``Request`` of the hop that failed, or ``None`` when the failure came
    before any ``Request`` existed. It is a plain attribute: the transport sets it when the
    lower layer raised without knowing the request.
    """

    def __init__(self, message: str, *, request: Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class TransportError(RequestError):
    """The transfer failed below HTTP semantics: network, timeout, protocol, proxy, scheme."""


class NetworkError(TransportError):
    """The connection failed while connecting, sending or receiving."""


class ConnectError(NetworkError):
    """No connection: DNS failure, refused, unreachable, or a TLS handshake failure."""


class ReadError(NetworkError):
    """The connection was reset or broke while receiving the response."""


class WriteError(NetworkError):
    """The connection was reset or broke while sending the request."""


class CloseError(NetworkError):
    """Closing a connection failed. Exported for compatibility with httpx; never raised."""


class TimeoutException(TransportError):
    """A timeout phase (``httpr.Timeout``) expired; the subclass names the phase."""


class ConnectTimeout(TimeoutException):
    """The connect phase (DNS, TCP, proxy, TLS handshake) expired."""


class ReadTimeout(TimeoutException):
    """Waiting for response bytes (or the ``total`` deadline) expired."""


class WriteTimeout(TimeoutException):
    """No request-body byte could be sent within the write timeout."""


class PoolTimeout(TimeoutException):
    """Waiting for a connection slot or a ``max_concurrency`` slot expired."""


class ProtocolError(TransportError):
    """One side broke HTTP's rules."""


class LocalProtocolError(ProtocolError):
    """httpr's own request broke HTTP's rules (an iterator body of the wrong length)."""


class RemoteProtocolError(ProtocolError):
    """The server's reply broke HTTP's rules: garbage, truncated head or body, bad framing."""


class UnsupportedProtocol(TransportError):
    """A scheme other than http/https, or plain http with ``https_only``, before I/O."""


class ProxyError(TransportError):
    """A proxy was in use and its connection or tunnel could not be established."""


class TooManyRedirects(RequestError):
    """More redirects than ``max_redirects`` (also a redirect loop)."""


class DecodingError(RequestError):
    """The body could not be decoded: bad content-coding, malformed CBOR."""


class ResponseTooLarge(RequestError):
    """The decoded body exceeded ``max_response_size``; the transfer was aborted."""


class HTTPStatusError(HTTPError):
    """Raised by ``Response.raise_for_status()`` for a status other than 2xx.

    >>> try:
    ...     client.get(url).raise_for_status()
    ... except httpr.HTTPStatusError as exc:
    ...     print(exc.response.status_code)
    """

    def __init__(self, message: str, *, request: Request | None, response: Response) -> None:
        super().__init__(message)
        self.request = request
        self.response = response


class InvalidURL(HTTPError, ValueError):
    """A URL (request, base or proxy URL) is malformed; raised before I/O.

    Also a ``ValueError``, so code validating user input with ``except ValueError`` catches
    it.
    """

    def __init__(self, message: str, *, request: Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class CookieConflict(Exception):
    """``cookie_jar.get(name)`` matched several cookies; pass ``domain``/``path`` to choose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    __reduce__ = _reduce


class StreamError(RuntimeError):
    """A stream or body was used in a way its state does not allow (a programming error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    __reduce__ = _reduce


class StreamConsumed(StreamError):
    """The stream's body was already consumed by iteration."""

    def __init__(
        self,
        message: str = (
            "Attempted to read or stream the response body, but it has already been "
            "consumed by iteration."
        ),
    ) -> None:
        super().__init__(message)


class ResponseNotRead(StreamError):
    """A streaming response's ``content``, ``text`` or ``json()`` was used before ``read()``."""

    def __init__(
        self,
        message: str = (
            "Attempted to access streaming response content without having called `read()`."
        ),
    ) -> None:
        super().__init__(message)


class RequestNotRead(StreamError):
    """``Request.content`` was used for a streamed body (an iterator or a file)."""

    def __init__(
        self,
        message: str = (
            "Attempted to access the content of a request whose body is streamed "
            "(an iterator or a file); it is not held in memory."
        ),
    ) -> None:
        super().__init__(message)


class StreamClosed(StreamError):
    """The stream was read after it was closed."""

    def __init__(
        self,
        message: str = "Attempted to read or stream content, but the stream has been closed.",
    ) -> None:
        super().__init__(message)


class ClientClosed(RuntimeError):
    """A request or ``stream()`` on a closed client; a closed client is never reopened."""

    def __init__(
        self, message: str = "Cannot send a request, as the client has been closed."
    ) -> None:
        super().__init__(message)

    __reduce__ = _reduce


class ClientReopenedWarning(ResourceWarning):
    """Exported for compatibility with httpr 0.7.8, which reopened closed clients; never issued.

    httpr raises ``ClientClosed`` instead.
    """
