"""Fixtures of the scenario tests (issue 11): the examples as modules, the crawl site server.

`load_example(name)` imports ``examples/<name>.py`` (not a package: the examples are meant to
be run as scripts) so a test drives the very code a user runs. `site_server(proto)` starts
tests/scenarios/site_server.py in a subprocess on a socket bound here (h1: cleartext
HTTP/1.1; h2: hypercorn with a trustme certificate, ALPN h2), stopped after the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest
import trustme

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
# The child must print "ready" within this (interpreter start, imports, rendering nothing).
START_SECONDS = 30.0
# A stats answer, and the child's exit after its stdin closes.
ANSWER_SECONDS = 10.0
STOP_SECONDS = 10.0
LISTEN_BACKLOG = 512


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py`` as the module ``httpr_example_<name>`` (imported once)."""
    module_name = f"httpr_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@dataclass
class SiteServer:
    """A running site_server child. `url` is the origin (no trailing slash)."""

    proto: str
    url: str
    offsite: str
    ca_file: str | None
    proc: subprocess.Popen[bytes]
    log_file: Path

    def _line(self, timeout: float) -> bytes:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError(f"site server silent for {timeout} s:\n{self.log()}")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"site server exited ({self.proc.poll()}):\n{self.log()}")
        return line

    def stats(self) -> dict[str, Any]:
        """``{"hits": {path: n}, "offsite", "accepted", "open", "versions"}``."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"stats\n")
        self.proc.stdin.flush()
        data = json.loads(self._line(ANSWER_SECONDS))
        assert isinstance(data, dict)
        return data

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def stop(self) -> None:
        """Closes the child's stdin (its signal to stop); kills it if it does not exit."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_SECONDS)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(LISTEN_BACKLOG)
    return sock


@pytest.fixture(scope="session")
def site_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA, server chain, server key) PEM files: a trustme leaf for 127.0.0.1 and localhost."""
    directory = tmp_path_factory.mktemp("site-tls")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, chain, key = directory / "ca.pem", directory / "chain.pem", directory / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    return ca_file, chain, key


@pytest.fixture
def site_server(
    tmp_path: Path, site_tls: tuple[Path, Path, Path]
) -> Iterator[Callable[..., SiteServer]]:
    """``site_server(proto, pages=...)``: a started site server, stopped after the test."""
    started: list[SiteServer] = []

    def start(proto: str, pages: int) -> SiteServer:
        sock = _listener()
        port = sock.getsockname()[1]
        scheme = "https" if proto == "h2" else "http"
        url, offsite = f"{scheme}://127.0.0.1:{port}", f"{scheme}://localhost:{port}"
        command = [
            sys.executable,
            "-m",
            "tests.scenarios.site_server",
            f"--proto={proto}",
            f"--fd={sock.fileno()}",
            f"--origin={url}",
            f"--offsite={offsite}",
            f"--pages={pages}",
        ]
        ca_file: str | None = None
        if proto == "h2":
            ca, chain, key = site_tls
            command += [f"--cert={chain}", f"--key={key}"]
            ca_file = str(ca)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        log_file = tmp_path / f"site-{proto}-{len(started)}.log"
        with open(log_file, "wb") as log:
            proc = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                pass_fds=(sock.fileno(),),
            )
        sock.close()  # the child holds the listening socket now
        server = SiteServer(proto, url, offsite, ca_file, proc, log_file)
        started.append(server)
        if server._line(START_SECONDS).strip() != b"ready":
            raise RuntimeError(f"site server did not start:\n{server.log()}")
        return server

    yield start
    for server in started:
        server.stop()
