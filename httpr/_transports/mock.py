"""``MockTransport``: answers every hop with a handler instead of the network (api.md 2).

All client policy still runs on what the handler returns, so users (and httpr's own policy
tests) can test redirects, cookies, auth and hooks without sockets.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Callable, Union

from .._models import Request, Response
from .base import BaseTransport, Hop

__all__ = ["MockTransport"]

Handler = Callable[[Request], Union[Response, Awaitable[Response]]]


class MockTransport(BaseTransport):
    """A transport that calls ``handler(request)`` for each hop.

    >>> def handler(request):
    ...     return httpr.Response(200, content=b"hello")
    >>> client = httpr.Client(transport=httpr.MockTransport(handler))

    Nothing goes to the network. The handler gets each hop's ``Request`` (its body read
    into ``content``) and returns a ``Response``; everything the client does with a real
    response still happens: redirects, cookies, auth, event hooks, the size cap, and
    ``stream()`` serves the content as a stream. The handler may raise (e.g.
    ``httpr.ConnectError("refused")``) to simulate a failure; the exception propagates as
    itself. Returning anything but a ``Response`` raises ``TypeError``. With
    ``AsyncClient`` the handler may be a coroutine function. Timeouts, pool limits,
    proxies and TLS settings are validated but not applied.
    """

    def __init__(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError(f"MockTransport handler must be callable, not {type(handler).__name__}")
        self.handler = handler

    def handle_request(self, request: Request, hop: Hop) -> Response:
        """Called by the client for each hop: the handler's response, type-checked."""
        if hop.body_stream is not None:  # the handler gets the body read (api.md 2)
            request._content = b"".join(hop.body_stream.chunks())
        return self._checked(self.handler(request))

    async def handle_async_request(self, request: Request, hop: Hop) -> Response:
        """For ``AsyncClient`` the handler may also be a coroutine function."""
        if hop.body_stream is not None:
            request._content = b"".join([c async for c in hop.body_stream.achunks()])
        response = self.handler(request)
        if inspect.isawaitable(response):
            response = await response
        return self._checked(response)

    @staticmethod
    def _checked(response: object) -> Response:
        if not isinstance(response, Response):
            raise TypeError(
                "MockTransport handler must return an httpr.Response, "
                f"not {type(response).__name__}"
            )
        return response
