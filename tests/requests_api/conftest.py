"""Fixtures of the request-API integration tests: a second app server (another port), an
HTTPS app server with a trustme certificate, and ``new_client``.

Origins used (style.md, "two origins without DNS"): ``http://127.0.0.1:P`` (the shared
``server``), ``http://localhost:P`` (same server, other host), ``http://127.0.0.1:Q``
(``other_server``, other port), ``https://127.0.0.1:S`` / ``https://localhost:S``
(``tls_app``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import trustme

from tests.requests_api._support import OK_TIMEOUT, TLSAppServer
from tests.servers.app import TestServer


@dataclass(frozen=True)
class TLSPaths:
    ca: Path  # the test CA, for ca_cert_file=
    chain: Path  # the leaf for localhost and 127.0.0.1, with its chain
    key: Path


@pytest.fixture(scope="session")
def tls_paths(tmp_path_factory: pytest.TempPathFactory) -> TLSPaths:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    directory = tmp_path_factory.mktemp("requests-api-tls")
    paths = TLSPaths(directory / "ca.pem", directory / "chain.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(paths.ca))
    paths.chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(paths.key))
    return paths


@pytest.fixture(scope="session")
def tls_app(tls_paths: TLSPaths) -> Iterator[TLSAppServer]:
    """The app server's endpoints over HTTPS (``tls_app.url`` is https://127.0.0.1:S)."""
    srv = TLSAppServer(str(tls_paths.chain), str(tls_paths.key)).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def other_server() -> Iterator[TestServer]:
    """A second app server: same host as ``server``, another port."""
    with TestServer() as srv:
        yield srv


ClientFactory = Callable[..., Any]


@pytest.fixture
def new_client(make_client: Any, tls_paths: TLSPaths) -> ClientFactory:
    """``make_client`` (Client, AsyncClient on asyncio and on uvloop) with a bounded timeout
    and the test CA as trust store, so https://127.0.0.1 and https://localhost verify.
    ``new_client.kind`` is the client kind ("sync", "asyncio", "uvloop")."""

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("timeout", OK_TIMEOUT)
        kwargs.setdefault("ca_cert_file", str(tls_paths.ca))
        return make_client(**kwargs)

    make.kind = make_client.kind  # type: ignore[attr-defined]
    return make
