"""HTTP/2 against hypercorn: version negotiation, prior knowledge, header case, multiplexing,
bodies, and cancellation of one stream (api.md §2 `http2_only`/`http1_only`, §3, §6
`http_version`, §8, §11; security.md IN-04; amendment 2.12).

The server (tests/http2/conftest.py) counts TCP connections per ``?tag=`` as distinct client
(host, port) pairs, so "shared one connection" is checked where it happens: at the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import httpr
from tests.conftest import LONG_TIMEOUT
from tests.http2.conftest import H2Server, new_tag
from tests.servers.app import TestServer, payload
from tests.tls.conftest import TLSServer

TIMEOUT = httpr.Timeout(LONG_TIMEOUT)
CONCURRENT_REQUESTS = 20
# api.md §11: HTTP/2 requests share connections. One is expected; a second is tolerated for a
# transfer that started before the first connection's ALPN answer was known.
MAX_SHARED_CONNECTIONS = 2
# Long enough for all concurrent requests to be in flight together.
OVERLAP_DELAY_SECONDS = 0.3
# The cancelled request would take this long; it is cancelled after CANCEL_AFTER_SECONDS.
CANCELLED_DELAY_SECONDS = 5.0
CANCEL_AFTER_SECONDS = 0.2
POST_BODY_SIZE = 200_000  # over HTTP/2's initial 65,535-byte flow-control window
DOWNLOAD_SIZE = 1_000_000


@pytest.fixture
def h2_client(make_client: Any, h2_server: H2Server) -> Any:
    """``h2_client(**kwargs)``: make_client trusting the hypercorn CA, bounded timeout."""

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("ca_cert_file", str(h2_server.ca_file))
        return make_client(**kwargs)

    return make


def echo(response: httpr.Response) -> dict[str, Any]:
    data = response.json()
    assert isinstance(data, dict)
    return data


def async_kinds() -> list[str]:
    kinds = ["asyncio"]
    try:
        import uvloop  # noqa: F401
    except ImportError:  # uvloop is in the test extra; skip its runs where it is missing
        pass
    else:
        kinds.append("uvloop")
    return kinds


def run_async(kind: str, coro: Coroutine[Any, Any, Any]) -> Any:
    """Runs `coro` on a fresh loop of `kind` (asyncio or uvloop)."""
    if kind == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def wait_stats(h2_server: H2Server, tag: str, key: str, value: int) -> dict[str, Any]:
    """The server's stats for `tag` once ``stats[key] >= value`` (bounded: 2 s)."""
    deadline = time.monotonic() + 2.0
    while True:
        stats = h2_server.stats(tag)
        if stats[key] >= value or time.monotonic() >= deadline:
            return stats
        time.sleep(0.01)


# -- versions (api.md §6, §11) ---------------------------------------------------------------


def test_https_negotiates_http2(h2_client: Any, h2_server: H2Server) -> None:
    client = h2_client()
    r = client.get(f"{h2_server.https_url}/echo")
    assert r.status_code == 200
    assert r.http_version == "HTTP/2"
    assert r.reason_phrase == "OK"  # httpr's table: HTTP/2 has no reason phrase (api.md §6)
    assert echo(r)["http_version"] == "2"


def test_http1_only_over_https_never_offers_h2(h2_client: Any, h2_server: H2Server) -> None:
    client = h2_client(http1_only=True)
    r = client.get(f"{h2_server.https_url}/echo")
    assert r.http_version == "HTTP/1.1"
    assert echo(r)["http_version"] == "1.1"


def test_plain_http_uses_http11_without_upgrade(h2_client: Any, h2_server: H2Server) -> None:
    # The cleartext server would speak h2c; without http2_only httpr does not ask for it.
    client = h2_client()
    r = client.get(f"{h2_server.http_url}/echo")
    assert r.http_version == "HTTP/1.1"
    data = echo(r)
    assert data["http_version"] == "1.1"
    assert not any(name.lower() in ("upgrade", "http2-settings") for name, _ in data["headers"])


def test_http2_only_uses_prior_knowledge_on_http(h2_client: Any, h2_server: H2Server) -> None:
    client = h2_client(http2_only=True)
    r = client.get(f"{h2_server.http_url}/echo")
    assert r.http_version == "HTTP/2"
    data = echo(r)
    assert data["http_version"] == "2"
    assert data["scheme"] == "http"


def test_http2_only_over_https(h2_client: Any, h2_server: H2Server) -> None:
    client = h2_client(http2_only=True)
    r = client.get(f"{h2_server.https_url}/echo")
    assert r.http_version == "HTTP/2"
    assert echo(r)["http_version"] == "2"


def test_http2_only_against_http11_server_fails(
    h2_client: Any, server: TestServer, h2_server: H2Server
) -> None:
    # api.md §11: a server that cannot speak HTTP/2 fails with a TransportError (libcurl
    # 7.88.1 here: RemoteProtocolError "Empty reply from server", the server having closed
    # on the h2 preface).
    client = h2_client(http2_only=True)
    url = f"{server.url}/echo"
    with pytest.raises(httpr.TransportError) as info:
        client.get(url)
    assert f"GET {url}" in str(info.value), str(info.value)
    # The same client still reaches a server that speaks h2c.
    assert client.get(f"{h2_server.http_url}/echo").http_version == "HTTP/2"


def test_http2_only_against_https11_only_server_fails(h2_client: Any, h2_server: H2Server) -> None:
    # api.md §11: http2_only requires h2 on https://; this server's ALPN has http/1.1 only.
    srv = TLSServer(h2_server.chain_file, h2_server.key_file)
    try:
        client = h2_client(http2_only=True)
        url = f"{srv.url}/bytes?size=10"
        with pytest.raises(httpr.TransportError) as info:
            client.get(url)
        assert f"GET {url}" in str(info.value), str(info.value)
    finally:
        srv.stop()


def test_trust_comes_from_ca_cert_file(h2_client: Any, h2_server: H2Server) -> None:
    # The trustme CA is in no default store: without ca_cert_file the handshake fails.
    url = f"{h2_server.https_url}/echo"
    with pytest.raises(httpr.ConnectError):
        h2_client(ca_cert_file=None).get(url)
    r = h2_client(ca_cert_file=str(h2_server.ca_file)).get(url)
    assert r.status_code == 200
    assert r.http_version == "HTTP/2"


# -- headers (security.md IN-04, api.md §8) --------------------------------------------------


def test_header_name_case_http11_as_given(h2_client: Any, server: TestServer) -> None:
    # IN-04 on HTTP/1.1: the name goes out spelled as given (amendment 4.6). hypercorn's h11
    # lowercases what it parses, so the byte-faithful TestServer captures this side.
    r = h2_client().get(f"{server.url}/echo", headers={"X-MiXed": "1"})
    assert r.http_version == "HTTP/1.1"
    assert ["X-MiXed", "1"] in echo(r)["headers"]


def test_header_name_case_http2_lowercase(h2_client: Any, h2_server: H2Server) -> None:
    # IN-04 on HTTP/2: names are lowercase by protocol (RFC 9113 §8.2.1); h2 would reject an
    # uppercase name as a malformed request rather than pass it to the app.
    r = h2_client().get(f"{h2_server.https_url}/echo", headers={"X-MiXed": "1"})
    assert r.http_version == "HTTP/2"
    headers = echo(r)["headers"]
    assert ["x-mixed", "1"] in headers
    assert all(name == name.lower() for name, _ in headers), headers


def test_response_header_map_over_http2(h2_client: Any, h2_server: H2Server) -> None:
    r = h2_client().get(f"{h2_server.https_url}/echo")
    assert r.http_version == "HTTP/2"
    h = r.headers
    # The app sent "X-Server-MiXed"; HTTP/2 carries it lowercase; lookups ignore case.
    assert h["X-Server-MiXed"] == "yes"
    assert h["x-server-mixed"] == "yes"
    assert "X-SERVER-MIXED" in h
    assert h.get_list("x-dup") == ["one", "two"]
    assert h["X-Dup"] == "one, two"
    assert h["content-type"] == "application/json"
    assert all(name == name.lower() for name in h)
    assert ("x-dup", "one") in h.multi_items() and ("x-dup", "two") in h.multi_items()
    assert not any(name.startswith(":") for name in h)  # no pseudo-headers (":status")
    assert r.headers is h


# -- bodies ------------------------------------------------------------------------------------


def test_post_body_over_http2(h2_client: Any, h2_server: H2Server) -> None:
    body = payload(POST_BODY_SIZE)
    r = h2_client().post(f"{h2_server.https_url}/echo", content=body)
    assert r.http_version == "HTTP/2"
    data = echo(r)
    assert data["method"] == "POST"
    assert data["body_len"] == POST_BODY_SIZE
    assert data["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_large_download_over_http2(h2_client: Any, h2_server: H2Server) -> None:
    r = h2_client().get(f"{h2_server.https_url}/bytes?size={DOWNLOAD_SIZE}")
    assert r.http_version == "HTTP/2"
    assert r.content == payload(DOWNLOAD_SIZE)


# -- connection sharing (api.md §11) ---------------------------------------------------------


def test_sequential_requests_reuse_one_connection(h2_client: Any, h2_server: H2Server) -> None:
    tag = new_tag()
    client = h2_client()
    responses = [client.get(f"{h2_server.https_url}/echo?tag={tag}") for _ in range(5)]
    assert {r.http_version for r in responses} == {"HTTP/2"}
    assert [r.timings.new_connection for r in responses] == [True, False, False, False, False]
    assert h2_server.stats(tag)["connections"] == 1


def test_concurrent_threads_share_one_connection(h2_server: H2Server) -> None:
    tag = new_tag()
    url = f"{h2_server.https_url}/delay?s={OVERLAP_DELAY_SECONDS}&tag={tag}"
    barrier = threading.Barrier(CONCURRENT_REQUESTS)

    with httpr.Client(ca_cert_file=str(h2_server.ca_file), timeout=TIMEOUT) as client:

        def fetch(_: int) -> httpr.Response:
            barrier.wait(LONG_TIMEOUT)
            return client.get(url)

        with ThreadPoolExecutor(CONCURRENT_REQUESTS) as pool:
            responses = list(pool.map(fetch, range(CONCURRENT_REQUESTS)))

    assert [r.content for r in responses] == [b"ok"] * CONCURRENT_REQUESTS
    assert {r.http_version for r in responses} == {"HTTP/2"}
    stats = h2_server.stats(tag)
    assert stats["requests"] == CONCURRENT_REQUESTS
    assert 1 <= stats["connections"] <= MAX_SHARED_CONNECTIONS, stats


@pytest.mark.parametrize("kind", async_kinds())
def test_concurrent_async_requests_share_one_connection(kind: str, h2_server: H2Server) -> None:
    tag = new_tag()
    url = f"{h2_server.https_url}/delay?s={OVERLAP_DELAY_SECONDS}&tag={tag}"

    async def main() -> list[httpr.Response]:
        async with httpr.AsyncClient(ca_cert_file=str(h2_server.ca_file), timeout=TIMEOUT) as c:
            return list(await asyncio.gather(*(c.get(url) for _ in range(CONCURRENT_REQUESTS))))

    started = time.monotonic()
    responses = run_async(kind, main())
    elapsed = time.monotonic() - started
    assert [r.content for r in responses] == [b"ok"] * CONCURRENT_REQUESTS
    assert {r.http_version for r in responses} == {"HTTP/2"}
    stats = h2_server.stats(tag)
    assert stats["requests"] == CONCURRENT_REQUESTS
    assert 1 <= stats["connections"] <= MAX_SHARED_CONNECTIONS, stats
    # Multiplexed, not queued one after another behind a single connection.
    assert elapsed < OVERLAP_DELAY_SECONDS * 4, elapsed


# -- cancellation (api.md §3, amendment 2.12) -----------------------------------------------


@pytest.mark.parametrize("kind", async_kinds())
def test_cancel_resets_stream_and_keeps_http2_connection(kind: str, h2_server: H2Server) -> None:
    """FLT-24 over HTTP/2: a cancelled stream is reset, the connection kept."""
    tag = new_tag()
    base = h2_server.https_url

    async def main() -> tuple[httpr.Response, httpr.Response]:
        async with httpr.AsyncClient(ca_cert_file=str(h2_server.ca_file), timeout=TIMEOUT) as c:
            first = await c.get(f"{base}/echo?tag={tag}")
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(
                    c.get(f"{base}/delay?s={CANCELLED_DELAY_SECONDS}&tag={tag}"),
                    CANCEL_AFTER_SECONDS,
                )
            after = await c.get(f"{base}/echo?tag={tag}")
            return first, after

    started = time.monotonic()
    first, after = run_async(kind, main())
    assert time.monotonic() - started < CANCELLED_DELAY_SECONDS / 2
    assert first.http_version == after.http_version == "HTTP/2"
    assert after.status_code == 200
    assert after.timings.new_connection is False
    # The server saw the cancelled stream end (RST_STREAM) while its connection lived on.
    stats = wait_stats(h2_server, tag, "disconnects", 1)
    assert stats["disconnects"] == 1, stats
    assert stats["requests"] == 3
    assert stats["connections"] == 1, stats
