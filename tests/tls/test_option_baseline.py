"""SEC-19 (security.md section 2, R8, R12): the libcurl safety baseline, read back.

libcurl cannot be asked what an option is set to, so the C record keeps a copy of each
security-relevant value as it passes it to ``curl_easy_setopt`` (reset at every setup) and
``Transfer.baseline()`` reads it back. Every transfer is compared with section 2's table, on
a fresh record and on records recycled after weaker transfers (``verify=False``, a body, HEAD,
a proxy with credentials): a recycled handle must never be weaker than a fresh one. Figure:
mismatches (0). TLS-09 (``SSLVERSION`` >= TLSv1.2) is covered here (amendment 2.5).

On libcurl < 8.1.0 a recycled record gets a new easy handle (commit 9a87701, curl#11101); from
8.1.0 on it is the same handle after ``curl_easy_reset``. Either way the copy shows only what
this transfer applied.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import httpr
import httpr._transports.curl as curl_transport
from httpr._curl import CURL, lib
from httpr._curl.xfer import OPT_NULL, OPT_UNSET, Transfer
from httpr._env import default_ca_file
from tests.conftest import LONG_TIMEOUT
from tests.servers.app import payload

# A loopback port nobody listens on: proxied requests fail at connect, after setup.
CLOSED_PORT = 9


class Recorder:
    """Every Transfer the transport starts, with its baseline read right after setup."""

    def __init__(self) -> None:
        self.seen: list[tuple[bytes, dict[str, int | str]]] = []


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    rec = Recorder()

    class RecordingTransfer(Transfer):
        __slots__ = ()

        def __init__(self, engine: Any, options: Any, method: bytes, *args: Any, **kw: Any):
            super().__init__(engine, options, method, *args, **kw)
            rec.seen.append((method, self.baseline()))

    def run_recorded(engine: Any, options: Any, method: bytes, *args: Any) -> Transfer:
        # The one-call sync path (run_transfer) frees its record inside the call, so the
        # recorder starts sync requests as a Transfer instead: the same httpr_xfer_start and
        # option code, read back before the transport finishes and frees it.
        return RecordingTransfer(engine, options, method, *args)

    monkeypatch.setattr(curl_transport, "Transfer", RecordingTransfer)
    monkeypatch.setattr(curl_transport, "run_transfer", run_recorded)
    yield rec


def expected(
    *,
    ca_file: str,
    verify: bool = True,
    body: bool = False,
    head: bool = False,
    proxy: str = "",
    proxy_userpwd: str | None = None,
) -> dict[str, int | str]:
    """Section 2 of security.md as the values the record must have applied."""
    ca_len = len(ca_file.encode())
    return {
        # protocols and redirects
        "protocols": "http,https",
        "redir_protocols": "http,https",
        "followlocation": 0,
        "autoreferer": 0,
        "unrestricted_auth": 0,
        "http09_allowed": 0,
        # credentials: httpr builds Authorization itself, so HTTPAUTH stays at libcurl's
        # Basic-only default and can never be CURLAUTH_ANY (7.88's includes NTLM_WB)
        "netrc": lib.CURL_NETRC_IGNORED,
        "httpauth": OPT_UNSET,
        "proxyuserpwd": len(proxy_userpwd) if proxy_userpwd else OPT_UNSET,
        # TLS
        "ssl_verifypeer": 1 if verify else 0,
        "ssl_verifyhost": 2 if verify else 0,
        "proxy_ssl_verifypeer": 1 if verify else 0,
        "proxy_ssl_verifyhost": 2 if verify else 0,
        "sslversion": lib.CURL_SSLVERSION_TLSv1_2,
        "proxy_sslversion": lib.CURL_SSLVERSION_TLSv1_2,
        "cainfo": ca_len,
        "capath": OPT_NULL,
        "proxy_cainfo": ca_len,
        "proxy_capath": OPT_NULL,
        "ssl_ctx_function": 1 if verify and CURL.refuses_cn_only else OPT_UNSET,
        # proxies: always set ("" = none), NOPROXY too, headers kept apart
        "proxy": len(proxy),
        "noproxy": 0,
        "headeropt": lib.CURLHEADER_SEPARATE,
        # limits, decoding
        "connecttimeout_ms": int(LONG_TIMEOUT * 1000),
        "accept_encoding": 0,  # "": every decoder libcurl was built with
        # 0: libcurl hands over the coded body, httpr decodes it (csrc/decode.c, buffered
        # bodies without a size cap); 1: libcurl decodes. Always set, never left as it was.
        "http_content_decoding": 0 if curl_transport.OWN_DECODING else 1,
        # other
        "nosignal": 1,
        "nobody": 1 if head else OPT_UNSET,
        "readfunction": 1 if body else OPT_UNSET,
        "seekfunction": 1 if body else OPT_UNSET,
        "httpheader": 1,
        "expect_empty": 1 if body else 0,
        # never set
        "cookiefile": OPT_UNSET,
        "cookiejar": OPT_UNSET,
        "cookielist": OPT_UNSET,
        "verbose": OPT_UNSET,
        "debugfunction": OPT_UNSET,
        "maxfilesize": OPT_UNSET,
        "maxfilesize_large": OPT_UNSET,
    }


def mismatches(got: dict[str, int | str], want: dict[str, int | str]) -> list[str]:
    """Every field that differs; a field of the C struct the table forgot counts too."""
    out = [f"{k}: got {got.get(k)!r}, want {v!r}" for k, v in want.items() if got.get(k) != v]
    out += [f"{k}: not in the table" for k in got if k not in want and k != "uses"]
    return out


def test_sec19_baseline_on_fresh_and_recycled_records(make_client, server, recorder) -> None:
    url = f"{server.url}/bytes?size=64"
    echo = f"{server.url}/echo"
    with make_client(timeout=LONG_TIMEOUT) as client:
        assert client.get(url).content == payload(64)  # fresh record
        assert client.post(echo, content=b"abc").status_code == 200
        assert client.head(url).status_code == 200
        assert client.get(url).content == payload(64)  # recycled after a body and HEAD
    ca = default_ca_file()
    wants = [
        expected(ca_file=ca),
        expected(ca_file=ca, body=True),
        expected(ca_file=ca, head=True),
        expected(ca_file=ca),
    ]
    assert [m for m, _ in recorder.seen] == [b"GET", b"POST", b"HEAD", b"GET"]
    uses = [int(b["uses"]) for _, b in recorder.seen]
    assert uses[-1] > 1, "the last GET did not run on a recycled record"
    bad = [(i, m) for i, (_, got) in enumerate(recorder.seen) for m in mismatches(got, wants[i])]
    print(f"\n[SEC-19] {len(recorder.seen)} transfers, record uses {uses}, mismatches {len(bad)}")
    assert bad == []


def test_sec19_verify_false_and_proxy_clients(make_client, server, recorder) -> None:
    """The weaker settings read back as such, and only there: verify=False turns off both
    verify levels and the CN-only hook; a proxy with a password reaches libcurl as a
    credential-free PROXY plus PROXYUSERPWD (R3)."""
    url = f"{server.url}/bytes?size=64"
    with make_client(timeout=LONG_TIMEOUT, verify=False) as loose:
        assert loose.get(url).content == payload(64)
    with make_client(timeout=LONG_TIMEOUT, proxy=f"http://u:secret@127.0.0.1:{CLOSED_PORT}") as p:
        for send in (p.get, lambda u: p.post(u, content=b"x")):
            with pytest.raises((httpr.ProxyError, httpr.ConnectError)):
                send(url)
    ca = default_ca_file()
    proxied = expected(
        ca_file=ca, proxy=f"http://127.0.0.1:{CLOSED_PORT}", proxy_userpwd="u:secret"
    )
    wants = [
        (b"GET", expected(ca_file=ca, verify=False)),
        (b"GET", proxied),
        (b"POST", {**proxied, "readfunction": 1, "seekfunction": 1, "expect_empty": 1}),
    ]
    assert [m for m, _ in recorder.seen] == [m for m, _ in wants]
    bad = [m for (_, got), (_, want) in zip(recorder.seen, wants) for m in mismatches(got, want)]
    assert bad == []


def test_sec19_recycled_handle_reads_back_like_a_fresh_one(server) -> None:
    """The transport layer directly: one engine, one record, alternating weak and strong
    option sets; every strong transfer reads back exactly the fresh one's copy."""
    from httpr._curl.engine import Engine
    from httpr._curl.xfer import F_BODY, F_HEAD, HTTP_1_1, TransferOptions

    ca = default_ca_file()
    strong = TransferOptions(http_version=HTTP_1_1, ca_file=ca, connect=LONG_TIMEOUT)
    weak = TransferOptions(
        http_version=HTTP_1_1,
        verify=False,
        ca_file=ca,
        proxy_userpwd="u:p",
        accept_encoding=None,
        connect=0.05,
    )
    url = f"{server.url}/bytes?size=8".encode()
    engine = Engine(None, None)
    try:
        copies: list[dict[str, int | str]] = []
        for i in range(6):
            opts, flags, body = (strong, 0, b"") if i % 2 == 0 else (weak, F_BODY, b"abc")
            if i == 3:
                flags = F_HEAD
            method = b"HEAD" if flags == F_HEAD else (b"POST" if flags else b"GET")
            lines = b"Accept: */*\0" + (b"Expect:\0" if body else b"")
            x = Transfer(engine, opts, method, url, lines, body, flags)
            try:
                x.wait()
                assert x.result().status == 200
                copies.append(x.baseline())
            finally:
                x.free()
        fresh = copies[0]
        assert fresh["uses"] == 1
        assert [c["uses"] for c in copies] == list(range(1, 7))  # one record throughout
        assert copies[1]["ssl_verifypeer"] == 0 and copies[1]["accept_encoding"] == OPT_UNSET
        assert copies[3]["nobody"] == 1
        for strong_copy in (copies[2], copies[4]):
            assert {k: v for k, v in strong_copy.items() if k != "uses"} == {
                k: v for k, v in fresh.items() if k != "uses"
            }
        # Flags 0: no F_OWN_DECODE, so libcurl decodes.
        assert mismatches(fresh, {**expected(ca_file=ca), "http_content_decoding": 1}) == []
    finally:
        engine.release()


@pytest.mark.skipif(os.environ.get("HTTPR_SKIP_TLS") == "1", reason="TLS disabled")
def test_sec19_baseline_over_https(make_client, tls_server, tls_files, recorder) -> None:
    """TLS-09 via SEC-19: an https transfer applied TLS >= 1.2, both verify levels, the CA
    file and (OpenSSL) the CN-only hook."""
    srv = tls_server("good")
    with make_client(timeout=LONG_TIMEOUT, verify=str(tls_files.ca)) as client:
        assert client.get(f"{srv.url}/bytes?size=16").content == payload(16)
    ((method, got),) = recorder.seen
    assert method == b"GET"
    assert mismatches(got, expected(ca_file=str(tls_files.ca))) == []
