"""TLS against local trustme servers: trust store choice, verification failures, handshake
faults, and that `verify=False` never leaks into another client.

api.md §2 (`verify`, `ca_cert_file`), §11, §12 (`HTTPR_CA_BUNDLE`), §13 (no retry of TLS
verification failures), §14; security.md R8 and TLS-01..08; amendments 1.7, 2.3, 2.4.
Each test names its security.md row. Only 127.0.0.1, localhost and ::1 are used: the
certificate for ``wrong.example`` is served on 127.0.0.1 and reached as 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import httpr
from httpr._curl import CURL
from tests.conftest import LONG_TIMEOUT, assert_on_time
from tests.servers.app import payload
from tests.servers.raw import RawServer, close_gracefully, hold
from tests.tls.conftest import TLSFiles, TLSServerFactory

BODY_SIZE = 10_000
# TLS-08: the connect phase limit; the handshake stalls, so it must fire on time.
STALL_CONNECT_TIMEOUT = 0.3
# Every client here: a request that should succeed has LONG_TIMEOUT to do so.
TIMEOUT = httpr.Timeout(LONG_TIMEOUT)
# Variables other tools read for a CA bundle; httpr ignores them all (api.md §11, §12).
FOREIGN_CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
OPENSSL_BACKEND = CURL.ssl_version.startswith("OpenSSL/")


def new_client(**kwargs: Any) -> httpr.Client:
    """httpr.Client(**kwargs), for the path-typed `verify`/`ca_cert_file` values (api.md §2:
    str or os.PathLike) that the constructor's annotations may not spell out yet."""
    return httpr.Client(**kwargs)


def bytes_url(base: str, size: int = BODY_SIZE) -> str:
    return f"{base}/bytes?size={size}"


def assert_ok(response: httpr.Response, size: int = BODY_SIZE) -> None:
    assert response.status_code == 200
    assert response.content == payload(size)


def connect_error(client: httpr.Client, url: str) -> httpr.ConnectError:
    """The ConnectError of ``client.get(url)``; its message names ``GET url`` (api.md §14)."""
    with pytest.raises(httpr.ConnectError) as info:
        client.get(url)
    exc = info.value
    assert not isinstance(exc, httpr.ProxyError)  # no proxy is in use
    assert f"GET {url}" in str(exc), str(exc)
    assert exc.request is not None and exc.request.url == url
    return exc


def assert_names(exc: BaseException, *words: str) -> None:
    """The message names the cause: each of `words` appears (case-insensitive)."""
    text = str(exc).lower()
    for word in words:
        assert word.lower() in text, f"{word!r} not in {str(exc)!r}"


# -- TLS-01, TLS-05: trusted certificates --------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
def test_trusted_certificate_every_loopback_name(
    host: str, tls_server: TLSServerFactory, tls_files: TLSFiles
) -> None:
    # TLS-01 (and TLS-05's IP SANs: 127.0.0.1 and ::1 match only as iPAddress entries).
    srv = tls_server("good", "::1" if host == "::1" else "127.0.0.1")
    base = srv.url if host == "::1" else srv.url_for(host)
    with httpr.Client(ca_cert_file=str(tls_files.ca), timeout=TIMEOUT) as client:
        first = client.get(bytes_url(base))
        second = client.get(bytes_url(base))
    assert_ok(first)
    assert_ok(second)
    # The server offers only http/1.1 by ALPN; libcurl would take h2 if offered (api.md §11).
    assert first.http_version == "HTTP/1.1"
    assert first.timings.new_connection is True
    assert first.timings.tls_handshake > 0
    assert first.timings.tls_handshake >= first.timings.connect
    # The second request reuses the connection: no handshake (amendment 2.13).
    assert second.timings.new_connection is False
    assert second.timings.tls_handshake == 0.0
    assert srv.connections_accepted == 1
    assert srv.handshakes == 1


def test_verify_path_str_and_pathlike_trust_that_file(
    tls_server: TLSServerFactory, tls_files: TLSFiles
) -> None:
    # TLS-01 via api.md §2: verify=<path> is verify=True with that ca_cert_file (amendment
    # 4.7); str and os.PathLike alike.
    url = bytes_url(tls_server("good").url)
    for verify in (str(tls_files.ca), tls_files.ca):
        with new_client(verify=verify, timeout=TIMEOUT) as client:
            assert_ok(client.get(url))
    # Still verifying: a path that does not hold the server's CA fails.
    with new_client(verify=tls_files.other_ca, timeout=TIMEOUT) as client:
        assert_names(connect_error(client, url), "certificate")


def test_ca_cert_file_accepts_pathlike(tls_server: TLSServerFactory, tls_files: TLSFiles) -> None:
    # TLS-01: ca_cert_file is "a path" (api.md §2): os.PathLike too.
    with new_client(ca_cert_file=tls_files.ca, timeout=TIMEOUT) as client:
        assert_ok(client.get(bytes_url(tls_server("good").url)))


def test_cn_only_certificate_is_refused(tls_server: TLSServerFactory, tls_files: TLSFiles) -> None:
    # TLS-05 / R8 / amendment 2.3: a certificate naming its host only in the subject CN (no
    # subjectAltName) is refused with the OpenSSL backend; other backends accept it (the
    # documented limitation), so the case is skipped there.
    if not OPENSSL_BACKEND:
        pytest.skip(f"CN-only refusal is OpenSSL-only; libcurl uses {CURL.ssl_version}")
    url = bytes_url(tls_server("cn-only").url_for("localhost"))
    with httpr.Client(ca_cert_file=str(tls_files.ca), timeout=TIMEOUT) as client:
        exc = connect_error(client, url)
    assert_names(exc, "certificate")


# -- TLS-02/03/04: verification failures ---------------------------------------------------


def test_unknown_ca_default_trust_store(tls_server: TLSServerFactory) -> None:
    # TLS-02 / R8: verification is on by default, and the trustme CA is in no default store.
    url = bytes_url(tls_server("good").url)
    with httpr.Client(timeout=TIMEOUT) as client:
        exc = connect_error(client, url)
    assert_names(exc, "certificate")


def test_unknown_ca_with_ca_cert_file_of_another_ca(
    tls_server: TLSServerFactory, tls_files: TLSFiles
) -> None:
    # TLS-02: the file replaces the trust store; a leaf of an unlisted CA is refused, both
    # ways round (server of the other CA, client trusting the test CA, and vice versa).
    with httpr.Client(ca_cert_file=str(tls_files.ca), timeout=TIMEOUT) as client:
        exc = connect_error(client, bytes_url(tls_server("other-ca").url))
    assert_names(exc, "certificate", "issuer")
    with httpr.Client(ca_cert_file=str(tls_files.other_ca), timeout=TIMEOUT) as client:
        exc = connect_error(client, bytes_url(tls_server("good").url))
    assert_names(exc, "certificate", "issuer")


def test_expired_certificate(tls_server: TLSServerFactory, tls_files: TLSFiles) -> None:
    # TLS-03: an expired leaf of a trusted CA.
    url = bytes_url(tls_server("expired").url)
    with httpr.Client(ca_cert_file=str(tls_files.ca), timeout=TIMEOUT) as client:
        exc = connect_error(client, url)
    assert_names(exc, "certificate", "expired")


def test_wrong_host_name(tls_server: TLSServerFactory, tls_files: TLSFiles) -> None:
    # TLS-04: a trusted leaf for wrong.example, reached as 127.0.0.1.
    url = bytes_url(tls_server("wrong-host").url)
    with httpr.Client(ca_cert_file=str(tls_files.ca), timeout=TIMEOUT) as client:
        exc = connect_error(client, url)
    text = str(exc).lower()
    assert "host name" in text or "hostname" in text, str(exc)


def test_verification_failure_is_not_retried_and_client_stays_usable(
    tls_server: TLSServerFactory, tls_files: TLSFiles
) -> None:
    # TLS-02 / api.md §13: retries never repeat a TLS verification failure; the client
    # serves the next (trusted) origin normally.
    bad = tls_server("expired")
    good = tls_server("good")
    with httpr.Client(ca_cert_file=str(tls_files.ca), retries=3, timeout=TIMEOUT) as client:
        start = time.monotonic()
        connect_error(client, bytes_url(bad.url))
        elapsed = time.monotonic() - start
        assert_ok(client.get(bytes_url(good.url)))
    assert bad.connections_accepted == 1
    assert elapsed < 0.1 * (1 + 2 + 4), f"{elapsed:.3f} s: retried with backoff?"


@pytest.mark.parametrize("kind", ["good", "other-ca", "expired", "wrong-host", "cn-only"])
def test_verify_false_accepts_any_certificate(kind: str, tls_server: TLSServerFactory) -> None:
    # TLS-02..05 / R8: verify=False accepts any certificate, whatever is wrong with it.
    url = bytes_url(tls_server(kind).url)
    with httpr.Client(verify=False, timeout=TIMEOUT) as client:
        assert_ok(client.get(url))


# -- TLS-06: verify=False never serves another client --------------------------------------


@pytest.mark.parametrize("close_first", [False, True], ids=["open", "closed"])
def test_verify_false_connection_never_serves_a_verifying_client(
    close_first: bool, tls_server: TLSServerFactory, tls_files: TLSFiles
) -> None:
    # TLS-06 / R8 / amendment 1.7 (requests CVE-2024-35195): same origin, untrusted
    # certificate; the verify=False client requests first and succeeds, then the verifying
    # clients (default store, and a file without the server's CA) still fail, on their own
    # connections, whether the first client is still open (its connection pooled) or not.
    srv = tls_server("good")
    url = bytes_url(srv.url)
    insecure = httpr.Client(verify=False, timeout=TIMEOUT)
    try:
        assert_ok(insecure.get(url))
        assert_ok(insecure.get(url))  # its connection is kept alive and pooled
        if close_first:
            insecure.close()
        with httpr.Client(timeout=TIMEOUT) as default_store:
            assert_names(connect_error(default_store, url), "certificate")
        with httpr.Client(ca_cert_file=str(tls_files.other_ca), timeout=TIMEOUT) as other:
            assert_names(connect_error(other, url), "certificate")
        if not close_first:
            assert_ok(insecure.get(url))  # the insecure client is unaffected
    finally:
        insecure.close()
    # One connection for the insecure client, one refused handshake per verifying client.
    assert srv.handshakes == 1
    assert srv.connections_accepted == 3
    assert srv.resumed == 0


def test_verify_false_session_not_resumed_by_verifying_client(
    tls_server: TLSServerFactory, tls_files: TLSFiles
) -> None:
    # TLS-06: a TLS session the verify=False client got is not offered by a client that
    # verifies; the verifying client, trusting the CA, does a full handshake of its own.
    srv = tls_server("good")
    url = bytes_url(srv.url)
    with httpr.Client(verify=False, timeout=TIMEOUT) as insecure:
        assert_ok(insecure.get(url))
        with httpr.Client(ca_cert_file=str(tls_files.ca), timeout=TIMEOUT) as trusting:
            r = trusting.get(url)
            assert_ok(r)
            assert r.timings.new_connection is True
    assert srv.handshakes == 2
    assert srv.resumed == 0


# -- TLS-07/08: handshake faults ------------------------------------------------------------


def _close_at_once(sock: socket.socket) -> None:
    sock.close()


def _close_after_client_hello(sock: socket.socket) -> None:
    sock.settimeout(LONG_TIMEOUT)
    sock.recv(65536)  # the ClientHello (or its first part)
    close_gracefully(sock)


def _answer_in_plain_http(sock: socket.socket) -> None:
    sock.settimeout(LONG_TIMEOUT)
    sock.recv(65536)
    sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    close_gracefully(sock)


def _garbage(sock: socket.socket) -> None:
    sock.settimeout(LONG_TIMEOUT)
    sock.recv(65536)
    sock.sendall(b"\x00\xff" * 512)
    close_gracefully(sock)


# A message naming the TLS layer (libcurl/OpenSSL: "SSL_connect: SSL_ERROR_SYSCALL", "SSL
# routines::wrong version number"), as opposed to a refused connection or an HTTP error.
TLS_WORDS = ("ssl", "tls")


@pytest.mark.parametrize(
    ("handler", "cause_words"),
    [
        # The ClientHello may arrive after the close: the kernel answers it with an RST and
        # libcurl reports "Recv failure: Connection reset by peer" (56) instead of 35.
        (_close_at_once, (*TLS_WORDS, "reset")),
        (_close_after_client_hello, TLS_WORDS),
        (_answer_in_plain_http, TLS_WORDS),
        (_garbage, TLS_WORDS),
    ],
    ids=["close-at-once", "close-after-hello", "plain-http", "garbage"],
)
def test_handshake_eof_or_garbage_is_connect_error(
    handler: Any, cause_words: tuple[str, ...], raw_server: Any, tls_files: TLSFiles
) -> None:
    # TLS-07: the server closes during the handshake, or does not speak TLS at all.
    srv: RawServer = raw_server(handler)
    url = f"https://127.0.0.1:{srv.port}/bytes?size=1"
    with httpr.Client(ca_cert_file=str(tls_files.ca), timeout=TIMEOUT) as client:
        start = time.monotonic()
        exc = connect_error(client, url)
        assert time.monotonic() - start < LONG_TIMEOUT / 2
    text = str(exc).lower()
    assert any(word in text for word in cause_words), str(exc)


def test_handshake_stall_is_connect_timeout_on_time(raw_server: Any, tls_files: TLSFiles) -> None:
    # TLS-08 / R15: TCP accepted, ClientHello read, never answered: the connect phase
    # (TCP + TLS) expires on time.
    srv: RawServer = raw_server(hold)
    url = f"https://127.0.0.1:{srv.port}/bytes?size=1"
    timeout = httpr.Timeout(5.0, connect=STALL_CONNECT_TIMEOUT)
    with httpr.Client(ca_cert_file=str(tls_files.ca), timeout=timeout) as client:
        start = time.monotonic()
        with pytest.raises(httpr.ConnectTimeout) as info:
            client.get(url)
        elapsed = time.monotonic() - start
    assert_on_time(elapsed, STALL_CONNECT_TIMEOUT)
    assert f"GET {url}" in str(info.value)
    assert srv.connections_accepted == 1


# -- Trust store choice: ca_cert_file, verify=<path>, HTTPR_CA_BUNDLE (api.md §2, §11, §12) --


def test_ca_cert_file_missing_or_unreadable_is_oserror(tmp_path: Path) -> None:
    # TLS-02 / api.md §2: checked at construction, before any I/O.
    with pytest.raises(FileNotFoundError):
        httpr.Client(ca_cert_file=str(tmp_path / "missing.pem"))
    with pytest.raises(OSError):
        httpr.Client(ca_cert_file=str(tmp_path))  # a directory cannot be read as a file
    with pytest.raises(FileNotFoundError):
        new_client(verify=str(tmp_path / "missing.pem"))


def test_ca_cert_file_without_certificate_is_valueerror(
    tmp_path: Path, tls_files: TLSFiles
) -> None:
    # TLS-02 / api.md §2: an empty file, text, or a key alone hold no certificate.
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    text = tmp_path / "text.pem"
    text.write_text("not a certificate\n")
    for path in (empty, text, tls_files.no_cert):
        with pytest.raises(ValueError):
            httpr.Client(ca_cert_file=str(path))
        with pytest.raises(ValueError):
            new_client(verify=str(path))


def test_verify_path_with_ca_cert_file_is_valueerror(tls_files: TLSFiles) -> None:
    # TLS-02 / api.md §2: a CA path in verify and ca_cert_file both set.
    with pytest.raises(ValueError):
        new_client(verify=str(tls_files.ca), ca_cert_file=str(tls_files.ca))


def test_httpr_ca_bundle_is_the_default_ca_file(
    monkeypatch: pytest.MonkeyPatch, tls_server: TLSServerFactory, tls_files: TLSFiles
) -> None:
    # TLS-01/02 / api.md §12: HTTPR_CA_BUNDLE replaces the default store (trust_env=True),
    # is read once at construction, and is ignored with trust_env=False.
    url = bytes_url(tls_server("good").url)
    monkeypatch.setenv("HTTPR_CA_BUNDLE", str(tls_files.ca))
    with httpr.Client(timeout=TIMEOUT) as client:
        monkeypatch.setenv("HTTPR_CA_BUNDLE", str(tls_files.other_ca))  # read already
        assert_ok(client.get(url))
    with httpr.Client(timeout=TIMEOUT) as client:  # now the other CA: refused
        assert_names(connect_error(client, url), "certificate")
    monkeypatch.setenv("HTTPR_CA_BUNDLE", str(tls_files.ca))
    with httpr.Client(timeout=TIMEOUT, trust_env=False) as client:
        assert_names(connect_error(client, url), "certificate")
    # An explicit ca_cert_file wins over the variable.
    with httpr.Client(ca_cert_file=str(tls_files.other_ca), timeout=TIMEOUT) as client:
        assert_names(connect_error(client, url), "certificate")


def test_httpr_ca_bundle_bad_path_fails_construction(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tls_files: TLSFiles
) -> None:
    # api.md §12: a bad HTTPR_CA_BUNDLE makes construction fail as ca_cert_file would;
    # with trust_env=False it is not read at all.
    monkeypatch.setenv("HTTPR_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError):
        httpr.Client()
    httpr.Client(trust_env=False).close()
    httpr.Client(ca_cert_file=str(tls_files.ca)).close()  # not consulted either
    monkeypatch.setenv("HTTPR_CA_BUNDLE", str(tls_files.no_cert))
    with pytest.raises(ValueError):
        httpr.Client()
    httpr.Client(trust_env=False).close()


@pytest.mark.parametrize("variable", FOREIGN_CA_VARIABLES)
def test_foreign_ca_variables_are_ignored(
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    tls_server: TLSServerFactory,
    tls_files: TLSFiles,
) -> None:
    # TLS-02 / api.md §11, §12: OpenSSL's SSL_CERT_FILE, requests' and curl's variables do
    # not add the test CA to the trust store.
    url = bytes_url(tls_server("good").url)
    monkeypatch.setenv(variable, str(tls_files.ca))
    with httpr.Client(timeout=TIMEOUT) as client:
        assert_names(connect_error(client, url), "certificate")
    # Nor do they replace an explicit file.
    monkeypatch.setenv(variable, str(tls_files.other_ca))
    with httpr.Client(ca_cert_file=str(tls_files.ca), timeout=TIMEOUT) as client:
        assert_ok(client.get(url))


def test_ssl_cert_dir_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tls_server: TLSServerFactory,
    tls_files: TLSFiles,
) -> None:
    # TLS-02 / api.md §11 / amendment 2.4: no CA directory is consulted, not even one named
    # by SSL_CERT_DIR holding the test CA under its OpenSSL subject hash.
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to name the hashed CA file")
    subject_hash = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(tls_files.ca)],
        check=True,
        capture_output=True,
        text=True,
        timeout=LONG_TIMEOUT,
    ).stdout.strip()
    shutil.copyfile(tls_files.ca, tmp_path / f"{subject_hash}.0")
    monkeypatch.setenv("SSL_CERT_DIR", os.fspath(tmp_path))
    url = bytes_url(tls_server("good").url)
    with httpr.Client(timeout=TIMEOUT) as client:
        assert_names(connect_error(client, url), "certificate")
    with httpr.Client(ca_cert_file=str(tls_files.other_ca), timeout=TIMEOUT) as client:
        assert_names(connect_error(client, url), "certificate")
