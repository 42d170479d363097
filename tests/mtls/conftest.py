"""Client certificates and an HTTPS server that requires one (security.md TLS-10; api.md §2
`client_pem`, `client_pem_data`, §11).

Every certificate comes from trustme, written once per session (`MTLSFiles`):

- the server's leaf (127.0.0.1, localhost) from `server_ca`, which clients trust;
- the client's leaf (CN `CLIENT_CN`) from a second CA, `client_ca`, the only one the server
  accepts client certificates from; and a client leaf from an unrelated CA, which it refuses;
- the client PEM in the forms api.md §2 accepts or rejects: certificate + key in one file,
  certificate only, key only, and the key encrypted (PKCS #8 and the traditional OpenSSL
  ``Proc-Type: 4,ENCRYPTED`` form; trustme cannot encrypt, so `cryptography` does).

`mtls_server(tls_version)` reuses tests/tls/conftest.py's threaded HTTPS/1.1 server: its
`ssl.SSLContext` is switched to ``CERT_REQUIRED`` with `client_ca` loaded before any client
connects, and its handler answers ``GET /whoami`` with the client certificate's subject as
JSON (``{"commonName": ...}``). Handshakes the server refused are in `handshake_errors`.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, cast
from urllib.parse import urlsplit

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from tests.tls.conftest import TLSServer, _Handler, _TLSServer

CLIENT_CN = "httpr mtls client"
KEY_PASSWORD = b"correct horse battery staple"
TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class MTLSFiles:
    """PEM files of one test session."""

    server_ca: Path  # trust anchor for the client (ca_cert_file)
    server_chain: Path
    server_key: Path
    client_ca: Path  # the server trusts client certificates from this CA only
    client_pem: Path  # client certificate chain + unencrypted key, one file
    client_pem_data: bytes  # the same bytes
    untrusted_client_pem: Path  # certificate + key from a CA the server does not trust
    cert_only: Path  # the client certificate, no key
    key_only: Path  # the client key, no certificate
    encrypted: dict[str, Path]  # "pkcs8" / "traditional" -> certificate + encrypted key


def _encrypted_key(key_pem: bytes, form: serialization.PrivateFormat) -> bytes:
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM, form, serialization.BestAvailableEncryption(KEY_PASSWORD)
    )


@pytest.fixture(scope="session")
def mtls_files(tmp_path_factory: pytest.TempPathFactory) -> MTLSFiles:
    directory = tmp_path_factory.mktemp("mtls")
    server_ca, client_ca, other_ca = trustme.CA(), trustme.CA(), trustme.CA()
    server_leaf = server_ca.issue_cert("127.0.0.1", "localhost")
    # trustme leaves carry ExtendedKeyUsage clientAuth as well as serverAuth.
    client_leaf = client_ca.issue_cert("client.example", common_name=CLIENT_CN)
    other_leaf = other_ca.issue_cert("client.example", common_name=CLIENT_CN)

    def chain(leaf: trustme.LeafCert) -> bytes:
        return b"".join(blob.bytes() for blob in leaf.cert_chain_pems)

    def write(name: str, data: bytes) -> Path:
        path = directory / name
        path.write_bytes(data)
        return path

    client_cert = chain(client_leaf)
    client_key = client_leaf.private_key_pem.bytes()
    forms = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
    }
    return MTLSFiles(
        server_ca=write("server-ca.pem", server_ca.cert_pem.bytes()),
        server_chain=write("server.chain.pem", chain(server_leaf)),
        server_key=write("server.key.pem", server_leaf.private_key_pem.bytes()),
        client_ca=write("client-ca.pem", client_ca.cert_pem.bytes()),
        client_pem=write("client.pem", client_cert + client_key),
        client_pem_data=client_cert + client_key,
        untrusted_client_pem=write(
            "untrusted-client.pem", chain(other_leaf) + other_leaf.private_key_pem.bytes()
        ),
        cert_only=write("client-cert-only.pem", client_cert),
        key_only=write("client-key-only.pem", client_key),
        encrypted={
            name: write(
                f"client-encrypted-{name}.pem", client_cert + _encrypted_key(client_key, form)
            )
            for name, form in forms.items()
        },
    )


class _MTLSHandler(_Handler):
    """tests/tls's handler plus ``GET /whoami``: the verified client certificate's subject."""

    def do_GET(self) -> None:
        if urlsplit(self.path).path != "/whoami":
            super().do_GET()
            return
        conn = self.connection
        assert isinstance(conn, ssl.SSLSocket)
        cert = conn.getpeercert() or {}
        # getpeercert(): "subject" is a tuple of RDNs, each a tuple of (name, value) pairs.
        rdns = cast("tuple[tuple[tuple[str, str], ...], ...]", cert.get("subject", ()))
        subject = {key: value for rdn in rdns for key, value in rdn}
        self._respond(200, json.dumps(subject).encode())


class MTLSServer(TLSServer):
    """An HTTPS/1.1 server that requires a client certificate issued by `client_ca`."""

    def __init__(
        self, chain: Path, key: Path, client_ca: Path, version: ssl.TLSVersion | None = None
    ) -> None:
        super().__init__(chain, key)
        # The base class starts serving at once with a context of its own; no client has
        # connected yet, and the context is read at each accept, so it is changed here.
        server = self._server
        assert isinstance(server, _TLSServer)
        context = server.context
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(client_ca))
        if version is not None:
            context.minimum_version = context.maximum_version = version
        server.RequestHandlerClass = _MTLSHandler


MTLSServerFactory = Callable[..., MTLSServer]


@pytest.fixture
def mtls_server(mtls_files: MTLSFiles) -> Iterator[MTLSServerFactory]:
    """A factory: ``mtls_server(tls_version=None)`` (``"TLSv1.2"``, ``"TLSv1.3"`` or any)
    starts a server requiring a client certificate, stopped after the test."""
    started: list[MTLSServer] = []

    def start(tls_version: str | None = None) -> MTLSServer:
        version = TLS_VERSIONS[tls_version] if tls_version is not None else None
        srv = MTLSServer(
            mtls_files.server_chain, mtls_files.server_key, mtls_files.client_ca, version
        )
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
