"""Module-level ``request()``/``get()``/...: a short-lived ``Client`` per call (api.md 1)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ._client import Client
from ._models import Response
from ._streams import StreamingResponse

__all__ = ["delete", "get", "head", "options", "patch", "post", "put", "request", "stream"]

# api.md 1: a name that is both a client and a request parameter applies to the request.
_REQUEST_KWARGS = frozenset(
    {
        "params",
        "headers",
        "cookies",
        "content",
        "data",
        "json",
        "files",
        "auth",
        "auth_bearer",
        "timeout",
        "follow_redirects",
    }
)


def request(method: str, url: str, **kwargs: Any) -> Response:
    """Sends one request with a client made for it and closed after it.

    >>> r = httpr.request("GET", "http://127.0.0.1:8000/", params={"q": "x"}, timeout=5)
    >>> r.status_code, r.text

    ``kwargs`` may hold every keyword of ``Client.request`` and every ``Client``
    constructor parameter (``verify``, ``proxy``, ``max_response_size``...); a name that is
    both (``headers``, ``params``, ``timeout``...) applies to the request. Unknown names
    raise ``TypeError``. Nothing is kept between calls (no pool, no cookies): for more than
    one request, use a ``Client``.
    """
    request_kwargs = {k: v for k, v in kwargs.items() if k in _REQUEST_KWARGS}
    client_kwargs = {k: v for k, v in kwargs.items() if k not in _REQUEST_KWARGS}
    with Client(**client_kwargs) as client:
        return client.request(method, url, **request_kwargs)


@contextlib.contextmanager
def stream(method: str, url: str, **kwargs: Any) -> Iterator[StreamingResponse]:
    """``client.stream()`` on a short-lived client of its own, closed with the stream.

    >>> with httpr.stream("GET", "http://127.0.0.1:8000/big") as r:
    ...     for chunk in r.iter_bytes():
    ...         ...
    """
    request_kwargs = {k: v for k, v in kwargs.items() if k in _REQUEST_KWARGS}
    client_kwargs = {k: v for k, v in kwargs.items() if k not in _REQUEST_KWARGS}
    with Client(**client_kwargs) as client, client.stream(method, url, **request_kwargs) as r:
        yield r


def get(url: str, **kwargs: Any) -> Response:
    """``request("GET", url, ...)``."""
    return request("GET", url, **kwargs)


def head(url: str, **kwargs: Any) -> Response:
    """``request("HEAD", url, ...)``."""
    return request("HEAD", url, **kwargs)


def options(url: str, **kwargs: Any) -> Response:
    """``request("OPTIONS", url, ...)``."""
    return request("OPTIONS", url, **kwargs)


def delete(url: str, **kwargs: Any) -> Response:
    """``request("DELETE", url, ...)``."""
    return request("DELETE", url, **kwargs)


def post(url: str, **kwargs: Any) -> Response:
    """``request("POST", url, ...)``.

    >>> httpr.post("http://127.0.0.1:8000/items", json={"name": "a"}).status_code
    """
    return request("POST", url, **kwargs)


def put(url: str, **kwargs: Any) -> Response:
    """``request("PUT", url, ...)``."""
    return request("PUT", url, **kwargs)


def patch(url: str, **kwargs: Any) -> Response:
    """``request("PATCH", url, ...)``."""
    return request("PATCH", url, **kwargs)
