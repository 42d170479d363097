"""Plain helpers for the request-API integration tests: reading /echo, building redirect
URLs, an HTTPS variant of the app server, small scripted servers.

Fixtures live in ``conftest.py`` beside this file; everything here is importable as
``tests.requests_api._support``.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import socket
import ssl
import threading
import time
from email.message import EmailMessage
from typing import Any, Callable
from urllib.parse import quote

from tests.servers import app
from tests.servers.app import TestServer

# A request that should succeed gets this long (seconds); tests stay well below it.
OK_TIMEOUT = 5.0


# -- /echo -------------------------------------------------------------------------------------


def echo(response: Any) -> dict[str, Any]:
    """The JSON document /echo answered (method, path, query, headers, body...)."""
    assert response.status_code == 200, (response.status_code, response.url)
    data = response.json()
    assert isinstance(data, dict)
    return data


def wire(response: Any) -> list[tuple[str, str]]:
    """The header lines /echo received, as (name, value) pairs in wire order."""
    return [(k, v) for k, v in echo(response)["headers"]]


def values(response: Any, name: str) -> list[str]:
    """Every value of header `name` /echo received (case-insensitive), in order."""
    return [v for k, v in wire(response) if k.lower() == name.lower()]


def body_bytes(response: Any) -> bytes:
    """The request body /echo received (it is sent back latin-1 decoded)."""
    return str(echo(response)["body"]).encode("latin-1")


def basic(user: str, password: str | None) -> str:
    """``Authorization: Basic`` value for (user, password); ``None`` password = empty."""
    raw = f"{user}:{password or ''}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def redirect(base: str, to: str, code: int = 302) -> str:
    """``{base}/redirect?to=<to>&code=<code>`` with `to` percent-encoded."""
    return f"{base}/redirect?to={quote(to, safe='')}&code={code}"


def with_host(url: str, host: str) -> str:
    """`url` (``scheme://127.0.0.1:PORT...``) under another loopback host name."""
    assert "://127.0.0.1:" in url, url
    return url.replace("://127.0.0.1:", f"://{host}:", 1)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def parse_multipart(content_type: str, body: bytes) -> EmailMessage:
    """A multipart/form-data body parsed by the stdlib email parser."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    assert isinstance(msg, EmailMessage)
    assert msg.is_multipart(), content_type
    return msg


def as_hook(kind: str, fn: Callable[[Any], None]) -> Callable[[Any], Any]:
    """`fn` as an event hook for a client of `kind` (``make_client.kind``): a coroutine
    function for AsyncClient (api.md 2: its hooks must be async), `fn` itself otherwise."""
    if kind == "sync":
        return fn

    async def hook(arg: Any) -> None:
        fn(arg)

    return hook


def log_text(records: list[Any]) -> str:
    """Every log record of `records` rendered, for "secret not in" checks."""
    parts = []
    for rec in records:
        parts.append(rec.getMessage())
        parts.append(json.dumps([repr(a) for a in (rec.args or ())]))
    return "\n".join(parts)


# -- the app server over TLS -------------------------------------------------------------------


class _TLSHandler(app._Handler):
    """The app server's handler behind a TLS handshake done in the handler thread."""

    handshake_ok = False

    def setup(self) -> None:
        conn = self.request
        assert isinstance(conn, ssl.SSLSocket)
        try:
            conn.settimeout(OK_TIMEOUT)
            conn.do_handshake()
            self.handshake_ok = True
        except (ssl.SSLError, OSError):
            srv = self.server
            assert isinstance(srv, _TLSAppHTTPServer)
            with srv.lock:
                srv.handshake_failures += 1
        super().setup()

    def handle(self) -> None:
        if self.handshake_ok:
            super().handle()


class _TLSAppHTTPServer(app._Server):
    """app._Server whose accepted sockets are wrapped in TLS (handshake in the handler)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.handshake_failures = 0
        super().__init__()
        self.RequestHandlerClass = _TLSHandler

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.lock:
            self.accepted += 1
            self.open_sockets.add(tls)
        return tls, addr


class TLSAppServer(TestServer):
    """Every endpoint of the app server (/echo, /redirect, /headers...) over HTTPS/1.1 on
    127.0.0.1, with a certificate for ``localhost`` and ``127.0.0.1`` from the test CA."""

    __test__ = False

    def __init__(self, certfile: str, keyfile: str) -> None:
        super().__init__()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        context.set_alpn_protocols(["http/1.1"])
        self._context = context

    def start(self) -> TLSAppServer:
        if self._server is not None:
            raise RuntimeError("TLSAppServer already started")
        server = _TLSAppHTTPServer(self._context)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": app.POLL_INTERVAL_SECONDS},
            name=f"httpr-tls-app-server:{server.server_port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``, without a trailing slash."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def handshake_failures(self) -> int:
        srv = self._srv
        assert isinstance(srv, _TLSAppHTTPServer)
        with srv.lock:
            return srv.handshake_failures


# -- a listener that appears late (retries) ----------------------------------------------------


class LateListener:
    """Starts listening on `port` only `delay` seconds after `start()`; then answers every
    connection with ``200 ok`` and closes it. Until then connecting is refused.

    ``attempt_times`` are not observable for refused connects, so tests read the schedule
    off the outcome: which attempt found the listener, and when.
    """

    RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

    def __init__(self, port: int, delay: float) -> None:
        self.port = port
        self.delay = delay
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.listening_since: float | None = None

    def start(self) -> LateListener:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        listener = socket.socket()
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(16)
            listener.settimeout(0.05)
            self.listening_since = time.monotonic() - self._t0
            while not self._stop.is_set():
                try:
                    conn, _ = listener.accept()
                except socket.timeout:
                    continue
                self.accepted += 1
                with conn:
                    conn.settimeout(OK_TIMEOUT)
                    try:
                        buf = b""
                        while b"\r\n\r\n" not in buf:
                            data = conn.recv(65536)
                            if not data:
                                break
                            buf += data
                        conn.sendall(self.RESPONSE)
                    except OSError:
                        pass
        finally:
            listener.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
