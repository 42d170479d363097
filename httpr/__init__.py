"""httpr: a fast, trustworthy HTTP client for Python on libcurl.

>>> import httpr
>>> with httpr.Client() as client:
...     r = client.get("http://127.0.0.1:8000/")
...     print(r.status_code, r.headers.get("content-type"), len(r.content))

Public names only; everything else lives in underscored modules and may change. api.md
fixes the order of ``__all__``; names of later issues join it as they land.
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _dist_version

try:
    __version__ = _dist_version("httpr")
except _PackageNotFoundError:  # Defensive: running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from ._api import delete, get, head, options, patch, post, put, request, stream
from ._async import AsyncClient
from ._client import Client, RequestParams
from ._config import Timeout
from ._cookies import CookieJar
from ._exceptions import (
    ClientClosed,
    ClientReopenedWarning,
    CloseError,
    ConnectError,
    ConnectTimeout,
    CookieConflict,
    DecodingError,
    HTTPError,
    HTTPStatusError,
    InvalidURL,
    LocalProtocolError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    RequestError,
    RequestNotRead,
    ResponseNotRead,
    ResponseTooLarge,
    StreamClosed,
    StreamConsumed,
    StreamError,
    TimeoutException,
    TooManyRedirects,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from ._models import CaseInsensitiveHeaderMap, Request, Response, Timings
from ._streams import AsyncStreamingResponse, StreamingResponse
from ._transports.mock import MockTransport

__all__ = [
    "Client",
    "AsyncClient",
    "request",
    "get",
    "head",
    "options",
    "delete",
    "post",
    "put",
    "patch",
    "stream",
    "Response",
    "StreamingResponse",
    "AsyncStreamingResponse",
    "CaseInsensitiveHeaderMap",
    "Request",
    "Timeout",
    "Timings",
    "RequestParams",
    "MockTransport",
    "CookieJar",
    "HTTPError",
    "RequestError",
    "TransportError",
    "NetworkError",
    "TimeoutException",
    "ProtocolError",
    "StreamError",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
    "ConnectError",
    "ReadError",
    "WriteError",
    "CloseError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "UnsupportedProtocol",
    "ProxyError",
    "TooManyRedirects",
    "HTTPStatusError",
    "DecodingError",
    "ResponseTooLarge",
    "StreamConsumed",
    "ResponseNotRead",
    "RequestNotRead",
    "StreamClosed",
    "ClientClosed",
    "ClientReopenedWarning",
    "InvalidURL",
    "CookieConflict",
]

# Reprs and tracebacks say httpr.Client, not httpr._client.Client (as httpx does).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):  # RequestParams is a TypedDict class
        try:
            _obj.__module__ = "httpr"
        except (AttributeError, TypeError):  # Defensive: builtins refuse it
            pass
del _name, _obj
