"""A small web service that answers each request with two upstream calls made in parallel,
through one httpr.Client shared by a thread pool.

    .venv/bin/python examples/service.py                  # serve until Ctrl-C
    .venv/bin/python examples/service.py --self-test 2000 # load it, print latencies, exit
    .venv/bin/python examples/service.py --upstream http://127.0.0.1:9000 --port 8080

``GET /profile/<id>`` fetches ``/users/<id>`` and ``/users/<id>/orders`` from the upstream at
the same time and answers with both in one JSON document; ``GET /healthz`` answers ``ok``.
Without ``--upstream`` a demo upstream (a user and order catalogue) is started on 127.0.0.1
next to the service, so the example runs on its own; nothing leaves the machine.

What it shows:

- **One client for the whole process.** ``httpr.Client`` is thread-safe: every request
  handler thread and every pool worker uses the same one, so they share its connection pool
  (keep-alive connections to the upstream are reused, never one per request), its settings
  and its single engine thread. Creating a client per request would cost a connection, a
  TLS handshake for https, and an engine thread each time.
- **Fan-out on a thread pool.** The handler submits both calls to a
  ``ThreadPoolExecutor`` and waits for the two results; the blocking calls release the GIL
  while libcurl works, so they overlap.
- **Failures as answers.** An upstream that is down, slow or broken gives ``502`` (or
  ``504`` for a timeout) with the httpr exception's name, not a hung handler: the client has
  a timeout, and ``max_connections`` bounds what the service opens upstream.

The demo upstream counts the connections it accepts, so ``--self-test`` can show that a few
connections carried thousands of requests.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpr

HOST = "127.0.0.1"
PROFILE_PATH = re.compile(r"^/profile/(\d{1,9})$")
USER_PATH = re.compile(r"^/users/(\d{1,9})(/orders)?$")
# Upstream calls in flight at once, for the whole service (the pool's workers); two per
# incoming request, so this many / 2 requests fan out at the same time.
DEFAULT_WORKERS = 16
# What one upstream call may take, per phase (connect, each wait for bytes) and in all.
UPSTREAM_TIMEOUT = httpr.Timeout(2.0, total=5.0)


# -- the demo upstream ------------------------------------------------------------------------


def user_record(user_id: int) -> dict[str, Any]:
    """The demo upstream's user `user_id`."""
    return {"id": user_id, "name": f"user-{user_id}", "tier": ("free", "pro", "team")[user_id % 3]}


def orders_of(user_id: int) -> list[dict[str, Any]]:
    """The demo upstream's orders of user `user_id` (0 to 4 of them)."""
    return [
        {"order": user_id * 10 + k, "total_cents": (user_id * 7919 + k * 104729) % 100_000}
        for k in range(user_id % 5)
    ]


class _Quiet(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1, one buffered write per response, no access log."""

    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024

    def setup(self) -> None:
        super().setup()
        # Head and body leave in one write; without NODELAY a second small write would wait
        # for the peer's delayed ACK (40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_json(self, status: int, doc: object) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()


class _UpstreamHandler(_Quiet):
    server: Upstream

    def do_GET(self) -> None:
        match = USER_PATH.match(self.path)
        if match is None:
            self.send_json(404, {"error": "not found"})
            return
        user_id = int(match.group(1))
        if self.server.delay:
            time.sleep(self.server.delay)
        self.send_json(200, orders_of(user_id) if match.group(2) else user_record(user_id))


class LoopbackServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on 127.0.0.1 with a backlog for parallel clients."""

    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 drops parallel connects

    def server_bind(self) -> None:
        # HTTPServer.server_bind() does a reverse DNS lookup (getfqdn): not for loopback.
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = HOST, self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_port}"


class Upstream(LoopbackServer):
    """The demo catalogue on 127.0.0.1:<port>; counts the connections it accepts."""

    def __init__(self, port: int = 0, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.accepted = 0
        self.open_connections = 0
        super().__init__((HOST, port), _UpstreamHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with self.lock:
            self.accepted += 1
            self.open_connections += 1
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self.lock:
                self.open_connections -= 1


# -- the service ------------------------------------------------------------------------------


class _ServiceHandler(_Quiet):
    server: ProfileService

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.send_json(200, "ok")
            return
        match = PROFILE_PATH.match(self.path)
        if match is None:
            self.send_json(404, {"error": "not found"})
            return
        status, doc = self.server.profile(int(match.group(1)))
        self.send_json(status, doc)


class ProfileService(LoopbackServer):
    """``/profile/<id>`` = ``/users/<id>`` + ``/users/<id>/orders`` from `upstream`."""

    def __init__(self, upstream: str, port: int = 0, workers: int = DEFAULT_WORKERS) -> None:
        # The one client of the process. Its pool may hold a connection per worker: more
        # would never be used at once, and fewer would make workers wait for one.
        self.client = httpr.Client(
            base_url=upstream, timeout=UPSTREAM_TIMEOUT, max_connections=workers
        )
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upstream")
        super().__init__((HOST, port), _ServiceHandler)

    def _get_json(self, path: str) -> Any:
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()

    def profile(self, user_id: int) -> tuple[int, dict[str, Any]]:
        """(status, document) for ``/profile/<user_id>``: two upstream calls at once."""
        started = time.perf_counter()
        user = self.pool.submit(self._get_json, f"/users/{user_id}")
        orders = self.pool.submit(self._get_json, f"/users/{user_id}/orders")
        try:
            doc = {"user": user.result(), "orders": orders.result()}
        except httpr.HTTPStatusError as e:
            upstream_status = e.response.status_code
            status = 404 if upstream_status == 404 else 502
            return status, {"error": f"upstream answered {upstream_status}"}
        except httpr.TimeoutException as e:
            return 504, {"error": type(e).__name__}
        except (httpr.HTTPError, ValueError) as e:  # transport failure, or a body not JSON
            return 502, {"error": type(e).__name__}
        finally:
            # The other call may still be running after a failure: let it finish on its own.
            user.cancel()
            orders.cancel()
        doc["upstream_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return 200, doc

    def close(self) -> None:
        """Stops serving, then closes the pool and the client (in that order: no handler
        may submit to a closed pool or call a closed client)."""
        self.shutdown()
        self.server_close()
        self.pool.shutdown(wait=True)
        self.client.close()


@contextmanager
def running(server: LoopbackServer) -> Iterator[None]:
    """Serves `server` from a background thread for the duration of the block."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield
    finally:
        if isinstance(server, ProfileService):
            server.close()
        else:
            server.shutdown()
            server.server_close()
        thread.join()


# -- a load generator for --self-test ----------------------------------------------------------


def load(service_url: str, threads: int, requests: int) -> tuple[list[float], int]:
    """`threads` keep-alive connections send `requests` GET /profile/<id> each; returns the
    latencies (seconds) and how many answers were wrong."""
    port = int(service_url.rsplit(":", 1)[1])
    latencies: list[list[float]] = [[] for _ in range(threads)]
    wrong = [0] * threads

    def work(n: int) -> None:
        conn = HTTPConnection(HOST, port, timeout=10)
        try:
            for k in range(requests):
                user_id = n * requests + k
                t0 = time.perf_counter()
                conn.request("GET", f"/profile/{user_id}")
                response = conn.getresponse()
                body = response.read()
                latencies[n].append(time.perf_counter() - t0)
                doc = json.loads(body) if response.status == 200 else {}
                if doc.get("user") != user_record(user_id) or doc.get("orders") != orders_of(
                    user_id
                ):
                    wrong[n] += 1
        finally:
            conn.close()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return [x for per in latencies for x in per], sum(wrong)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="A fan-out web service on one shared httpr.Client.")
    p.add_argument("--upstream", help="upstream base URL (default: start the demo upstream)")
    p.add_argument("--port", type=int, default=0, help="service port (default: any free one)")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="upstream calls at once")
    p.add_argument("--upstream-delay", type=float, default=0.0, help="demo upstream delay (s)")
    p.add_argument("--self-test", type=int, metavar="N", help="send N requests per thread, exit")
    p.add_argument("--threads", type=int, default=8, help="load threads for --self-test (8)")
    args = p.parse_args(argv)

    upstream = None if args.upstream else Upstream(delay=args.upstream_delay)
    upstream_url = args.upstream or (upstream.url if upstream else "")
    service = ProfileService(upstream_url, port=args.port, workers=args.workers)
    with running(upstream) if upstream else _nothing(), running(service):
        print(f"upstream {upstream_url}, service {service.url}")
        if args.self_test is None:
            print(f"try: curl {service.url}/profile/42   (Ctrl-C stops)")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                print()
            return 0
        started = time.perf_counter()
        latencies, wrong = load(service.url, args.threads, args.self_test)
        elapsed = time.perf_counter() - started
        print(
            f"{len(latencies)} requests from {args.threads} threads in {elapsed:.2f} s"
            f" ({len(latencies) / elapsed:.0f}/s), {wrong} wrong answers;"
            f" latency p50 {statistics.median(latencies) * 1e3:.2f} ms,"
            f" p99 {percentile(latencies, 0.99) * 1e3:.2f} ms"
        )
        if upstream is not None:
            print(
                f"the upstream served {2 * len(latencies)} calls on {upstream.accepted}"
                " connections (one shared client)"
            )
    return 1 if wrong else 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    raise SystemExit(main())
