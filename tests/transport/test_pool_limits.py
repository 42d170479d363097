"""Connection limits and the pool phase (design.md 5, 6; api.md 5)."""

from __future__ import annotations

import threading
import time

import pytest

import httpr
from tests.conftest import SHORT_TIMEOUT, assert_on_time


def _hold_the_only_connection(client: httpr.Client, url: str) -> threading.Thread:
    t = threading.Thread(target=client.get, args=(f"{url}/delay?s=0.8",))
    t.start()
    time.sleep(0.1)  # the slow request owns the single connection now
    return t


def test_pool_timeout_when_no_connection_slot(server) -> None:
    with httpr.Client(max_connections=1, timeout=httpr.Timeout(5.0, pool=SHORT_TIMEOUT)) as c:
        holder = _hold_the_only_connection(c, server.url)
        start = time.perf_counter()
        with pytest.raises(httpr.PoolTimeout, match="pool timeout"):
            c.get(f"{server.url}/bytes?size=1")
        assert_on_time(time.perf_counter() - start, SHORT_TIMEOUT)
        holder.join(5)
        assert c.get(f"{server.url}/bytes?size=1").status_code == 200  # the pool recovered


def test_queued_time_is_not_charged_to_connect_timeout(server) -> None:
    # design.md 6 asked to pin this for 7.88: a transfer waiting for a connection slot is
    # in libcurl's pending state, and CONNECTTIMEOUT_MS does not run there.
    with httpr.Client(max_connections=1, timeout=httpr.Timeout(5.0, connect=0.3)) as c:
        holder = _hold_the_only_connection(c, server.url)
        start = time.perf_counter()
        assert c.get(f"{server.url}/bytes?size=1").status_code == 200
        assert time.perf_counter() - start > 0.5  # it waited past the connect limit
        holder.join(5)


def test_max_connections_caps_open_connections(server) -> None:
    before = server.connections_accepted
    with httpr.Client(max_connections=2) as c:
        threads = [
            threading.Thread(target=c.get, args=(f"{server.url}/delay?s=0.1",)) for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert server.connections_accepted - before <= 2


def test_max_connections_per_host(server) -> None:
    from tests.servers.app import TestServer

    with TestServer() as other:
        before, other_before = server.connections_accepted, other.connections_accepted
        with httpr.Client(max_connections_per_host=1) as c:
            urls = [f"{server.url}/delay?s=0.1"] * 3 + [f"{other.url}/delay?s=0.1"] * 3
            threads = [threading.Thread(target=c.get, args=(u,)) for u in urls]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            elapsed = time.perf_counter() - start
        # One connection per host and port; the hosts do not wait for each other.
        assert server.connections_accepted - before == 1
        assert other.connections_accepted - other_before == 1
        assert 0.25 < elapsed < 0.9  # three 0.1 s requests in a row per host, hosts in parallel


def test_max_connections_per_host_is_validated() -> None:
    with pytest.raises(ValueError):
        httpr.Client(max_connections_per_host=0)
    with pytest.raises(TypeError):
        httpr.Client(max_connections_per_host="2")  # type: ignore[arg-type]
