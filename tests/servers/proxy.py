"""Small local proxies for the proxy tests: an HTTP forward/CONNECT proxy and a SOCKS proxy.

Both listen on 127.0.0.1:<ephemeral port>, serve each connection in a daemon thread, stay
quiet (handler exceptions are kept in ``.errors``, never printed: pytest runs with
``filterwarnings = error`` and tests read stderr), and record what they were asked, so a
test can assert what the proxy saw (``HTTPProxy.requests``, ``Socks5Proxy.targets``).

No traffic may leave loopback (style.md; pytest-socket only guards Python sockets, and these
proxies run in the test process): a proxy connects only to ``127.0.0.1``, ``localhost`` and
``::1`` and answers any other target with an error reply (``HTTPProxy``: 403; SOCKS5: reply
0x02, "connection not allowed by ruleset"; SOCKS4: 0x5B), having recorded the request.

`stop()` closes the listener, shuts every client and upstream socket down (so blocked
threads wake at once) and joins the threads within STOP_JOIN_SECONDS in all. Replies are
written in one ``sendall`` and every socket has TCP_NODELAY, so Nagle's algorithm and
delayed ACKs never stall a test (~40 ms per exchange on Linux otherwise).
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import select
import socket
import struct
import threading
import time
from urllib.parse import urlsplit

from tests.servers.raw import read_request

__all__ = ["ALLOWED_TARGET_HOSTS", "HTTPProxy", "Socks5Proxy"]

HOST = "127.0.0.1"

# The only hosts a proxy forwards to (pytest-socket's --allow-hosts list).
ALLOWED_TARGET_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# How long the accept loop blocks before checking whether stop() was called.
ACCEPT_POLL_SECONDS = 0.05
# stop() waits at most this long, in all, for the accept loop and the connection threads.
STOP_JOIN_SECONDS = 2.0
# A client connection idle this long between requests (or a tunnel idle this long in both
# directions) is closed; stop() wakes them at once anyway.
IDLE_TIMEOUT_SECONDS = 30.0
# Reading one request head or SOCKS message may take at most this long.
HEAD_TIMEOUT_SECONDS = 10.0
# Connecting to, and waiting for, an origin (the app server's /delay is capped at 10 s).
UPSTREAM_TIMEOUT_SECONDS = 20.0
# A forwarded response body is held in memory; larger ones get 502 (bounded, like raw.py).
MAX_FORWARD_BODY_BYTES = 64 * 1024 * 1024
# One recv() while relaying a tunnel.
RELAY_CHUNK_BYTES = 64 * 1024
# At most this many handler errors are kept for inspection.
MAX_KEPT_ERRORS = 100

# RFC 9110 section 7.6.1 and the proxy-specific fields: never forwarded to an origin.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

_REASONS = {
    200: "Connection established",
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    502: "Bad Gateway",
}


def _allowed(host: str) -> bool:
    return host.lower() in ALLOWED_TARGET_HOSTS


def _nodelay(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass  # the peer is gone already; the next send reports it


def _split_host_port(authority: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → (host without brackets, port); ValueError if bad."""
    if authority.startswith("["):
        close = authority.index("]")
        host, rest = authority[1:close], authority[close + 1 :]
        if not rest.startswith(":"):
            raise ValueError(f"no port in {authority!r}")
        port_text = rest[1:]
    else:
        host, sep, port_text = authority.rpartition(":")
        if not sep:
            raise ValueError(f"no port in {authority!r}")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"bad port in {authority!r}")
    return host, int(port_text)


def _fields(head: bytes) -> list[tuple[str, str]]:
    """The header fields of a request head, in order, names as sent."""
    pairs = []
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            pairs.append((name.strip(), value.strip()))
    return pairs


def _status(code: int, extra: list[tuple[str, str]] | None = None, *, close: bool = True) -> bytes:
    lines = [f"HTTP/1.1 {code} {_REASONS.get(code, 'Error')}"]
    for name, value in extra or []:
        lines.append(f"{name}: {value}")
    if code != 200:  # a 2xx to CONNECT has no body and no framing headers (RFC 9110 9.3.6)
        lines.append("Content-Length: 0")
        if close:
            lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Server:
    """Accept loop, per-connection threads, socket tracking and a bounded stop()."""

    _name = "proxy"

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._accepted = 0
        self._errors: list[BaseException] = []
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> _Server:
        if self._listener is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
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
            target=self._accept_loop, name=f"httpr-{self._name}:{self._port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake every blocked thread, join (bounded), close."""
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
                pass  # closed by its thread already
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> _Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- properties --------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def connections_accepted(self) -> int:
        with self._lock:
            return self._accepted

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions of connection threads (socket errors are expected: not kept)."""
        with self._lock:
            return list(self._errors)

    # -- internals ---------------------------------------------------------------------------

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
            sock.settimeout(None)
            _nodelay(sock)
            thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
            with self._lock:
                self._accepted += 1
                self._sockets.add(sock)
                self._threads.append(thread)
            thread.start()

    def _run(self, sock: socket.socket) -> None:
        try:
            self._handle(sock)
        except OSError:
            pass  # the client or the origin went away, or stop() shut the socket down
        except BaseException as exc:  # kept for the test to inspect, never printed
            with self._lock:
                if len(self._errors) < MAX_KEPT_ERRORS:
                    self._errors.append(exc)
        finally:
            self._untrack(sock)

    def _handle(self, sock: socket.socket) -> None:
        raise NotImplementedError

    def _track(self, sock: socket.socket) -> None:
        """Register an upstream socket so stop() shuts it down too."""
        with self._lock:
            stopping = self.stopping.is_set()
            self._sockets.add(sock)
        if stopping:
            sock.shutdown(socket.SHUT_RDWR)

    def _untrack(self, sock: socket.socket) -> None:
        try:
            sock.close()
        finally:
            with self._lock:
                self._sockets.discard(sock)

    def _connect(self, host: str, port: int) -> socket.socket:
        """A connection to an allowed target (the caller checked), tracked for stop()."""
        upstream = socket.create_connection((host, port), timeout=UPSTREAM_TIMEOUT_SECONDS)
        _nodelay(upstream)
        self._track(upstream)
        return upstream

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        """Copy bytes both ways until both sides have closed, either resets, the tunnel is
        idle for IDLE_TIMEOUT_SECONDS, or stop() shuts the sockets down."""
        a.settimeout(None)
        b.settimeout(None)
        open_reads = {a: b, b: a}
        while open_reads and not self.stopping.is_set():
            readable, _, _ = select.select(list(open_reads), [], [], IDLE_TIMEOUT_SECONDS)
            if not readable:
                return
            for src in readable:
                dst = open_reads[src]
                data = src.recv(RELAY_CHUNK_BYTES)
                if data:
                    dst.sendall(data)
                    continue
                del open_reads[src]  # EOF: pass the half-close on
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    return


class HTTPProxy(_Server):
    """A forward proxy: absolute-form requests (``GET http://127.0.0.1:PORT/x HTTP/1.1``)
    are forwarded to the origin, ``CONNECT host:port`` opens a tunnel.

    - ``requests``: every request head received (request line through the blank line, as
      bytes), in order, CONNECTs included, recorded before any check.
    - ``require_auth=("user", "pass")``: a request without ``Proxy-Authorization: Basic``
      for exactly those credentials gets 407 with ``Proxy-Authenticate: Basic``, and the
      connection is closed.
    - ``connect_status=403`` (any status): every ``CONNECT`` is answered with it (and the
      connection closed) instead of opening a tunnel. Forwarded requests are unaffected.

    Forwarded requests reach the origin without hop-by-hop fields (``Proxy-Authorization``,
    ``Proxy-Connection``, ``Connection``...), as a real proxy sends them; the origin's
    response comes back with a fresh ``Content-Length``. The client connection is kept
    alive between forwarded requests unless the client asks to close.
    """

    _name = "http-proxy"

    def __init__(
        self, *, require_auth: tuple[str, str] | None = None, connect_status: int | None = None
    ) -> None:
        super().__init__()
        self.require_auth = require_auth
        self.connect_status = connect_status
        self._requests: list[bytes] = []

    def start(self) -> HTTPProxy:
        super().start()
        return self

    def __enter__(self) -> HTTPProxy:
        return self.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    def url_with_auth(self, user: str, password: str) -> str:
        """``http://user:password@127.0.0.1:PORT`` (no percent-encoding: plain test values)."""
        return f"http://{user}:{password}@{HOST}:{self.port}"

    @property
    def requests(self) -> list[bytes]:
        """A copy of the request heads received so far."""
        with self._lock:
            return list(self._requests)

    def _authorized(self, head: bytes) -> bool:
        if self.require_auth is None:
            return True
        user, password = self.require_auth
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        values = [v for n, v in _fields(head) if n.lower() == "proxy-authorization"]
        return values == [expected]

    def _handle(self, sock: socket.socket) -> None:
        while not self.stopping.is_set():
            # Waiting for the next request on a kept-alive connection may take a while.
            try:
                head, body = read_request(sock, timeout=IDLE_TIMEOUT_SECONDS)
            except ValueError:
                sock.sendall(_status(400))
                return
            except socket.timeout:
                return
            if not head.endswith(b"\r\n\r\n"):
                return  # EOF, maybe mid-head
            with self._lock:
                self._requests.append(head)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                sock.sendall(_status(400))
                return
            method, target, version = parts
            if not self._authorized(head):
                sock.sendall(
                    _status(407, [("Proxy-Authenticate", 'Basic realm="httpr-test-proxy"')])
                )
                return
            if method == "CONNECT":
                self._tunnel(sock, target)
                return
            if not self._forward(sock, method, target, version, head, body):
                return

    def _tunnel(self, sock: socket.socket, target: str) -> None:
        if self.connect_status is not None:
            sock.sendall(_status(self.connect_status))
            return
        try:
            host, port = _split_host_port(target)
        except ValueError:
            sock.sendall(_status(400))
            return
        if not _allowed(host):
            sock.sendall(_status(403))
            return
        try:
            upstream = self._connect(host, port)
        except OSError:
            sock.sendall(_status(502))
            return
        try:
            sock.sendall(_status(200))
            self._relay(sock, upstream)
        finally:
            self._untrack(upstream)

    def _forward(
        self, sock: socket.socket, method: str, target: str, version: str, head: bytes, body: bytes
    ) -> bool:
        """Forwards one absolute-form request; True if the client connection stays open."""
        fields = _fields(head)
        tokens = {
            t.strip().lower()
            for n, v in fields
            if n.lower() in ("connection", "proxy-connection")
            for t in v.split(",")
        }
        keep_alive = "close" not in tokens and (version == "HTTP/1.1" or "keep-alive" in tokens)
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            sock.sendall(_status(400))  # origin-form, https:// (needs CONNECT) or garbage
            return False
        if not _allowed(parts.hostname):
            sock.sendall(_status(403))
            return False
        try:
            port = parts.port or 80
        except ValueError:
            sock.sendall(_status(400))
            return False
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        had_length = any(n.lower() in ("content-length", "transfer-encoding") for n, _ in fields)
        try:
            status, reason, headers, data = self._exchange(
                parts.hostname, port, method, path, fields, body if had_length else None
            )
        except (OSError, http.client.HTTPException, ValueError):
            sock.sendall(_status(502))
            return False
        lines = [f"HTTP/1.1 {status} {reason}"]
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        for name, value in headers:
            lower = name.lower()
            if lower in _HOP_BY_HOP or (lower == "content-length" and not no_body):
                continue
            lines.append(f"{name}: {value}")
        if not no_body:
            lines.append(f"Content-Length: {len(data)}")
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        return keep_alive

    def _exchange(
        self,
        host: str,
        port: int,
        method: str,
        path: str,
        fields: list[tuple[str, str]],
        body: bytes | None,
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """One request to the origin on a fresh connection: (status, reason, headers, body)."""
        conn = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT_SECONDS)
        conn.connect()
        upstream = conn.sock
        assert upstream is not None
        _nodelay(upstream)
        self._track(upstream)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in fields:
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Connection", "close")
            conn.endheaders(body)
            response = conn.getresponse()
            try:
                data = response.read(MAX_FORWARD_BODY_BYTES + 1)
            finally:
                response.close()
            if len(data) > MAX_FORWARD_BODY_BYTES:
                raise ValueError(f"response body over {MAX_FORWARD_BODY_BYTES} bytes")
            return response.status, response.reason, response.getheaders(), data
        finally:
            conn.close()
            self._untrack(upstream)


class Socks5Proxy(_Server):
    """A SOCKS5 proxy (RFC 1928, CONNECT only) with optional username/password auth
    (RFC 1929); it also answers SOCKS4 and SOCKS4a CONNECTs (no auth; the user id is
    recorded in ``socks4_user_ids``), so ``socks4://`` and ``socks4a://`` can be tested.

    - ``auth=("user", "pass")``: only method 0x02 is accepted (a client offering no-auth
      alone gets 0xFF); wrong credentials get status 0x01 and the connection closes.
      Without ``auth`` only method 0x00 is accepted.
    - ``targets``: every (host, port) asked for, recorded before the loopback check: a
      domain name as sent (``socks5h``, ``socks4a``), an IP as text (``socks5``, ``socks4``).
    - ``credentials``: every (username, password) received in RFC 1929 sub-negotiation.
    """

    _name = "socks5-proxy"

    def __init__(self, *, auth: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.auth = auth
        self._targets: list[tuple[str, int]] = []
        self._credentials: list[tuple[str, str]] = []
        self._socks4_user_ids: list[str] = []

    def start(self) -> Socks5Proxy:
        super().start()
        return self

    def __enter__(self) -> Socks5Proxy:
        return self.start()

    @property
    def url(self) -> str:
        """``socks5://127.0.0.1:PORT`` (swap the scheme for socks5h, socks4, socks4a)."""
        return f"socks5://{HOST}:{self.port}"

    @property
    def targets(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._targets)

    @property
    def credentials(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._credentials)

    @property
    def socks4_user_ids(self) -> list[str]:
        with self._lock:
            return list(self._socks4_user_ids)

    def _recv(self, sock: socket.socket, n: int, deadline: float) -> bytes:
        """Exactly `n` bytes; EOFError on a short read, socket.timeout at `deadline`."""
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("SOCKS message incomplete in time")
            sock.settimeout(remaining)
            data = sock.recv(n - len(buf))
            if not data:
                raise EOFError("the client closed mid-message")
            buf += data
        return bytes(buf)

    def _handle(self, sock: socket.socket) -> None:
        deadline = time.monotonic() + HEAD_TIMEOUT_SECONDS
        try:
            version = self._recv(sock, 1, deadline)[0]
            if version == 5:
                target = self._negotiate5(sock, deadline)
            elif version == 4:
                target = self._negotiate4(sock, deadline)
            else:
                return
        except (EOFError, socket.timeout):
            return
        if target is None:
            return
        upstream, reply_ok = target
        try:
            sock.sendall(reply_ok)
            self._relay(sock, upstream)
        finally:
            self._untrack(upstream)

    def _record_target(self, host: str, port: int) -> None:
        with self._lock:
            self._targets.append((host, port))

    def _negotiate5(
        self, sock: socket.socket, deadline: float
    ) -> tuple[socket.socket, bytes] | None:
        count = self._recv(sock, 1, deadline)[0]
        methods = self._recv(sock, count, deadline)
        wanted = 0x02 if self.auth is not None else 0x00
        if wanted not in methods:
            sock.sendall(b"\x05\xff")
            return None
        sock.sendall(bytes([5, wanted]))
        if self.auth is not None:
            if self._recv(sock, 1, deadline) != b"\x01":  # RFC 1929 sub-negotiation version
                sock.sendall(b"\x01\x01")
                return None
            user = self._recv(sock, self._recv(sock, 1, deadline)[0], deadline)
            password = self._recv(sock, self._recv(sock, 1, deadline)[0], deadline)
            pair = (user.decode("utf-8", "replace"), password.decode("utf-8", "replace"))
            with self._lock:
                self._credentials.append(pair)
            if pair != self.auth:
                sock.sendall(b"\x01\x01")
                return None
            sock.sendall(b"\x01\x00")

        def reply(code: int) -> bytes:
            return bytes([5, code, 0, 1]) + b"\x00\x00\x00\x00\x00\x00"

        ver, cmd, _, atyp = self._recv(sock, 4, deadline)
        if ver != 5:
            return None
        if atyp == 1:
            host = str(ipaddress.IPv4Address(self._recv(sock, 4, deadline)))
        elif atyp == 3:
            host = self._recv(sock, self._recv(sock, 1, deadline)[0], deadline).decode("latin-1")
        elif atyp == 4:
            host = str(ipaddress.IPv6Address(self._recv(sock, 16, deadline)))
        else:
            sock.sendall(reply(0x08))  # address type not supported
            return None
        (port,) = struct.unpack("!H", self._recv(sock, 2, deadline))
        self._record_target(host, port)
        if cmd != 1:
            sock.sendall(reply(0x07))  # command not supported
            return None
        if not _allowed(host):
            sock.sendall(reply(0x02))  # connection not allowed by ruleset
            return None
        try:
            upstream = self._connect(host, port)
        except OSError:
            sock.sendall(reply(0x05))  # connection refused
            return None
        bound_host, bound_port = upstream.getsockname()[:2]
        try:
            packed = ipaddress.ip_address(bound_host).packed
        except ValueError:
            packed = b"\x00\x00\x00\x00"
        atyp_out = 1 if len(packed) == 4 else 4
        return upstream, bytes([5, 0, 0, atyp_out]) + packed + struct.pack("!H", bound_port)

    def _read_cstring(self, sock: socket.socket, deadline: float) -> bytes:
        buf = bytearray()
        while True:
            c = self._recv(sock, 1, deadline)
            if c == b"\x00":
                return bytes(buf)
            buf += c
            if len(buf) > 255:
                raise EOFError("SOCKS4 string over 255 bytes")

    def _negotiate4(
        self, sock: socket.socket, deadline: float
    ) -> tuple[socket.socket, bytes] | None:
        cmd = self._recv(sock, 1, deadline)[0]
        (port,) = struct.unpack("!H", self._recv(sock, 2, deadline))
        address = self._recv(sock, 4, deadline)
        user_id = self._read_cstring(sock, deadline).decode("utf-8", "replace")
        with self._lock:
            self._socks4_user_ids.append(user_id)
        if address[:3] == b"\x00\x00\x00" and address[3] != 0:  # SOCKS4a: a name follows
            host = self._read_cstring(sock, deadline).decode("latin-1")
        else:
            host = str(ipaddress.IPv4Address(address))
        self._record_target(host, port)
        rejected = b"\x00\x5b" + b"\x00" * 6
        if cmd != 1 or not _allowed(host):
            sock.sendall(rejected)
            return None
        try:
            upstream = self._connect(host, port)
        except OSError:
            sock.sendall(rejected)
            return None
        return upstream, b"\x00\x5a" + struct.pack("!H", port) + address
