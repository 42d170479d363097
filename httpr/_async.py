"""``AsyncClient``: the same API as ``Client`` with ``await``, driven by the same C engine.

No Python thread pool runs a transfer: the client's engine thread is the executor, and the
event loop is woken through the engine's eventfd (``_curl.engine.AsyncDispatcher``). That
design measured 2.5x the throughput of a thread pool at a third of the CPU (design.md 1).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import inspect
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._client import (
    _CLIENT,
    BaseClient,
    HeaderTypes,
    ParamTypes,
    RequestHeaderTypes,
    RequestParams,
    _Call,
    _check_positive,
    _request_kwargs,
)
from ._config import DEFAULT_KEEPALIVE_EXPIRY_S, DEFAULT_MAX_CONNECTIONS, Timeout, TimeoutTypes
from ._exceptions import ConnectError, ConnectTimeout, PoolTimeout
from ._models import Request, Response
from ._streams import AsyncStreamingResponse
from ._transports.base import Hop
from ._transports.mock import MockTransport

if sys.version_info >= (3, 11):
    from typing import Self  # novm
else:  # pragma: no cover - exercised on 3.9/3.10 only
    from typing_extensions import Self

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AsyncClient"]

# api.md 3: 0.7.8's default, kept so tuned code behaves alike (a slot no longer costs a thread).
DEFAULT_MAX_CONCURRENCY = 64


class AsyncClient(BaseClient):
    """An asyncio HTTP client: every ``Client`` parameter, plus ``max_concurrency``.

    >>> async with httpr.AsyncClient() as client:
    ...     responses = await asyncio.gather(*(client.get(u) for u in urls))

    ``max_concurrency`` (``64``) caps this client's transfers in flight (first come, first
    served, without blocking the loop); waiting for a slot is the pool phase of the timeout.
    ``None`` means no cap beyond ``max_connections``. The other parameters, their defaults
    and their checks are those of ``httpr.Client`` (see ``help(httpr.Client)``).

    All I/O runs on the client's C engine thread, never in a thread pool: awaiting never
    blocks the loop, and cancelling a task (``asyncio.wait_for``, ``asyncio.timeout``)
    aborts its transfer. Event hooks must be async callables. Use one event loop at a time.
    """

    def __init__(
        self,
        auth: tuple[str, str | None] | None = None,
        auth_bearer: str | None = None,
        params: ParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: Mapping[str, str] | None = None,
        cookie_store: bool | None = True,
        referer: bool | None = True,
        proxy: str | None = None,
        timeout: TimeoutTypes = 30.0,
        follow_redirects: bool | None = True,
        max_redirects: int | None = 20,
        verify: bool | str | os.PathLike[str] | None = True,
        ca_cert_file: str | os.PathLike[str] | None = None,
        client_pem: str | None = None,
        client_pem_data: bytes | None = None,
        https_only: bool | None = False,
        http2_only: bool | None = False,
        http1_only: bool | None = False,
        *,
        retries: int = 0,
        max_response_size: int | None = None,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
        max_connections_per_host: int | None = None,
        keepalive_expiry: float | None = DEFAULT_KEEPALIVE_EXPIRY_S,
        trust_env: bool = True,
        base_url: str | None = None,
        event_hooks: Mapping[str, Sequence[Any]] | None = None,
        transport: MockTransport | None = None,
        max_concurrency: int | None = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        self._max_concurrency = _check_positive("max_concurrency", max_concurrency, allow_none=True)
        super().__init__(
            auth,
            auth_bearer,
            params,
            headers,
            cookies,
            cookie_store,
            referer,
            proxy,
            timeout,
            follow_redirects,
            max_redirects,
            verify,
            ca_cert_file,
            client_pem,
            client_pem_data,
            https_only,
            http2_only,
            http1_only,
            retries=retries,
            max_response_size=max_response_size,
            max_connections=max_connections,
            max_connections_per_host=max_connections_per_host,
            keepalive_expiry=keepalive_expiry,
            trust_env=trust_env,
            base_url=base_url,
            event_hooks=event_hooks,
            transport=transport,
        )
        self._slots: _Slots | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None

    @property
    def max_concurrency(self) -> int | None:
        """Transfers of this client in flight at once (``None``: no cap of its own)."""
        return self._max_concurrency

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: ParamTypes | None = None,
        headers: RequestHeaderTypes | None = None,
        cookies: Mapping[str, str] | None = None,
        content: Any = None,
        data: Any = None,
        json: Any = None,
        files: Any = None,
        auth: tuple[str, str | None] | None = None,
        auth_bearer: str | None = None,
        timeout: TimeoutTypes | object = _CLIENT,
        follow_redirects: bool | None = None,
    ) -> Response:
        """Sends one request and returns its response with the body read and decoded.

        The keywords are those of ``Client.request`` (see ``help(httpr.Client.request)``).
        Bad input raises when the coroutine runs, still before any I/O. Cancelling the
        task aborts the transfer at once (its HTTP/1.1 connection is closed).

        >>> r = await client.request("GET", "http://127.0.0.1:8000/")
        """
        call = self._start_call(
            method,
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            content=content,
            data=data,
            json=json,
            files=files,
            auth=auth,
            auth_bearer=auth_bearer,
            timeout=timeout,
            follow_redirects=follow_redirects,
        )
        return await self._run(call, stream=False)

    def stream(self, method: str, url: str, **kwargs: Unpack[RequestParams]) -> _AsyncStreamContext:
        """Sends a request; ``async with`` yields its response once the final head is in.

        The body is read on demand (``aiter_bytes``, ``aiter_text``, ``aiter_lines``,
        ``aread``) and the stream is closed when the block exits. A stream holds one
        ``max_concurrency`` slot until it is closed. A plain ``with`` raises ``TypeError``.

        >>> async with client.stream("GET", url) as r:
        ...     async for chunk in r.aiter_bytes():
        ...         ...
        """
        return _AsyncStreamContext(self, method, url, dict(kwargs))

    async def _open_stream(
        self, method: str, url: str, kwargs: dict[str, Any]
    ) -> AsyncStreamingResponse:
        call = self._start_call(method, url, **_request_kwargs(kwargs))
        response = await self._run(call, stream=True)
        assert isinstance(response, AsyncStreamingResponse)
        return response

    async def _run(self, call: _Call, *, stream: bool) -> Response:
        """Client._run with await: hooks (async), retries, redirects."""
        hooks = self._event_hooks
        while True:
            request, hop = self._hop(call)
            if hooks["request"]:
                for hook in hooks["request"]:
                    await _awaited(hook, request)
                hop = self._after_request_hooks(request, hop, call.body)
            while True:
                try:
                    if stream:
                        response: Response = await self._open_stream_hop(request, hop)
                    else:
                        response = await self._send(request, hop)
                    break
                except (ConnectError, ConnectTimeout) as error:
                    delay = self._retry_delay(call, error)
                    if delay is None:
                        raise
                    await asyncio.sleep(delay)
                    request, hop = self._hop(call)
            try:
                self._received(call, request, response)
                for hook in hooks["response"]:
                    await _awaited(hook, response)
                follow = self._redirect(call, response)
            except BaseException:
                if isinstance(response, AsyncStreamingResponse):
                    response.close()
                raise
            if not follow:
                return self._final(call, response)
            if isinstance(response, AsyncStreamingResponse):
                try:
                    await response.aread()  # an intermediate hop: read under the size cap
                finally:
                    response.close()

    async def _open_stream_hop(self, request: Request, hop: Hop) -> AsyncStreamingResponse:
        slots = self._concurrency_slots()
        release: Callable[[], None] | None = None
        if slots is not None:
            hop = await self._take_slot(slots, request, hop)
            release = slots.release
        try:
            head, source = await self._transport.open_async_stream(request, hop)
        except BaseException:
            if release is not None:
                release()
            raise
        response: AsyncStreamingResponse = AsyncStreamingResponse._from_head(head, source, release)
        return response

    async def _take_slot(self, slots: _Slots, request: Request, hop: Hop) -> Hop:
        """Waits for a max_concurrency slot: the pool phase, sharing its deadline."""
        # amendment 3.11: the slot wait and the connection wait share one pool deadline,
        # counted from the call's start. A free slot is taken without waiting, and then the
        # hop keeps its Timeout (and the transport its cached option struct).
        if slots.try_take():
            return hop
        pool = hop.timeout.pool
        start = time.monotonic()
        if not await slots.take(pool):
            raise PoolTimeout(
                f"timed out after {pool:g} s waiting for a concurrency slot (pool timeout) "
                f"for {request.method} {request.url}",
                request=request,
            )
        if pool is None:
            return hop
        # Floored to 10 ms so waiting requests share a few cached option structs; the
        # deadline moves earlier by < 10 ms (amendment 1.12 allows 100 ms late).
        left = max(0.0, pool - (time.monotonic() - start))
        return _with_pool(hop, math.floor(left * 100) / 100)

    async def _send(self, request: Request, hop: Hop) -> Response:
        transport = self._transport
        slots = self._concurrency_slots()
        if slots is None:
            return await transport.handle_async_request(request, hop)
        hop = await self._take_slot(slots, request, hop)
        try:
            return await transport.handle_async_request(request, hop)
        finally:
            slots.release()

    def _concurrency_slots(self) -> _Slots | None:
        if self._max_concurrency is None:
            return None
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            # The slots' futures belong to one loop; a client moves loops only when idle.
            self._slots = _Slots(self._max_concurrency, loop)
            self._slots_loop = loop
        return self._slots

    async def get(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``await request("GET", url, ...)``."""
        return await self.request("GET", url, **kwargs)

    async def head(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``await request("HEAD", url, ...)``."""
        return await self.request("HEAD", url, **kwargs)

    async def options(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``await request("OPTIONS", url, ...)``."""
        return await self.request("OPTIONS", url, **kwargs)

    async def delete(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``await request("DELETE", url, ...)``."""
        return await self.request("DELETE", url, **kwargs)

    async def post(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``await request("POST", url, ...)``."""
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``await request("PUT", url, ...)``."""
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``await request("PATCH", url, ...)``."""
        return await self.request("PATCH", url, **kwargs)

    async def aclose(self) -> None:
        """Refuses new requests; those in flight finish, then the engine is released.

        Idempotent; the client is never reopened (``ClientClosed`` afterwards).
        """
        self.close()

    def close(self) -> None:
        """The same as ``aclose()``, for synchronous finalisers."""
        self._closed = True
        self._transport.close()

    async def __aenter__(self) -> Self:
        """Returns the client itself: ``async with httpr.AsyncClient() as client: ...``."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Awaits ``aclose()``."""
        await self.aclose()


async def _awaited(hook: Any, arg: object) -> None:
    """AsyncClient awaits its hooks; each must be an async callable (api.md 2)."""
    result = hook(arg)
    if not inspect.isawaitable(result):
        raise TypeError(f"AsyncClient event hooks must be async callables; {hook!r} is not")
    await result


class _AsyncStreamContext:
    """What ``AsyncClient.stream()`` returns: an async context manager only (api.md 3)."""

    def __init__(self, client: AsyncClient, method: str, url: str, kwargs: dict[str, Any]):
        self._client, self._method, self._url, self._kwargs = client, method, url, kwargs
        self._response: AsyncStreamingResponse | None = None

    async def __aenter__(self) -> AsyncStreamingResponse:
        self._response = await self._client._open_stream(self._method, self._url, self._kwargs)
        return self._response

    async def __aexit__(self, *exc_info: object) -> None:
        if self._response is not None:
            await self._response.aclose()

    def __enter__(self) -> None:
        raise TypeError("AsyncClient.stream() needs 'async with', not 'with'")

    def __exit__(self, *exc_info: object) -> None:  # Defensive: __enter__ always raises
        pass


class _Slots:
    """``max_concurrency``'s counter: first come, first served, on one event loop.

    A free slot is taken without awaiting anything; a waiter awaits a plain future that
    ``release`` resolves, handing its slot over directly. Cheaper than asyncio.Semaphore,
    whose release scans its waiters and whose timed wait (``wait_for``) costs a task:
    callgrind counted 6% of the loop thread's instructions per request in the semaphore.
    """

    __slots__ = ("_free", "_waiters", "_loop")

    def __init__(self, count: int, loop: asyncio.AbstractEventLoop) -> None:
        self._free = count
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._loop = loop

    def try_take(self) -> bool:
        """Takes a slot if one is free and nobody queues before us."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self, timeout: float | None) -> bool:
        """Waits for a slot: True once held, False when ``timeout`` seconds passed first."""
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(future)
        timer = None
        if timeout is not None:
            timer = self._loop.call_later(timeout, _expire, future)
        try:
            await future
        except _SlotTimeout:
            return False
        except BaseException:
            if _handed_a_slot(future):
                self.release()  # handed a slot, then cancelled before running: pass it on
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if not _handed_a_slot(future):
                try:
                    self._waiters.remove(future)
                except ValueError:
                    pass  # already taken off by release()
        return True

    def release(self) -> None:
        """Gives the slot to the first live waiter, or back to the pool."""
        waiters = self._waiters
        while waiters:
            future = waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self._free += 1


class _SlotTimeout(Exception):
    """A slot wait's deadline passed (turned into PoolTimeout by the caller)."""


def _handed_a_slot(future: asyncio.Future[None]) -> bool:
    """release() resolved the waiter's future (not a timeout, not a cancellation)."""
    return future.done() and not future.cancelled() and future.exception() is None


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(_SlotTimeout())


def _with_pool(hop: Hop, pool: float) -> Hop:
    t = hop.timeout
    timeout = Timeout(
        t.connect, connect=t.connect, read=t.read, write=t.write, pool=pool, total=t.total
    )
    return dataclasses.replace(hop, timeout=timeout)
