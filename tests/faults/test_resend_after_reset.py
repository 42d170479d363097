"""libcurl 7.88's own resend on a reused connection, held to api.md section 13.

libcurl resends a request when a reused connection dies before a complete head line or a
body byte (Curl_retry_request), and again on each further idle pooled connection, up to 5
times. A partial status line (``HTTP/1.1 `` then a reset) is no complete line to it. httpr
allows one resend, and only when no response byte arrived (issue 11: found by the crawl
scenario, tests/scenarios/test_crawl.py); the error of a refused resend follows api.md 14.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

import httpr

POOLED = 4
PAUSE_SECONDS = 0.2  # > HTTPR_KERNEL_CLOCK_GRAIN_US: the partial head is told from the request
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class ScriptedServer:
    """Per path: ``/ok*`` 200 after PAUSE_SECONDS (concurrent warm-ups take one connection
    each); ``/partial-rst`` and ``/partial-fin`` send ``HTTP/1.1 `` then, after a pause, a
    TCP RST or a FIN; ``/stale-once`` resets without a byte on its first hit only (a stale
    pooled connection), then answers 200; ``/stale-always`` resets without a byte every
    time. Counts the requests per path."""

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

    @staticmethod
    def _reset(conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._serve_requests(conn)
        except ConnectionError:
            pass  # the client reset the connection: a fault test's ordinary ending
        finally:
            conn.close()

    def _serve_requests(self, conn: socket.socket) -> None:
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, data = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(data) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            data = data[length:]
            path = head.split(b" ")[1].decode()
            with self.lock:
                hit = self.hits[path] = self.hits.get(path, 0) + 1
            if path.startswith("/ok"):
                time.sleep(PAUSE_SECONDS)
                conn.sendall(OK)
            elif path.startswith("/partial"):
                time.sleep(PAUSE_SECONDS)
                conn.sendall(b"HTTP/1.1 ")
                time.sleep(PAUSE_SECONDS)
                if path == "/partial-rst":
                    self._reset(conn)
                return
            elif path == "/stale-always" or (path == "/stale-once" and hit == 1):
                self._reset(conn)
                return
            else:
                conn.sendall(OK)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        # Shut down, never close, from this thread: a serving thread blocked in recv() then
        # sees EOF and closes its own socket. Closing here raced it (EBADF in recv(), or the
        # fd number reused by the next test's socket while the old thread still read it).
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    try:
        yield s
    finally:
        s.close()


def warm_pool(client: httpr.Client, url: str, n: int = POOLED) -> None:
    """n idle keep-alive connections in the client's pool."""
    threads = [threading.Thread(target=client.get, args=(f"{url}/ok{i}",)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "POST"])
def test_reset_after_a_partial_status_line_is_not_resent(
    server: ScriptedServer, method: str
) -> None:
    with httpr.Client(max_connections=POOLED) as client:
        warm_pool(client, server.url)
        content = b"x" if method in ("PUT", "POST") else None
        with pytest.raises(httpr.ReadError) as info:
            client.request(method, f"{server.url}/partial-rst", content=content)
    assert "reset" in str(info.value).lower()
    assert server.hits["/partial-rst"] == 1


@pytest.mark.timeout(30)
def test_close_after_a_partial_status_line_is_not_resent(server: ScriptedServer) -> None:
    with httpr.Client(max_connections=POOLED) as client:
        warm_pool(client, server.url)
        with pytest.raises(httpr.RemoteProtocolError):
            client.get(f"{server.url}/partial-fin")
    assert server.hits["/partial-fin"] == 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_stale_pooled_connection_is_resent_once(server: ScriptedServer, method: str) -> None:
    """No response byte: the one resend api.md 13 promises still happens."""
    with httpr.Client(max_connections=POOLED) as client:
        warm_pool(client, server.url)
        content = b"x" if method == "PUT" else None
        response = client.request(method, f"{server.url}/stale-once", content=content)
    assert response.status_code == 200
    assert response.text == "ok"
    assert server.hits["/stale-once"] == 2


@pytest.mark.timeout(30)
def test_resend_happens_at_most_once(server: ScriptedServer) -> None:
    """libcurl alone would try each pooled connection, then a new one (1 + 4 requests)."""
    with httpr.Client(max_connections=POOLED) as client:
        warm_pool(client, server.url)
        with pytest.raises(httpr.ReadError):
            client.get(f"{server.url}/stale-always")
        assert server.hits["/stale-always"] == 2
        assert client.get(f"{server.url}/ok").status_code == 200  # still usable


@pytest.mark.timeout(30)
def test_post_on_a_stale_connection_is_still_a_write_error(server: ScriptedServer) -> None:
    """No response byte and a body libcurl may not resend: amendment 2.1's WriteError."""
    with httpr.Client() as client:
        warm_pool(client, server.url, 1)
        with pytest.raises(httpr.WriteError, match="closed before any response"):
            client.post(f"{server.url}/stale-once", content=b"x")
    assert server.hits["/stale-once"] == 1
