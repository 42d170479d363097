"""The ``httpr`` command line (api.md section 15), run as a subprocess against local servers.

Every run is ``python -m httpr ...`` from the repository root, bounded by RUN_TIMEOUT; the
checks are on stdout bytes, stderr lines and exit codes, as a shell user sees them.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import select
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.servers.app import TestServer, payload
from tests.servers.proxy import HTTPProxy
from tests.servers.raw import RawServer, serve_bytes

ROOT = Path(__file__).absolute().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
HTTPR = [PYTHON, "-m", "httpr"]
RUN_TIMEOUT = 20.0

STATUS_LINE_RE = re.compile(rb"^HTTP/1\.1 200 OK\r\n")
VERSION_RE = re.compile(r"^httpr \S+ \(libcurl \d+\.\d+\.\d+\S*\)\n\Z")

# api.md section 15
EXIT_OK = 0
EXIT_STATUS = 1
EXIT_USAGE = 2
EXIT_TRANSPORT = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130


def run(
    *args: str, stdin: bytes = b"", timeout: float = RUN_TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    """``python -m httpr *args``, its output captured."""
    return subprocess.run(
        [*HTTPR, *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def ok(*args: str, stdin: bytes = b"") -> bytes:
    """Runs a command that must succeed silently; returns its stdout."""
    proc = run(*args, stdin=stdin)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stderr == b""
    return proc.stdout


def fails(code: int, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Runs a command that must exit with `code` and one ``httpr: `` line on stderr."""
    proc = run(*args, stdin=stdin)
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert b"Traceback" not in proc.stderr
    lines = proc.stderr.decode().splitlines()
    assert lines, "a failure says why on stderr"
    assert lines[-1].startswith("httpr: "), proc.stderr
    if code != EXIT_USAGE or not proc.stderr.startswith(b"usage:"):
        assert len(lines) == 1, proc.stderr  # one line, unless argparse printed its usage
    return proc


def echo(*args: str, stdin: bytes = b"") -> dict[str, Any]:
    """The /echo document of a successful run with `args` (the URL included)."""
    doc: dict[str, Any] = json.loads(ok(*args, stdin=stdin))
    return doc


def header_values(doc: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in doc["headers"] if k.lower() == name.lower()]


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- body and head on stdout -------------------------------------------------------------------


def test_body_goes_to_stdout_byte_for_byte(server: TestServer) -> None:
    assert ok(f"{server.url}/bytes?size=100000") == payload(100_000)


def test_decoded_body_on_stdout(server: TestServer) -> None:
    assert ok(f"{server.url}/gzip?size=20000") == payload(20_000)


def test_include_prints_status_line_and_headers_first(server: TestServer) -> None:
    out = ok("-i", f"{server.url}/status/200")
    head, sep, body = out.partition(b"\r\n\r\n")
    assert sep and body == b"status 200"
    assert STATUS_LINE_RE.match(out)
    lines = head.split(b"\r\n")[1:]
    assert b"content-length: 10" in [line.lower() for line in lines]


def test_include_shows_each_redirect_hop(server: TestServer) -> None:
    out = ok("--include", f"{server.url}/redirect?to=/status/200")
    assert out.startswith(b"HTTP/1.1 302 Found\r\n")
    assert b"\r\n\r\nHTTP/1.1 200 OK\r\n" in out
    assert out.endswith(b"\r\n\r\nstatus 200")


def test_quiet_prints_nothing(server: TestServer) -> None:
    assert ok("-q", f"{server.url}/bytes?size=1000") == b""
    assert ok("--quiet", "-i", f"{server.url}/status/200").startswith(b"HTTP/1.1 200 OK\r\n")


def test_empty_stderr_on_success(server: TestServer) -> None:
    proc = run(f"{server.url}/status/204")
    assert (proc.returncode, proc.stdout, proc.stderr) == (EXIT_OK, b"", b"")


# -- the request -------------------------------------------------------------------------------


def test_default_method_is_get_without_a_body(server: TestServer) -> None:
    doc = echo(f"{server.url}/echo")
    assert doc["method"] == "GET"
    assert doc["body_len"] == 0


@pytest.mark.parametrize("flag", ["-X", "--method"])
def test_method_option(server: TestServer, flag: str) -> None:
    assert echo(flag, "put", f"{server.url}/echo")["method"] == "PUT"


def test_head_method(server: TestServer) -> None:
    assert ok("-X", "HEAD", f"{server.url}/bytes?size=500") == b""


def test_headers_repeat(server: TestServer) -> None:
    doc = echo(
        "-H", "X-A: 1", "-H", "X-A: 2", "--header", "X-Other:  spaced ", f"{server.url}/echo"
    )
    assert header_values(doc, "X-A") == ["1", "2"]
    assert header_values(doc, "X-Other") == ["spaced"]


def test_header_removal_and_empty_value_forms(server: TestServer) -> None:
    doc = echo("-H", "Accept:", "-H", "X-Empty;", f"{server.url}/echo")
    assert header_values(doc, "Accept") == []
    assert header_values(doc, "X-Empty") == [""]


def test_data_is_form_encoded_post(server: TestServer) -> None:
    doc = echo("-d", "a=1&b=two", f"{server.url}/echo")
    assert doc["method"] == "POST"
    assert doc["body"] == "a=1&b=two"
    assert header_values(doc, "Content-Type") == ["application/x-www-form-urlencoded"]


def test_data_repeated_is_joined_with_ampersand(server: TestServer) -> None:
    assert echo("-d", "a=1", "--data", "b=2", f"{server.url}/echo")["body"] == "a=1&b=2"


def test_data_content_type_header_wins(server: TestServer) -> None:
    doc = echo("-d", "<x/>", "-H", "content-type: text/xml", f"{server.url}/echo")
    assert header_values(doc, "Content-Type") == ["text/xml"]


def test_data_with_explicit_method(server: TestServer) -> None:
    doc = echo("-X", "PATCH", "-d", "k=v", f"{server.url}/echo")
    assert (doc["method"], doc["body"]) == ("PATCH", "k=v")


def test_data_from_file(server: TestServer, tmp_path: Path) -> None:
    body = bytes(range(256)) + b"\r\nline two\n"
    path = tmp_path / "body.bin"
    path.write_bytes(body)
    doc = echo("-d", f"@{path}", f"{server.url}/echo")
    assert doc["body"].encode("latin-1") == body  # sent byte for byte


def test_data_from_stdin(server: TestServer) -> None:
    doc = echo("-d", "@-", f"{server.url}/echo", stdin=b"from=stdin&x=1")
    assert doc["body"] == "from=stdin&x=1"
    assert header_values(doc, "Content-Type") == ["application/x-www-form-urlencoded"]


def test_data_file_missing_is_a_usage_error(server: TestServer, tmp_path: Path) -> None:
    proc = fails(EXIT_USAGE, "-d", f"@{tmp_path / 'missing'}", f"{server.url}/echo")
    assert b"missing" in proc.stderr


def test_json_body(server: TestServer) -> None:
    text = '{"b": [1, 2.5, null], "a": "\u00e9"}'
    doc = echo("--json", text, f"{server.url}/echo")
    assert doc["method"] == "POST"
    assert doc["body"].encode("latin-1").decode("utf-8") == text
    assert header_values(doc, "Content-Type") == ["application/json"]


def test_json_from_stdin(server: TestServer) -> None:
    doc = echo("--json", "@-", f"{server.url}/echo", stdin=b"[1, 2]")
    assert doc["body"] == "[1, 2]"


@pytest.mark.parametrize("bad", ["{not json", "", "NaN", "[1,]"])
def test_bad_json_exits_2(server: TestServer, bad: str) -> None:
    before = server.connections_accepted
    proc = fails(EXIT_USAGE, "--json", bad, f"{server.url}/echo")
    assert proc.stderr.startswith(b"httpr: ")
    assert proc.stdout == b""
    assert server.connections_accepted == before  # refused before any I/O


def test_data_and_json_together_is_a_usage_error(server: TestServer) -> None:
    proc = fails(EXIT_USAGE, "-d", "a=1", "--json", "{}", f"{server.url}/echo")
    assert proc.stderr.startswith(b"usage:")


# -- status codes and exit code 1 --------------------------------------------------------------


def test_unexpected_status_exits_1_with_exact_line(server: TestServer) -> None:
    url = f"{server.url}/status/404"
    proc = fails(EXIT_STATUS, "--expect-status", "200", url)
    assert proc.stderr.decode() == f"httpr: expected status 200, got 404 Not Found (GET {url})\n"
    assert proc.stdout == b"status 404"  # a response arrived: its body is printed


def test_default_accepts_any_2xx_only(server: TestServer) -> None:
    assert ok(f"{server.url}/status/201") == b"status 201"
    url = f"{server.url}/status/500"
    proc = fails(EXIT_STATUS, url)
    assert proc.stderr.decode() == (
        f"httpr: expected status 2xx, got 500 Internal Server Error (GET {url})\n"
    )


def test_expect_status_lists_and_repeats(server: TestServer) -> None:
    assert ok("--expect-status", "200,404", f"{server.url}/status/404") == b"status 404"
    assert ok("--expect-status", "201", "--expect-status", "404", f"{server.url}/status/404")
    proc = fails(
        EXIT_STATUS, "--expect-status", "201,202", "-X", "POST", f"{server.url}/status/200"
    )
    assert b"expected status 201 or 202, got 200 OK (POST " in proc.stderr


def test_expect_status_rejects_bad_codes(server: TestServer) -> None:
    for bad in ("abc", "99", "1000", "200,", ""):
        fails(EXIT_USAGE, "--expect-status", bad, f"{server.url}/status/200")


def test_redirects_are_followed_by_default(server: TestServer) -> None:
    assert ok(f"{server.url}/redirect?to=/status/200") == b"status 200"


def test_no_follow_returns_the_redirect(server: TestServer) -> None:
    url = f"{server.url}/redirect?to=/status/200"
    proc = fails(EXIT_STATUS, "--no-follow", url)
    assert proc.stderr.decode() == f"httpr: expected status 2xx, got 302 Found (GET {url})\n"
    assert proc.stdout == b"redirect"
    assert ok("--no-follow", "--expect-status", "302", url) == b"redirect"


def test_max_redirects(server: TestServer) -> None:
    url = f"{server.url}/redirect?to=/status/200"
    proc = fails(EXIT_TRANSPORT, "--max-redirects", "0", url)
    assert proc.stderr.startswith(b"httpr: TooManyRedirects: ")
    assert ok("--max-redirects", "1", url) == b"status 200"


def test_redirect_to_another_scheme_is_a_transfer_failure(server: TestServer) -> None:
    proc = fails(EXIT_TRANSPORT, f"{server.url}/redirect?to=ftp://127.0.0.1/x")
    assert proc.stderr.startswith(b"httpr: UnsupportedProtocol: ")


# -- exit code 2: usage, URL, option values ----------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--no-such-option", "http://127.0.0.1/"],
        ["--timeout", "-1", "http://127.0.0.1/"],
        ["--timeout", "nan", "http://127.0.0.1/"],
        ["--timeout", "soon", "http://127.0.0.1/"],
        ["--retries", "-1", "http://127.0.0.1/"],
        ["--max-redirects", "x", "http://127.0.0.1/"],
        ["-H", "no colon here", "http://127.0.0.1/"],
        ["--http1.1", "--http2", "http://127.0.0.1/"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    proc = fails(EXIT_USAGE, *args)
    assert proc.stderr.startswith(b"usage: httpr ")
    assert proc.stdout == b""


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("ftp://127.0.0.1/file", "UnsupportedProtocol"),
        ("file:///etc/passwd", "UnsupportedProtocol"),
        ("http://", "InvalidURL"),
        ("not a url", "InvalidURL"),
        ("http://127.0.0.1:99999/", "InvalidURL"),
    ],
)
def test_bad_urls_exit_2(url: str, kind: str) -> None:
    proc = fails(EXIT_USAGE, url)
    assert proc.stderr.startswith(f"httpr: {kind}: ".encode())


@pytest.mark.parametrize("header", ["Bad Name: x", "X-Ok: a\rb", "Proxy-Authorization: Basic x"])
def test_bad_header_exits_2(server: TestServer, header: str) -> None:
    before = server.connections_accepted
    proc = fails(EXIT_USAGE, "-H", header, f"{server.url}/echo")
    assert proc.stderr.startswith(b"httpr: ValueError: ")
    assert server.connections_accepted == before


def test_bad_method_exits_2(server: TestServer) -> None:
    fails(EXIT_USAGE, "-X", "BAD METHOD", f"{server.url}/echo")


def test_missing_ca_file_exits_2(server: TestServer, tmp_path: Path) -> None:
    fails(EXIT_USAGE, "--cacert", str(tmp_path / "none.pem"), f"{server.url}/echo")


def test_bad_proxy_exits_2(server: TestServer) -> None:
    proc = fails(EXIT_USAGE, "--proxy", "ftp://127.0.0.1:1", f"{server.url}/echo")
    assert proc.stderr.startswith(b"httpr: UnsupportedProtocol: ")


def test_unwritable_output_exits_2(server: TestServer, tmp_path: Path) -> None:
    proc = fails(
        EXIT_USAGE, "-o", str(tmp_path / "no" / "dir" / "f"), f"{server.url}/bytes?size=10"
    )
    assert b"cannot write" in proc.stderr


# -- exit code 3: connection and transport failures --------------------------------------------


def test_refused_port_exits_3() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    proc = fails(EXIT_TRANSPORT, url)
    assert proc.stderr.startswith(b"httpr: ConnectError: ")
    assert f"GET {url}".encode() in proc.stderr
    assert proc.stdout == b""


def test_refused_port_with_retries_exits_3() -> None:
    fails(EXIT_TRANSPORT, "--retries", "1", f"http://127.0.0.1:{free_port()}/")


def test_garbage_reply_exits_3(raw_server: Callable[..., RawServer]) -> None:
    srv = raw_server(serve_bytes(b"this is not HTTP at all\r\n\r\n"))
    proc = fails(EXIT_TRANSPORT, f"{srv.url}/")
    assert proc.stderr.startswith(b"httpr: RemoteProtocolError: ")
    assert proc.stdout == b""


def test_short_body_exits_3_after_printing_nothing(raw_server: Callable[..., RawServer]) -> None:
    srv = raw_server(serve_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"))
    proc = fails(EXIT_TRANSPORT, f"{srv.url}/")
    assert proc.stderr.startswith(b"httpr: RemoteProtocolError: ")


def test_http2_only_against_http1_server_exits_3(server: TestServer) -> None:
    fails(EXIT_TRANSPORT, "--http2", f"{server.url}/status/200")
    assert ok("--http1.1", f"{server.url}/status/200") == b"status 200"


def test_closed_stdout_is_one_line_not_a_traceback(server: TestServer) -> None:
    proc = subprocess.Popen(
        [*HTTPR, f"{server.url}/bytes?size=4000000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(10) == payload(10)
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait(RUN_TIMEOUT)
    finally:
        proc.kill()
        proc.communicate(timeout=RUN_TIMEOUT)
    assert code == EXIT_TRANSPORT
    assert err.startswith(b"httpr: ") and err.count(b"\n") == 1, err


# -- exit code 4: timeouts ---------------------------------------------------------------------


def test_timeout_exits_4(server: TestServer) -> None:
    started = time.monotonic()
    proc = fails(EXIT_TIMEOUT, "--timeout", "0.3", f"{server.url}/delay?s=2")
    elapsed = time.monotonic() - started
    assert proc.stderr.startswith(b"httpr: ReadTimeout: ")
    assert proc.stdout == b""
    assert elapsed < 2.0  # the interpreter's start-up included


def test_timeout_is_also_a_total_deadline(server: TestServer) -> None:
    # Each gap between body bytes (0.2 s) is under the limit; the whole body (about 1.8 s)
    # is not: Timeout(S, total=S) (amendment 3.7).
    proc = fails(EXIT_TIMEOUT, "--timeout", "0.6", f"{server.url}/slow-body?chunks=10&interval=0.2")
    assert b"Timeout: " in proc.stderr


def test_timeout_with_output_file_exits_4(server: TestServer, tmp_path: Path) -> None:
    proc = fails(
        EXIT_TIMEOUT, "--timeout", "0.3", "-o", str(tmp_path / "f"), f"{server.url}/delay?s=2"
    )
    assert proc.stderr.startswith(b"httpr: ReadTimeout: ")


# -- 130: Ctrl-C -------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["-o", "OUT"]])
def test_sigint_exits_130_quietly(server: TestServer, tmp_path: Path, extra: list[str]) -> None:
    extra = [str(tmp_path / "out") if a == "OUT" else a for a in extra]
    before = server.connections_accepted
    proc = subprocess.Popen(
        [*HTTPR, *extra, f"{server.url}/delay?s=8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT / 2
        while server.connections_accepted == before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.connections_accepted > before, "the request never reached the server"
        time.sleep(0.2)  # waiting for the response now
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        proc.kill()
        proc.communicate(timeout=RUN_TIMEOUT)
    assert proc.returncode == EXIT_INTERRUPTED
    assert time.monotonic() - started < 5.0
    assert (out, err) == (b"", b"")


# -- -o FILE -----------------------------------------------------------------------------------


def test_output_writes_the_file(server: TestServer, tmp_path: Path) -> None:
    path = tmp_path / "body.bin"
    assert ok("-o", str(path), f"{server.url}/bytes?size=300000") == b""
    assert path.read_bytes() == payload(300_000)


def test_output_with_include_writes_the_head_into_the_file(
    server: TestServer, tmp_path: Path
) -> None:
    path = tmp_path / "body.bin"
    assert ok("-i", "--output", str(path), f"{server.url}/status/200") == b""
    data = path.read_bytes()
    assert STATUS_LINE_RE.match(data) and data.endswith(b"\r\n\r\nstatus 200")


def test_output_of_an_unexpected_status_still_written(server: TestServer, tmp_path: Path) -> None:
    path = tmp_path / "body.bin"
    fails(EXIT_STATUS, "-o", str(path), f"{server.url}/status/503")
    assert path.read_bytes() == b"status 503"


def _peak_rss_kib(args: list[str]) -> int:
    """The child's peak RSS in KiB, from GNU time, after checking it succeeded."""
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *HTTPR, *args],
        capture_output=True,
        cwd=ROOT,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert proc.returncode == EXIT_OK, proc.stderr
    match = re.search(rb"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    assert match, proc.stderr
    return int(match.group(1))


def _file_matches_payload(path: Path, size: int) -> bool:
    block = 1 << 20
    want, got = hashlib.sha256(), hashlib.sha256()
    for offset in range(0, size, block):
        want.update(payload(min(size, offset + block))[offset:])
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            got.update(chunk)
    return want.digest() == got.digest()


@pytest.mark.skipif(not os.access("/usr/bin/time", os.X_OK), reason="needs GNU time")
def test_output_streams_with_bounded_memory(server: TestServer, tmp_path: Path) -> None:
    size = 50 * 1024 * 1024
    small = _peak_rss_kib(["-o", str(tmp_path / "small"), f"{server.url}/bytes?size=1"])
    path = tmp_path / "big"
    big = _peak_rss_kib(["-o", str(path), f"{server.url}/bytes?size={size}"])
    assert path.stat().st_size == size
    assert _file_matches_payload(path, size)
    assert big - small < 64 * 1024, f"peak RSS grew by {(big - small) // 1024} MiB"


def test_no_progress_bar_when_stderr_is_not_a_terminal(server: TestServer, tmp_path: Path) -> None:
    proc = run("-o", str(tmp_path / "f"), f"{server.url}/bytes?size=2000000")
    assert (proc.returncode, proc.stdout, proc.stderr) == (EXIT_OK, b"", b"")


def _run_with_terminal_stderr(args: list[str]) -> tuple[int, bytes, bytes]:
    """Runs httpr with stderr on a pseudo-terminal; returns (exit code, stdout, terminal)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([*HTTPR, *args], stdout=subprocess.PIPE, stderr=slave, cwd=ROOT)
    os.close(slave)
    seen = bytearray()
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                seen += data
            elif proc.poll() is not None:
                break
        out, _ = proc.communicate(timeout=RUN_TIMEOUT)
        code = proc.returncode
    finally:
        proc.kill()
        proc.communicate(timeout=RUN_TIMEOUT)
        os.close(master)
    return code, out, bytes(seen)


def test_progress_bar_on_a_terminal(server: TestServer, tmp_path: Path) -> None:
    size = 8 * 1024 * 1024
    path = tmp_path / "f"
    code, out, tty = _run_with_terminal_stderr(["-o", str(path), f"{server.url}/bytes?size={size}"])
    assert (code, out) == (EXIT_OK, b"")
    assert path.stat().st_size == size
    last = tty.replace(b"\r\n", b"\n").split(b"\r")[-1].decode()
    # bytes of the total, percentage, rate and ETA (the length is known)
    assert re.search(r"8\.0 MiB / 8\.0 MiB +100% +[\d.]+ [KMG]?i?B/s +ETA \d+:\d\d", last), tty


def test_progress_bar_without_a_length(server: TestServer, tmp_path: Path) -> None:
    path = tmp_path / "f"
    code, _, tty = _run_with_terminal_stderr(
        ["-o", str(path), f"{server.url}/chunked?size=100000&pieces=4"]
    )
    assert code == EXIT_OK
    assert re.search(rb"97\.7 KiB +[\d.]+ [KMG]?i?B/s", tty), tty
    assert b"ETA" not in tty


# -- --timings, --json-output, -v --------------------------------------------------------------


def test_timings_on_stderr(server: TestServer) -> None:
    proc = run("--timings", f"{server.url}/status/200")
    assert (proc.returncode, proc.stdout) == (EXIT_OK, b"status 200")
    text = proc.stderr.decode()
    for label in ("dns", "connect", "tls", "first byte", "total"):
        assert re.search(rf"^{label}: +\d+\.\d{{3}} ms$", text, re.M), text
    assert "httpr:" not in text


def test_json_output_success(server: TestServer) -> None:
    url = f"{server.url}/bytes?size=1234"
    doc = json.loads(ok("--json-output", url))  # no body on stdout, only the object
    assert doc["status"] == 200
    assert doc["reason"] == "OK"
    assert doc["url"] == url
    assert doc["size"] == 1234
    assert doc["error"] is None
    assert ["content-length", "1234"] in doc["headers"]
    assert set(doc["timings"]) >= {"name_lookup", "connect", "tls_handshake", "first_byte", "total"}
    assert doc["timings"]["total"] >= doc["timings"]["first_byte"] >= 0


def test_json_output_with_output_file(server: TestServer, tmp_path: Path) -> None:
    path = tmp_path / "f"
    doc = json.loads(ok("--json-output", "-o", str(path), f"{server.url}/bytes?size=5000"))
    assert (doc["status"], doc["size"], doc["output"]) == (200, 5000, str(path))
    assert path.read_bytes() == payload(5000)


def test_json_output_on_transport_failure() -> None:
    proc = fails(EXIT_TRANSPORT, "--json-output", f"http://127.0.0.1:{free_port()}/")
    doc = json.loads(proc.stdout)
    assert doc["status"] is None
    assert doc["error"]["type"] == "ConnectError"
    assert doc["size"] == 0


def test_json_output_on_timeout(server: TestServer) -> None:
    proc = fails(EXIT_TIMEOUT, "--json-output", "--timeout", "0.3", f"{server.url}/delay?s=2")
    assert json.loads(proc.stdout)["error"]["type"] == "ReadTimeout"


def test_json_output_on_unexpected_status(server: TestServer) -> None:
    url = f"{server.url}/status/404"
    proc = fails(EXIT_STATUS, "--json-output", url)
    doc = json.loads(proc.stdout)
    assert doc["status"] == 404
    assert doc["error"]["message"] == f"expected status 2xx, got 404 Not Found (GET {url})"


def test_json_output_on_bad_url() -> None:
    proc = fails(EXIT_USAGE, "--json-output", "ftp://127.0.0.1/")
    assert json.loads(proc.stdout)["error"]["type"] == "UnsupportedProtocol"


def test_verbose_shows_heads_with_secrets_masked(server: TestServer) -> None:
    proc = run(
        "-v",
        "-H",
        "Authorization: Bearer secret",
        "-H",
        "Cookie: session=secret2",
        "-H",
        "X-Visible: shown",
        f"{server.url}/echo",
    )
    assert proc.returncode == EXIT_OK
    sent = json.loads(proc.stdout)
    assert header_values(sent, "Authorization") == ["Bearer secret"]  # sent as given
    err = proc.stderr.decode()
    assert f"> GET {server.url}/echo\n" in err
    assert "> x-visible: shown\n" in err  # names as Request.headers has them (api.md 8)
    assert "> authorization: Bearer [secure]\n" in err
    assert "> cookie: [secure]\n" in err
    assert "< HTTP/1.1 200 OK\n" in err
    assert "< content-type: application/json\n" in err
    assert "secret" not in err
    assert "httpr:" not in err


def test_verbose_shows_every_hop_and_the_request_of_a_failure(server: TestServer) -> None:
    proc = run("-v", f"{server.url}/redirect?to=/status/200")
    err = proc.stderr.decode()
    assert err.index("< HTTP/1.1 302 Found") < err.index(f"> GET {server.url}/status/200")
    proc = run("-v", "--timeout", "0.3", f"{server.url}/delay?s=2")
    assert proc.returncode == EXIT_TIMEOUT
    lines = proc.stderr.decode().splitlines()
    assert lines[0] == f"> GET {server.url}/delay?s=2"
    assert lines[-1].startswith("httpr: ReadTimeout: ")


# -- --version, -h, the console script ---------------------------------------------------------


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == EXIT_OK and proc.stderr == b""
    assert VERSION_RE.match(proc.stdout.decode()), proc.stdout


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_every_option(flag: str) -> None:
    text = ok(flag).decode()
    for option in (
        "--method", "--header", "--data", "--json", "--expect-status", "--timeout",
        "--no-follow", "--insecure", "--cacert", "--proxy", "--include", "--output",
        "--quiet", "--timings", "--json-output", "--verbose", "--version", "--help",
        "--http1.1", "--http2", "--max-redirects", "--retries",
    ):  # fmt: skip
        assert option in text


def test_console_script(server: TestServer) -> None:
    script = VENV_BIN / "httpr"
    if not script.exists():
        pytest.skip("the console script appears after the next install")
    proc = subprocess.run(
        [str(script), f"{server.url}/status/200"],
        capture_output=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (EXIT_OK, b"status 200", b"")


def test_main_is_the_console_script_entry_point(server: TestServer) -> None:
    # What the installed `httpr` script runs (pyproject's [project.scripts]).
    code = "import sys; from httpr.__main__ import main; sys.exit(main())"
    proc = subprocess.run(
        [PYTHON, "-c", code, "--expect-status", "404", f"{server.url}/status/404"],
        capture_output=True,
        cwd=ROOT,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (EXIT_OK, b"status 404", b"")


# -- --proxy, TLS: -k and --cacert -------------------------------------------------------------


def test_proxy_option(server: TestServer) -> None:
    with HTTPProxy() as proxy:
        assert ok("--proxy", proxy.url, f"{server.url}/status/200") == b"status 200"
        assert proxy.requests[0].startswith(f"GET {server.url}/status/200 ".encode())


def test_unreachable_proxy_exits_3(server: TestServer) -> None:
    proc = fails(EXIT_TRANSPORT, "--proxy", f"http://127.0.0.1:{free_port()}", server.url)
    assert proc.stderr.startswith(b"httpr: ProxyError: ")


class _TLSHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"secure"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a refused handshake is expected in these tests."""


class _TLSServer(http.server.ThreadingHTTPServer):
    """HTTPS on 127.0.0.1; the handshake runs in the handler thread."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(("127.0.0.1", 0), _TLSHandler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup (getfqdn)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self.context.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that refuse the certificate abort the handshake."""


@pytest.fixture(scope="module")
def tls_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(https URL of a local server, path of the PEM CA that signed its certificate)."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_path = tmp_path_factory.mktemp("cli-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    srv = _TLSServer(context)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"https://127.0.0.1:{srv.server_address[1]}/", ca_path
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_https_with_cacert(tls_origin: tuple[str, Path]) -> None:
    url, ca = tls_origin
    assert ok("--cacert", str(ca), url) == b"secure"
    assert ok("--cacert", str(ca), "--http1.1", url) == b"secure"


def test_https_untrusted_certificate_exits_3(tls_origin: tuple[str, Path]) -> None:
    url, _ = tls_origin
    proc = fails(EXIT_TRANSPORT, url)
    assert proc.stderr.startswith(b"httpr: ConnectError: ")


@pytest.mark.parametrize("flag", ["-k", "--insecure"])
def test_https_insecure(tls_origin: tuple[str, Path], flag: str) -> None:
    assert ok(flag, tls_origin[0]) == b"secure"


def test_cacert_without_certificates_exits_2(tls_origin: tuple[str, Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("no certificate here\n")
    fails(EXIT_USAGE, "--cacert", str(empty), tls_origin[0])
