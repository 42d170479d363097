"""Bugs the scenarios found (issue 11), now fixed (tests/faults/test_resend_after_reset.py).

A reset mid-status-line on a reused HTTP/1.1 connection (the crawl site's RESET_HEAD pages):
the server has sent ``HTTP/1.1 `` (9 bytes, read by the client) and then a TCP RST.

- api.md section 13: the stale-connection resend happens "before any response byte", and
  once. libcurl 7.88 resends a GET by itself because a partial status line is no complete
  header line to it, and again on each further idle pooled connection (its
  CONN_MAX_RETRIES): here 1 + 4 requests for one GET.
- api.md section 14: a reset while receiving is `ReadError`. A POST (whose body libcurl may
  not rewind) gets `WriteError` "the connection closed before any response" instead.

Fixed: a resend after a response byte, or a second one, is refused in PREREQ / SEEK (csrc).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

import httpr

pytestmark = pytest.mark.scenario

POOLED = 4
PARTIAL_HEAD = b"HTTP/1.1 "
# The server waits this long between the partial head and the RST: the client reads it.
PAUSE_SECONDS = 0.2


class ResetServer:
    """``/ok*``: 200 after PAUSE_SECONDS (so concurrent warm-ups take one connection each);
    anything else: PARTIAL_HEAD, a pause, a TCP RST. Counts requests per path."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    rest += conn.recv(65536)
                path = head.split(b" ")[1].decode()
                with self.lock:
                    self.hits[path] = self.hits.get(path, 0) + 1
                time.sleep(PAUSE_SECONDS)
                if path.startswith("/ok"):
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    continue
                conn.sendall(PARTIAL_HEAD)
                time.sleep(PAUSE_SECONDS)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of _accept
        except OSError:
            pass
        self.sock.close()
        for conn in self.conns:
            try:
                conn.close()
            except OSError:
                pass


@pytest.fixture
def reset_server() -> Iterator[ResetServer]:
    server = ResetServer()
    try:
        yield server
    finally:
        server.close()


def warm_pool(client: httpr.Client, url: str) -> None:
    """POOLED idle keep-alive connections in `client`'s pool."""
    threads = [threading.Thread(target=client.get, args=(f"{url}/ok{i}",)) for i in range(POOLED)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.timeout(30)
def test_get_reset_mid_status_line_on_reused_connection_is_not_resent(
    reset_server: ResetServer,
) -> None:
    with httpr.Client(max_connections=POOLED) as client:
        warm_pool(client, reset_server.url)
        with pytest.raises(httpr.ReadError):
            client.get(f"{reset_server.url}/reset")
    # A response byte arrived: not stale, so not resent (api.md 13); and never more than once.
    assert reset_server.hits["/reset"] == 1


@pytest.mark.timeout(30)
def test_post_reset_mid_status_line_on_reused_connection_is_a_read_error(
    reset_server: ResetServer,
) -> None:
    with httpr.Client() as client:
        assert client.get(f"{reset_server.url}/ok").status_code == 200
        with pytest.raises(httpr.ReadError):
            client.post(f"{reset_server.url}/reset", content=b"x")
    assert reset_server.hits["/reset"] == 1
