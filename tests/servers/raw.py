"""A scripted-socket server for faults a real HTTP server will not produce.

Modelled on urllib3's ``_start_server(handler)``: for every accepted connection a plain
function ``handler(sock)`` runs in its own daemon thread and owns the socket. It may send
anything (half bodies, bad chunk sizes, duplicate Content-Length), stay silent, close, shut
down one direction, or `reset()` it. Whatever the handler leaves open is closed afterwards.

`serve_bytes()` builds the common handler: read the request head, send fixed bytes, then
close, reset or hold. The read helpers (`read_request_head`, `read_request`) never consume
bytes past what they return, so a handler can go on reading the same connection.

Handlers must not hang a test run: `RawServer.stop()` shuts every accepted socket down, so a
handler blocked in recv() (or in `hold()`) wakes at once; a handler that sleeps instead can
wait on `RawServer.stopping`. Exceptions from handlers are kept in `RawServer.errors`, never
printed (pytest runs with ``filterwarnings = error``).
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from typing import Callable

__all__ = [
    "HOLD_SECONDS",
    "Handler",
    "RawServer",
    "close_gracefully",
    "hold",
    "read_request",
    "read_request_head",
    "reset",
    "serve_bytes",
]

HOST = "127.0.0.1"

Handler = Callable[[socket.socket], None]

# serve_bytes(then="hold") keeps a connection open at most this long.
HOLD_SECONDS = 30.0
# A request head larger than this is refused (ValueError): bounded like any reader in tests.
MAX_HEAD_BYTES = 1024 * 1024
# read_request() reads bodies up to this size.
MAX_BODY_BYTES = 64 * 1024 * 1024
# One chunk-size line in read_request(); http.client's _MAXLINE.
MAX_LINE_BYTES = 65536
# How long the accept loop blocks before checking whether stop() was called.
ACCEPT_POLL_SECONDS = 0.05
# stop() waits at most this long, in all, for the accept loop and handler threads.
STOP_JOIN_SECONDS = 2.0
# close_gracefully() reads what the client still sends for at most this long.
DRAIN_SECONDS = 1.0
# RFC 9112 §7.1: chunk-size = 1*HEXDIG.
_CHUNK_SIZE_RE = re.compile(rb"^[0-9A-Fa-f]+$")


def reset(sock: socket.socket) -> None:
    """Close `sock` with an RST instead of a FIN (SO_LINGER on, timeout 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass  # already closed
    sock.close()


def close_gracefully(sock: socket.socket, drain_timeout: float = DRAIN_SECONDS) -> None:
    """Send FIN, read and drop what the peer still sends (at most `drain_timeout` s), close.

    Closing a socket with unread bytes (say, a request body nobody read) sends an RST on
    Linux, and the client may then lose the response it had not read yet. Draining first
    makes "close" a clean EOF, as tests of truncated responses need.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        _discard_until_eof(sock, drain_timeout)
    except OSError:
        pass
    sock.close()


def hold(sock: socket.socket, timeout: float = HOLD_SECONDS) -> None:
    """Keep `sock` open without sending, dropping whatever arrives, until the peer closes,
    the server stops (stop() shuts the socket down) or `timeout` seconds pass."""
    try:
        _discard_until_eof(sock, timeout)
    except OSError:
        pass


def _discard_until_eof(sock: socket.socket, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        sock.settimeout(remaining)
        try:
            if not sock.recv(65536):
                return
        except socket.timeout:
            return


def _recv_through(sock: socket.socket, marker: bytes, limit: int, deadline: float) -> bytes:
    """Read up to and including `marker`, and not one byte more (recv with MSG_PEEK finds
    the marker, then only that much is consumed). Returns the bytes read so far on EOF;
    raises ValueError past `limit` bytes and socket.timeout at `deadline`."""
    buf = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout(f"no {marker!r} within the time allowed")
        sock.settimeout(remaining)
        peeked = sock.recv(65536, socket.MSG_PEEK)
        if not peeked:
            return bytes(buf)
        # The marker may straddle what was consumed and what is peeked.
        keep = min(len(buf), len(marker) - 1)
        idx = (bytes(buf[len(buf) - keep :]) + peeked).find(marker)
        take = idx + len(marker) - keep if idx >= 0 else len(peeked)
        if len(buf) + take > limit:
            raise ValueError(f"more than {limit} bytes without {marker!r}")
        buf += _recv_exact(sock, take, deadline)
        if idx >= 0:
            return bytes(buf)


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    """Exactly `n` bytes, fewer only at EOF; socket.timeout at `deadline`."""
    buf = bytearray()
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout(f"{len(buf)} of {n} bytes within the time allowed")
        sock.settimeout(remaining)
        data = sock.recv(min(n - len(buf), 1024 * 1024))
        if not data:
            break
        buf += data
    return bytes(buf)


def read_request_head(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """The request line and headers through the blank line (b"\\r\\n\\r\\n" included).

    Nothing past the head is consumed. On EOF returns what arrived (maybe b""); raises
    socket.timeout after `timeout` s and ValueError past MAX_HEAD_BYTES. Leaves the socket
    with a timeout set; set your own before further blocking calls.
    """
    return _recv_through(sock, b"\r\n\r\n", MAX_HEAD_BYTES, time.monotonic() + timeout)


def read_request(sock: socket.socket, timeout: float = 5.0) -> tuple[bytes, bytes]:
    """(head, body): the head as `read_request_head`, then the body by Content-Length, or
    decoded from chunked (trailers read and dropped), or b"" when neither is given.

    It does not answer ``Expect: 100-continue``: send b"HTTP/1.1 100 Continue\\r\\n\\r\\n"
    from the handler first if the client should not wait. A body cut short by EOF is
    returned as it arrived; `timeout` bounds the whole read.
    """
    deadline = time.monotonic() + timeout
    head = _recv_through(sock, b"\r\n\r\n", MAX_HEAD_BYTES, deadline)
    if not head.endswith(b"\r\n\r\n"):
        return head, b""
    fields = _header_fields(head)
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return head, _read_chunked(sock, deadline)
    length_text = fields.get("content-length", "").strip()
    if not length_text:
        return head, b""
    if not length_text.isdigit() or int(length_text) > MAX_BODY_BYTES:
        raise ValueError(f"bad or too large Content-Length {length_text!r}")
    return head, _recv_exact(sock, int(length_text), deadline)


def _header_fields(head: bytes) -> dict[str, str]:
    """Lower-cased header names to values (a repeated name keeps its last value)."""
    fields: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


def _read_chunked(sock: socket.socket, deadline: float) -> bytes:
    body = bytearray()
    while True:
        line = _recv_through(sock, b"\r\n", MAX_LINE_BYTES, deadline)
        if not line.endswith(b"\r\n"):
            return bytes(body)  # EOF
        size_field = line.split(b";", 1)[0].strip()
        if not _CHUNK_SIZE_RE.match(size_field):
            raise ValueError(f"bad chunk size {size_field!r}")
        size = int(size_field, 16)
        if size == 0:
            break
        if len(body) + size > MAX_BODY_BYTES:
            raise ValueError(f"chunked body over {MAX_BODY_BYTES} bytes")
        body += _recv_exact(sock, size, deadline)
        _recv_exact(sock, 2, deadline)  # the CRLF after the chunk data
    while True:  # trailer section, up to the blank line
        line = _recv_through(sock, b"\r\n", MAX_LINE_BYTES, deadline)
        if line in (b"\r\n", b""):
            return bytes(body)


_THEN = ("close", "reset", "hold")


def serve_bytes(data: bytes, *, then: str = "close") -> Handler:
    """A handler that reads the request head, sends `data`, then:

    - ``"close"``: FIN (`close_gracefully`): the client sees EOF after `data`;
    - ``"reset"``: RST (`reset`): the client sees ECONNRESET, maybe after reading `data`;
    - ``"hold"``: nothing more until the server stops, the client closes or HOLD_SECONDS
      pass (read timeouts, pool checks of a connection the server keeps).
    """
    if then not in _THEN:
        raise ValueError(f"then must be one of {_THEN!r}, got {then!r}")

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        if data:
            sock.sendall(data)
        if then == "reset":
            reset(sock)
        elif then == "hold":
            hold(sock, HOLD_SECONDS)
        else:
            close_gracefully(sock)

    return handler


class RawServer:
    """Listens on 127.0.0.1:<ephemeral port>; runs `handler(sock)` per connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._accepted = 0
        self._errors: list[BaseException] = []
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._port = 0

    def start(self) -> RawServer:
        if self._listener is not None:
            raise RuntimeError("RawServer already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((HOST, 0))
            listener.listen(128)
            listener.settimeout(ACCEPT_POLL_SECONDS)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self._port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"httpr-raw-server:{self._port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self.stopping.is_set():
            try:
                sock, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.stopping.is_set():  # accepted while stop() ran: nobody would wake it
                sock.close()
                return
            # The listener's poll timeout is not inherited: the handler gets a blocking socket.
            sock.settimeout(None)
            with self._lock:
                self._accepted += 1
                self._sockets.add(sock)
            thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _run(self, sock: socket.socket) -> None:
        try:
            self.handler(sock)
        except BaseException as exc:  # kept for the test to inspect, never printed
            with self._lock:
                self._errors.append(exc)
        finally:
            try:
                sock.close()
            finally:
                with self._lock:
                    self._sockets.discard(sock)

    def stop(self) -> None:
        """Stop accepting, wake handlers blocked on their sockets, join (bounded), close."""
        if self._listener is None or self.stopping.is_set():
            return
        deadline = time.monotonic() + STOP_JOIN_SECONDS
        self.stopping.set()
        if self._accept_thread is not None:
            self._accept_thread.join(STOP_JOIN_SECONDS)
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
            threads = list(self._threads)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the handler closed it already
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("RawServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://{HOST}:{self.port}"

    @property
    def connections_accepted(self) -> int:
        with self._lock:
            return self._accepted

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by the handler, one per failed connection."""
        with self._lock:
            return list(self._errors)


EMPTY_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class Capture:
    """A raw server keeping every ``(head, body)`` it receives, in order; ``reply(head)``
    answers each (an empty 200 by default). ``raw_server`` is the tests' factory fixture."""

    def __init__(
        self,
        raw_server: Callable[[Callable[[socket.socket], None]], RawServer],
        reply: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.requests: list[tuple[bytes, bytes]] = []
        self._reply = reply or (lambda head: EMPTY_OK)
        self._lock = threading.Lock()
        self.srv = raw_server(self._handle)

    def _handle(self, sock: socket.socket) -> None:
        while True:
            head, body = read_request(sock)
            if not head:
                return
            with self._lock:
                self.requests.append((head, body))
            sock.sendall(self._reply(head))

    @property
    def url(self) -> str:
        return self.srv.url

    def assert_untouched(self) -> None:
        """No connection was made and no request arrived (bad input refused before I/O)."""
        time.sleep(0.05)  # a connect in flight would be accepted by now
        assert self.srv.connections_accepted == 0
        assert self.requests == []

    def only_head(self) -> bytes:
        """The head of the one request received (fails unless exactly one arrived)."""
        assert len(self.requests) == 1
        return self.requests[0][0]

    def fields(self, index: int) -> list[tuple[str, str]]:
        """The ``(lowercase name, value)`` header lines of request `index`."""
        head = self.requests[index][0].decode("latin-1")
        pairs = []
        for line in head.split("\r\n")[1:]:
            name, sep, value = line.partition(":")
            if sep:
                pairs.append((name.strip().lower(), value.strip()))
        return pairs

    def values(self, index: int, name: str) -> list[str]:
        """Every value of header `name` (lowercase) in request `index`."""
        return [v for k, v in self.fields(index) if k == name]
