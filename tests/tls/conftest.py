"""Certificates and HTTPS servers for the TLS tests (security.md TLS-01..08, api.md §11).

Every certificate comes from trustme (style.md: none committed) and is written once per
session to a temporary directory:

- `TLSFiles.ca`: the test CA; `TLSFiles.other_ca`: an unrelated CA.
- leaves, served by `tls_server(kind)`: ``"good"`` (SANs localhost, 127.0.0.1, ::1),
  ``"expired"`` (same SANs, notAfter in the past), ``"wrong-host"`` (SAN wrong.example only,
  served on 127.0.0.1 so the host name cannot match), ``"other-ca"`` (good SANs, issued by
  the unrelated CA), ``"cn-only"`` (CN=localhost, no SAN extension at all).

`tls_server(kind, host=...)` starts a threaded HTTPS/1.1 server (ALPN ``http/1.1`` only) on
an ephemeral port, stopped after the test. It answers ``GET /bytes?size=N`` with
``payload(N)`` and anything else with 404; it counts accepted connections and completed
handshakes; handshake failures are counted, never printed (warnings are errors).
"""

from __future__ import annotations

import datetime
import http.server
import socket
import socketserver
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers.app import payload

# The leaves `tls_server` can serve.
CERT_KINDS = ("good", "expired", "wrong-host", "other-ca", "cn-only")
# Identities of the good leaf (TLS-01, and TLS-05's IP SAN).
GOOD_IDENTITIES = ("localhost", "127.0.0.1", "::1")
WRONG_HOST = "wrong.example"
# /bytes answers at most this much: these servers are for handshakes, not throughput.
MAX_BODY_BYTES = 16 * 1024 * 1024
# A server-side handshake that has not finished by then is dropped (a stalled client).
HANDSHAKE_TIMEOUT_SECONDS = 5.0
# An idle keep-alive connection is closed after this; stop() wakes idle ones at once anyway.
IDLE_TIMEOUT_SECONDS = 10.0
# serve_forever()'s poll interval, and how long stop() waits for handler threads.
POLL_INTERVAL_SECONDS = 0.05
STOP_JOIN_SECONDS = 2.0
# Response head and body leave in one buffered write (one TLS record, no Nagle stall).
WRITE_BUFFER_BYTES = 256 * 1024


@dataclass(frozen=True)
class TLSFiles:
    """PEM files of one test session."""

    ca: Path  # the test CA's certificate
    other_ca: Path  # an unrelated CA's certificate
    no_cert: Path  # a PEM file holding only a private key (no certificate)
    chains: dict[str, Path]  # kind -> leaf certificate chain
    keys: dict[str, Path]  # kind -> leaf private key


def _cn_only_leaf(ca: trustme.CA) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for CN=localhost without a subjectAltName, issued by `ca`.

    trustme always adds a SAN extension (empty when only common_name is given), which is not
    the legacy certificate TLS-05 is about, so this one is built with cryptography directly.
    """
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    """The session's test CA (in no default trust store)."""
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_files(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """Every certificate file of the session, written once."""
    directory = tmp_path_factory.mktemp("tls")
    other_ca = trustme.CA()
    now = datetime.datetime.now(datetime.timezone.utc)
    leaves = {
        "good": tls_ca.issue_cert(*GOOD_IDENTITIES),
        "expired": tls_ca.issue_cert(
            *GOOD_IDENTITIES,
            not_before=now - datetime.timedelta(days=30),
            not_after=now - datetime.timedelta(days=1),
        ),
        "wrong-host": tls_ca.issue_cert(WRONG_HOST),
        "other-ca": other_ca.issue_cert(*GOOD_IDENTITIES),
    }
    chains: dict[str, Path] = {}
    keys: dict[str, Path] = {}
    for kind, leaf in leaves.items():
        chains[kind] = directory / f"{kind}.chain.pem"
        keys[kind] = directory / f"{kind}.key.pem"
        chains[kind].write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(keys[kind]))
    cn_cert, cn_key = _cn_only_leaf(tls_ca)
    chains["cn-only"] = directory / "cn-only.chain.pem"
    keys["cn-only"] = directory / "cn-only.key.pem"
    chains["cn-only"].write_bytes(cn_cert)
    keys["cn-only"].write_bytes(cn_key)
    assert set(chains) == set(CERT_KINDS)

    files = TLSFiles(
        ca=directory / "ca.pem",
        other_ca=directory / "other-ca.pem",
        no_cert=directory / "key-only.pem",
        chains=chains,
        keys=keys,
    )
    tls_ca.cert_pem.write_to_path(str(files.ca))
    other_ca.cert_pem.write_to_path(str(files.other_ca))
    files.no_cert.write_bytes(tls_ca.private_key_pem.bytes())
    return files


class _Handler(http.server.BaseHTTPRequestHandler):
    """One TLS connection: handshake first (counted), then HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"
    server_version = "httpr-tls-test"
    disable_nagle_algorithm = True  # TCP_NODELAY: no 40 ms delayed-ACK stalls
    wbufsize = WRITE_BUFFER_BYTES  # head + body flushed together by handle_one_request
    timeout = IDLE_TIMEOUT_SECONDS

    @property
    def _srv(self) -> _TLSServer:
        assert isinstance(self.server, _TLSServer)
        return self.server

    def handle(self) -> None:
        conn = self.connection
        assert isinstance(conn, ssl.SSLSocket)
        try:
            conn.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            conn.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self._srv.note(failed=exc)
            return
        self._srv.note(resumed=bool(conn.session_reused))
        conn.settimeout(IDLE_TIMEOUT_SECONDS)
        super().handle()

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        if split.path != "/bytes":
            self._respond(404, b"not found")
            return
        query = dict(parse_qsl(split.query))
        try:
            size = int(query.get("size", "0"))
        except ValueError:
            size = -1
        if not 0 <= size <= MAX_BODY_BYTES:
            self._respond(400, b"bad size")
            return
        self._respond(200, payload(size))

    def _respond(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence: tests read stderr."""


class _TLSServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer whose accepted sockets are wrapped in TLS (handshake deferred to
    the handler thread, so a stalled client cannot block the accept loop)."""

    daemon_threads = True

    def __init__(self, host: str, context: ssl.SSLContext) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.context = context
        self.lock = threading.Lock()
        self.accepted = 0
        self.handshakes = 0
        self.resumed = 0
        self.handshake_errors: list[BaseException] = []
        self.errors: list[BaseException] = []
        self.open_sockets: set[socket.socket] = set()
        super().__init__((host, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() would do a reverse DNS lookup (socket.getfqdn).
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.lock:
            self.accepted += 1
            self.open_sockets.add(tls)
        return tls, addr

    def note(self, *, failed: BaseException | None = None, resumed: bool = False) -> None:
        with self.lock:
            if failed is not None:
                self.handshake_errors.append(failed)
            else:
                self.handshakes += 1
                self.resumed += int(resumed)

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self.lock:
                self.open_sockets.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep the error (a client that went away mid-request) instead of printing it."""
        exc = sys.exc_info()[1]
        if exc is not None:
            with self.lock:
                self.errors.append(exc)


class TLSServer:
    """A started HTTPS server; `url` is ``https://HOST:PORT`` (no trailing slash)."""

    __test__ = False

    def __init__(self, chain: Path, key: Path, host: str = "127.0.0.1") -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(chain), str(key))
        context.set_alpn_protocols(["http/1.1"])  # no h2: this server speaks HTTP/1.1 only
        self._server = _TLSServer(host, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
            name=f"httpr-tls-server:{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        self.host = host

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def url_for(self, host: str) -> str:
        """The same server under another host name (``localhost`` for 127.0.0.1)."""
        return f"https://{host}:{self.port}"

    def _locked(self, name: str) -> Any:
        with self._server.lock:
            value = getattr(self._server, name)
            return list(value) if isinstance(value, list) else value

    @property
    def connections_accepted(self) -> int:
        return int(self._locked("accepted"))

    @property
    def handshakes(self) -> int:
        """Handshakes completed (the client accepted the certificate, or did not check)."""
        return int(self._locked("handshakes"))

    @property
    def resumed(self) -> int:
        """Completed handshakes that resumed an earlier TLS session."""
        return int(self._locked("resumed"))

    @property
    def handshake_errors(self) -> list[BaseException]:
        return list(self._locked("handshake_errors"))

    def wait_handshake_errors(self, count: int, timeout: float) -> bool:
        """Wait until `count` handshakes have failed server-side (the client's alert arrives
        a moment after the client has raised)."""
        deadline = time.monotonic() + timeout
        while len(self.handshake_errors) < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def stop(self) -> None:
        server = self._server
        server.shutdown()
        self._thread.join(STOP_JOIN_SECONDS)
        with server.lock:
            sockets = list(server.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes handler threads blocked in recv()
            except OSError:
                pass
        deadline = time.monotonic() + STOP_JOIN_SECONDS
        while time.monotonic() < deadline:
            with server.lock:
                if not server.open_sockets:
                    break
            time.sleep(0.005)
        server.server_close()


TLSServerFactory = Callable[..., TLSServer]


@pytest.fixture
def tls_server(tls_files: TLSFiles) -> Iterator[TLSServerFactory]:
    """A factory: ``tls_server(kind, host="127.0.0.1")`` starts an HTTPS server serving the
    leaf `kind` (one of CERT_KINDS), stopped after the test. Binding ``::1`` skips the test
    when IPv6 loopback is unavailable."""
    started: list[TLSServer] = []

    def start(kind: str, host: str = "127.0.0.1") -> TLSServer:
        if kind not in CERT_KINDS:
            raise ValueError(f"unknown certificate kind {kind!r}")
        try:
            srv = TLSServer(tls_files.chains[kind], tls_files.keys[kind], host)
        except OSError as exc:
            if host == "::1":
                pytest.skip(f"cannot bind ::1: {exc}")
            raise
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
