"""The transport interface: one hop in, one response out (style.md: transport vs client).

Redirects, auth, cookies and every other policy live in the client, so ``MockTransport``
can exercise all of it without sockets. A transport does exactly one request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._config import Timeout
from .._models import Request, Response
from .._proxies import Proxy

__all__ = ["BaseTransport", "Hop"]


@dataclass(frozen=True)
class Hop:
    """What a transport needs for one request besides the ``Request`` itself."""

    timeout: Timeout
    wire_headers: tuple[tuple[str, str], ...]
    """Header lines as they go on the wire, names spelled as set (api.md 4.2)."""
    send_body: bool
    """A body goes out (an empty POST/PUT/PATCH body still sends Content-Length: 0)."""
    replayable: bool
    """libcurl may rewind and resend the body (idempotent method, buffered body)."""
    proxy: Proxy | None = None
    """The proxy of this hop (api.md 12), resolved by the client; None: direct."""
    proxy_headers: tuple[tuple[str, str], ...] = ()
    """Headers only the proxy sees (a user Proxy-Authorization, R3)."""
    body_stream: Any = None
    """A StreamedBody fed while the request is sent, instead of Request.content."""
    shown_framing: tuple[str, str] | None = None
    """The framing line Request.headers shows but libcurl writes (not a user header)."""

    @classmethod
    def _trusted(cls, **fields: Any) -> Hop:
        """A hop of every field by name, filled through ``__dict__``: the frozen
        ``__init__`` would make eight ``object.__setattr__`` calls, once per request."""
        self = object.__new__(cls)
        self.__dict__.update(fields)
        return self


class BaseTransport:
    """Sends one request and returns its response; never follows redirects."""

    def handle_request(self, request: Request, hop: Hop) -> Response:
        """Sends one hop for ``Client`` and returns its response with the body read."""
        raise NotImplementedError  # Defensive: abstract

    async def handle_async_request(self, request: Request, hop: Hop) -> Response:
        """The same hop for ``AsyncClient``, without blocking the event loop."""
        raise NotImplementedError  # Defensive: abstract

    def open_stream(self, request: Request, hop: Hop) -> tuple[Response, Any]:
        """A streamed hop: the head as a Response and a body source (api.md 7). By default
        the whole response, then its content served from memory (MockTransport)."""
        from .._streams import BytesSource

        response = self.handle_request(request, hop)
        return response, BytesSource(response._content or b"")

    async def open_async_stream(self, request: Request, hop: Hop) -> tuple[Response, Any]:
        """``open_stream`` for ``AsyncClient``, without blocking the event loop."""
        from .._streams import BytesSource

        response = await self.handle_async_request(request, hop)
        return response, BytesSource(response._content or b"")

    def close(self) -> None:
        """Releases the transport's resources; idempotent."""
