"""Fixtures and timing rules shared by every httpr test.

httpr itself is not imported here: the server tests must run before the package is built.
Tests import the constants as ``from tests.conftest import SHORT_TIMEOUT, assert_on_time``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Callable

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
