"""A hypercorn HTTP/2 server for the HTTP/2 tests (api.md §3 cancellation, §11; security.md
IN-04; amendment 2.12).

`h2_server` (session scope) starts ``python -m tests.http2.app`` in a subprocess: hypercorn
serving the ASGI app of tests/http2/app.py on two loopback sockets this process binds and
hands over (so the ports are known before the child starts and nothing races for them):

- ``https_url``: TLS with a trustme certificate (127.0.0.1, localhost), ALPN h2 + http/1.1;
- ``http_url``: cleartext; HTTP/1.1, or HTTP/2 with prior knowledge (h2c).

Why a subprocess rather than a thread: hypercorn, h2 and asyncio then never share this
process's warning filters (``filterwarnings = error`` would turn a DeprecationWarning inside
hypercorn into a server-side crash), its event loops, or the GIL with the client under test.
No warning filter is needed here for the same reason: nothing of hypercorn or h2 is imported
into the pytest process.

`H2Server.stats(tag)` asks the server (on its cleartext port, over a separate stdlib
connection that is not recorded) how many TCP connections and requests carried ``?tag=tag``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

REPO_ROOT = Path(__file__).resolve().parents[2]
# The child must answer within this after start (the interpreter and hypercorn import).
START_SECONDS = 20.0
# SIGTERM, then hypercorn's graceful shutdown (1 s in app.py); SIGKILL after this.
STOP_SECONDS = 5.0
STATS_TIMEOUT_SECONDS = 5.0
LISTEN_BACKLOG = 128


@dataclass(frozen=True)
class H2Server:
    """The running hypercorn process; URLs have no trailing slash."""

    https_url: str
    http_url: str
    plain_port: int
    ca_file: Path  # the trustme CA that issued the server certificate
    chain_file: Path  # the server certificate chain (reused for an HTTPS/1.1-only server)
    key_file: Path
    log_file: Path

    def stats(self, tag: str) -> dict[str, Any]:
        """``{"connections", "requests", "disconnects", "versions"}`` for ``?tag=tag``."""
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.plain_port, timeout=STATS_TIMEOUT_SECONDS
        )
        try:
            conn.request("GET", f"/connections?tag={tag}")
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"/connections answered {response.status}: {body!r}")
        data = json.loads(body)
        assert isinstance(data, dict)
        return data

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")


def new_tag() -> str:
    """A tag no other test uses, for counting one test's connections."""
    return uuid.uuid4().hex


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted sockets on Linux: no Nagle stalls on small responses.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(LISTEN_BACKLOG)
    return sock


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (hypercorn shuts down gracefully), then SIGKILL: bounded either way."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_SECONDS)


def _wait_ready(server: H2Server, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"hypercorn exited with {proc.returncode}:\n{server.log()}")
        try:
            server.stats("ready")
            return
        except (OSError, http.client.HTTPException) as exc:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"hypercorn not ready: {exc}\n{server.log()}") from exc
            time.sleep(0.05)


@pytest.fixture(scope="session")
def h2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H2Server]:
    """hypercorn on 127.0.0.1 (https with h2 + http/1.1, and cleartext), for the session."""
    directory = tmp_path_factory.mktemp("http2")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = directory / "ca.pem"
    chain_file = directory / "server.chain.pem"
    key_file = directory / "server.key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    chain_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key_file))
    log_file = directory / "hypercorn.log"

    tls_sock, plain_sock = _listener(), _listener()
    tls_fd, plain_fd = tls_sock.fileno(), plain_sock.fileno()
    server = H2Server(
        https_url=f"https://127.0.0.1:{tls_sock.getsockname()[1]}",
        http_url=f"http://127.0.0.1:{plain_sock.getsockname()[1]}",
        plain_port=plain_sock.getsockname()[1],
        ca_file=ca_file,
        chain_file=chain_file,
        key_file=key_file,
        log_file=log_file,
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        "-m",
        "tests.http2.app",
        f"--tls-fd={tls_fd}",
        f"--plain-fd={plain_fd}",
        f"--cert={chain_file}",
        f"--key={key_file}",
    ]
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(tls_fd, plain_fd),
        )
    # The child holds the listening sockets now; closing ours lets the ports go with it.
    tls_sock.close()
    plain_sock.close()
    try:
        _wait_ready(server, proc)
        yield server
    finally:
        _stop(proc)
