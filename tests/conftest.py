"""Fixtures and timing rules shared by every httpr test.

httpr itself is not imported here: the server tests must run before the package is built.
Tests import the constants as ``from tests.conftest import SHORT_TIMEOUT, assert_on_time``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Callable

import pytest

from tests.servers.app import TestServer
from tests.servers.raw import Handler, RawServer

# urllib3's names. SHORT_TIMEOUT is what a test waits for something that must time out;
# LONG_TIMEOUT bounds what must succeed, so a slow CI machine does not fail it.
SHORT_TIMEOUT = 0.2
LONG_TIMEOUT = 5.0

# The project's rule for timeouts: fire no later than 30 % over, or 100 ms over for the
# short ones, where scheduling noise dominates.
ON_TIME_FACTOR = 1.3
ON_TIME_SLACK_SECONDS = 0.1

# Variables that would send a test's traffic elsewhere or change its trust store or
# credentials (httpx's clean_environ). Any *_PROXY name is cleared, in either case.
ENV_CLEARED = frozenset(
    {"NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NETRC"}
)
ENV_CLEARED_PREFIX = "HTTPR_"
ENV_CLEARED_SUFFIX = "_PROXY"


def environ_keys_to_clear(environ: Mapping[str, str]) -> list[str]:
    """The names in `environ` that `clean_environ` removes."""
    return sorted(
        key
        for key in environ
        if key.upper() in ENV_CLEARED
        or key.upper().endswith(ENV_CLEARED_SUFFIX)
        or key.upper().startswith(ENV_CLEARED_PREFIX)
    )


def assert_on_time(elapsed: float, timeout: float) -> None:
    """Fail if something bounded by `timeout` seconds took longer than the rule allows."""
    limit = max(ON_TIME_FACTOR * timeout, timeout + ON_TIME_SLACK_SECONDS)
    assert elapsed <= limit, f"took {elapsed:.3f} s; timeout {timeout} s allows {limit:.3f} s"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without proxy, CA, netrc or HTTPR_* settings from the environment."""
    for key in environ_keys_to_clear(os.environ):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def server() -> Iterator[TestServer]:
    """The shared HTTP/1.1 test server; compare its counters before and after."""
    with TestServer() as srv:
        yield srv


@pytest.fixture
def raw_server() -> Iterator[Callable[[Handler], RawServer]]:
    """A factory: ``raw_server(handler)`` starts a RawServer, stopped after the test."""
    started: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        srv = RawServer(handler).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


# -- one set of behaviour tests for Client and AsyncClient ------------------------------------


class _LoopThread:
    """An event loop running in a background thread, for driving AsyncClient from sync tests."""

    def __init__(self, use_uvloop: bool) -> None:
        import asyncio

        if use_uvloop:
            import uvloop

            self.loop: Any = uvloop.new_event_loop()
        else:
            self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class AsyncBridge:
    """Presents an AsyncClient with Client's blocking methods: every coroutine it returns
    runs on a real event loop (the engine's eventfd reader included), so the same test
    body checks both clients (style.md: no copied tests)."""

    def __init__(self, runner: _LoopThread, client: Any) -> None:
        self._runner = runner
        self._client = client

    def __getattr__(self, name: str) -> Any:
        import inspect

        attr = getattr(self._client, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **k: self._runner.run(attr(*a, **k))
        return attr

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._client, name, value)

    def close(self) -> None:
        self._runner.run(self._client.aclose())

    def __enter__(self) -> AsyncBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _client_kinds() -> list[str]:
    kinds = ["sync", "asyncio"]
    try:
        import uvloop  # noqa: F401
    except ImportError:  # uvloop is in the test extra; skip its runs where it is missing
        pass
    else:
        kinds.append("uvloop")
    return kinds


@pytest.fixture(scope="session")
def _loop_threads() -> Iterator[dict[str, _LoopThread]]:
    threads: dict[str, _LoopThread] = {}
    yield threads
    for runner in threads.values():
        runner.stop()


@pytest.fixture(params=_client_kinds())
def make_client(request: pytest.FixtureRequest, _loop_threads: dict[str, _LoopThread]) -> Any:
    """``make_client(**kwargs)``: an httpr.Client, or an AsyncClient behind AsyncBridge."""
    import httpr

    kind = request.param
    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        if kind == "sync":
            client: Any = httpr.Client(**kwargs)
        else:
            runner = _loop_threads.get(kind)
            if runner is None:
                runner = _loop_threads[kind] = _LoopThread(use_uvloop=kind == "uvloop")
            client = AsyncBridge(runner, runner.run(_make_async(kwargs)))
        made.append(client)
        return client

    make.kind = kind  # type: ignore[attr-defined]
    yield make
    for client in made:
        client.close()


async def _make_async(kwargs: dict[str, Any]) -> Any:
    import httpr

    return httpr.AsyncClient(**kwargs)
