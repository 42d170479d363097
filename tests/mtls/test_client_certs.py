"""Client certificates (mutual TLS) against a local server that requires one: security.md
TLS-10 (without a certificate, with one, an encrypted key); api.md §2 (`client_pem`,
`client_pem_data` and their errors), §11, §14.

Every behaviour is checked for Client and AsyncClient (make_client). The server is HTTP/1.1
over TLS 1.2 or 1.3 (tests/mtls/conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import httpr
from tests.conftest import LONG_TIMEOUT
from tests.mtls.conftest import CLIENT_CN, TLS_VERSIONS, MTLSFiles, MTLSServerFactory
from tests.servers.app import payload

TIMEOUT = httpr.Timeout(LONG_TIMEOUT)
BODY_SIZE = 1000
# How long the server may take to log a refused handshake after the client has raised.
SERVER_NOTE_SECONDS = 2.0


@pytest.fixture
def mtls_client(make_client: Any, mtls_files: MTLSFiles) -> Any:
    """``mtls_client(**kwargs)``: make_client trusting the server's CA, bounded timeout."""

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("ca_cert_file", str(mtls_files.server_ca))
        return make_client(**kwargs)

    return make


def seen_cn(response: httpr.Response) -> str:
    """The commonName of the client certificate the server verified (``/whoami``)."""
    assert response.status_code == 200
    subject = response.json()
    assert isinstance(subject, dict)
    return str(subject["commonName"])


# -- with a certificate -----------------------------------------------------------------------


@pytest.mark.parametrize("tls_version", sorted(TLS_VERSIONS))
def test_client_pem_file_is_presented(
    tls_version: str, mtls_client: Any, mtls_server: MTLSServerFactory, mtls_files: MTLSFiles
) -> None:
    srv = mtls_server(tls_version)
    client = mtls_client(client_pem=str(mtls_files.client_pem))
    r = client.get(f"{srv.url}/whoami")
    assert r.status_code == 200
    # The server verified the certificate against the client CA and saw its subject.
    assert seen_cn(r) == CLIENT_CN
    assert client.get(f"{srv.url}/bytes?size={BODY_SIZE}").content == payload(BODY_SIZE)
    assert srv.handshake_errors == []


def test_client_pem_as_path_object(
    mtls_client: Any, mtls_server: MTLSServerFactory, mtls_files: MTLSFiles
) -> None:
    srv = mtls_server()
    r = mtls_client(client_pem=Path(mtls_files.client_pem)).get(f"{srv.url}/whoami")
    assert seen_cn(r) == CLIENT_CN


def test_client_pem_data_is_presented(
    mtls_client: Any, mtls_server: MTLSServerFactory, mtls_files: MTLSFiles
) -> None:
    srv = mtls_server()
    client = mtls_client(client_pem_data=mtls_files.client_pem_data)
    r = client.get(f"{srv.url}/whoami")
    assert r.status_code == 200
    assert seen_cn(r) == CLIENT_CN
    assert srv.handshake_errors == []


# -- refused ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tls_version", sorted(TLS_VERSIONS))
def test_no_client_certificate_is_refused(
    tls_version: str, mtls_client: Any, mtls_server: MTLSServerFactory
) -> None:
    srv = mtls_server(tls_version)
    url = f"{srv.url}/bytes?size={BODY_SIZE}"
    with pytest.raises(httpr.TransportError) as info:
        mtls_client().get(url)
    exc = info.value
    assert f"GET {url}" in str(exc), str(exc)
    if tls_version == "TLSv1.2":
        # The server's refusal ends the handshake: a TLS failure (api.md §11, §14), named by
        # OpenSSL's text for the server's alert ("sslv3 alert handshake failure").
        assert type(exc) is httpr.ConnectError, repr(exc)
        assert "alert handshake failure" in str(exc), str(exc)
    else:
        # TLS 1.3: the client's handshake is over before the server checks its (empty)
        # Certificate, so the refusal comes after it. Seen with libcurl 7.88.1 + OpenSSL 3.0:
        # usually ReadError "OpenSSL SSL_read: ... tlsv13 alert certificate required" (the
        # alert read with the response); sometimes, when the server has already closed as
        # libcurl sends the request, WriteError whose text is libcurl's earlier, non-fatal
        # "getpeername() failed with errno 107" (libcurl keeps the first error text).
        assert isinstance(exc, (httpr.ConnectError, httpr.ReadError, httpr.WriteError)), repr(exc)
        if isinstance(exc, httpr.ReadError):
            assert "certificate required" in str(exc), str(exc)
    assert srv.wait_handshake_errors(1, SERVER_NOTE_SECONDS)


def test_certificate_from_untrusted_ca_is_refused(
    mtls_client: Any, mtls_server: MTLSServerFactory, mtls_files: MTLSFiles
) -> None:
    srv = mtls_server()
    with pytest.raises(httpr.TransportError):
        mtls_client(client_pem=str(mtls_files.untrusted_client_pem)).get(f"{srv.url}/whoami")
    assert srv.wait_handshake_errors(1, SERVER_NOTE_SECONDS)


# -- construction errors (api.md §2: checked before I/O) -----------------------------------


def test_missing_client_pem_raises_oserror(make_client: Any, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        make_client(client_pem=str(tmp_path / "missing.pem"))


@pytest.mark.parametrize("form", ["cert_only", "key_only"])
@pytest.mark.parametrize("source", ["client_pem", "client_pem_data"])
def test_pem_without_certificate_or_key_raises_valueerror(
    form: str, source: str, make_client: Any, mtls_files: MTLSFiles
) -> None:
    path: Path = getattr(mtls_files, form)
    value: object = str(path) if source == "client_pem" else path.read_bytes()
    with pytest.raises(ValueError, match=source):
        make_client(**{source: value})


@pytest.mark.parametrize("form", ["pkcs8", "traditional"])
@pytest.mark.parametrize("source", ["client_pem", "client_pem_data"])
def test_encrypted_key_raises_valueerror(
    form: str, source: str, make_client: Any, mtls_files: MTLSFiles
) -> None:
    # TLS-10: httpr takes no key password (api.md §2: "encrypted key → ValueError").
    path = mtls_files.encrypted[form]
    assert b"ENCRYPTED" in path.read_bytes()  # the fixture did encrypt it
    value: object = str(path) if source == "client_pem" else path.read_bytes()
    with pytest.raises(ValueError, match="encrypted"):
        make_client(**{source: value})


def test_client_pem_and_client_pem_data_together_raise(
    make_client: Any, mtls_files: MTLSFiles
) -> None:
    with pytest.raises(ValueError) as info:
        make_client(
            client_pem=str(mtls_files.client_pem), client_pem_data=mtls_files.client_pem_data
        )
    assert str(info.value) == "Only one of client_pem or client_pem_data may be set."
