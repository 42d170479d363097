"""The ``httpr`` command line: one HTTP request, curl-style (api.md section 15).

    python -m httpr [options] URL        (or ``httpr`` once the console script is installed)

The response body goes to stdout as raw bytes (``-o FILE`` streams it to a file instead, with
bounded memory and a progress bar when stderr is a terminal). Diagnostics are one stderr
line starting ``httpr: ``, never a traceback; on success stderr stays empty unless
``--timings`` or ``-v`` asks for lines (amendment 1.19).

Exit codes: 0 the final status is accepted; 1 a response arrived with a status not accepted;
2 usage error, invalid URL or option value; 3 connection or transport failure; 4 a timeout;
130 interrupted (Ctrl-C).

How the options map to the library:

- ``--timeout S`` is ``Timeout(S, total=S)`` (amendment 3.7). Without ``-o`` the body is read
  in memory by ``Client.request``, so ``total`` bounds the whole exchange and a probe cannot
  hang; with ``-o`` the body is streamed, and as for every stream (api.md section 5) ``total``
  bounds the exchange up to the final response head while each wait for body bytes stays
  bounded by ``S`` (the read timeout), so long downloads work.
- ``-d DATA`` sends ``DATA`` as ``application/x-www-form-urlencoded`` as curl does; ``@path``
  reads a file and ``@-`` stdin, byte for byte; several ``-d`` are joined with ``&``.
- ``-H 'Name: value'`` adds a header, ``-H 'Name:'`` removes one httpr would send and
  ``-H 'Name;'`` sends it with an empty value (curl's forms).
- ``-v`` prints each hop's request head as it is handed to libcurl (method, URL and the
  headers ``Request.headers`` holds; libcurl adds ``Host``) and each response head, with
  ``Authorization``, ``Proxy-Authorization``, ``Cookie`` and ``Set-Cookie`` masked (R14).
- ``--json-output`` prints one JSON object on stdout instead of the body (and the ``-i``
  head): url, method, status, reason, http_version, headers (pairs), redirects, timings,
  size (decoded body bytes), output (with ``-o``) and error (``null``, or type and message).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import httpr

__all__ = ["main"]

PROG = "httpr"

# Exit codes (api.md section 15).
EXIT_OK = 0
EXIT_STATUS = 1
EXIT_USAGE = 2
EXIT_TRANSPORT = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

DEFAULT_TIMEOUT_SECONDS = 30.0
# The -o progress bar is redrawn at most this often.
PROGRESS_INTERVAL_SECONDS = 0.1
# R14: header values never shown by -v.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
MASK = "[secure]"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
# Methods sent with Content-Length: 0 when they have no body (amendment 4.3).
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class CLIError(Exception):
    """A failure of the command line itself (not of the request): message and exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# -- argument parsing --------------------------------------------------------------------------


class _VersionAction(argparse.Action):
    """``--version``: computed on demand, so building the parser never loads libcurl."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help=kwargs.get("help"))

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> NoReturn:
        sys.stdout.write(version_line() + "\n")
        sys.stdout.flush()
        parser.exit(EXIT_OK)


def version_line() -> str:
    """``httpr <version> (libcurl <version>)``."""
    import httpr
    from httpr._curl import CURL

    return f"{PROG} {httpr.__version__} (libcurl {CURL.version})"


def _header(text: str) -> tuple[str, str | None]:
    """``Name: value`` -> (name, value); ``Name:`` -> (name, None), removing the header;
    ``Name;`` -> (name, ""). The library validates the name and value (R1)."""
    name, colon, value = text.partition(":")
    if colon:
        value = value.strip(" \t")
        return name.strip(" \t"), (value if value else None)
    if text.endswith(";") and text[:-1].strip(" \t"):
        return text[:-1].strip(" \t"), ""
    raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")


def _status_codes(text: str) -> list[int]:
    codes: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 100 <= int(part) <= 999:
            raise argparse.ArgumentTypeError(f"expected status codes 100-999, got {text!r}")
        codes.append(int(part))
    return codes


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative seconds, got {text!r}")
    return value


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every option (``-h`` lists them)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Send one HTTP request with httpr and write the response body to stdout.",
        epilog=(
            "exit codes: 0 accepted status, 1 status not accepted, 2 usage error or invalid "
            "URL/option, 3 connection or transport failure, 4 timeout, 130 interrupted"
        ),
    )
    parser.add_argument("url", metavar="URL", help="http:// or https:// URL")
    req = parser.add_argument_group("request")
    req.add_argument(
        "-X", "--method", metavar="METHOD", help="request method (default GET, POST with a body)"
    )
    req.add_argument(
        "-H",
        "--header",
        dest="headers",
        metavar="'Name: value'",
        type=_header,
        action="append",
        default=[],
        help="extra header; repeatable ('Name:' removes a header, 'Name;' sends it empty)",
    )
    body = req.add_mutually_exclusive_group()
    body.add_argument(
        "-d",
        "--data",
        metavar="DATA",
        action="append",
        help="body sent as application/x-www-form-urlencoded; @path reads a file, @- stdin; "
        "repeatable (joined with &)",
    )
    body.add_argument(
        "--json",
        metavar="JSON",
        help="body sent as application/json (validated first); @path reads a file, @- stdin",
    )
    conn = parser.add_argument_group("connection")
    conn.add_argument(
        "--timeout",
        metavar="S",
        type=_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="timeout in seconds for each phase and for the whole request (default 30)",
    )
    conn.add_argument("--no-follow", action="store_true", help="do not follow redirects")
    conn.add_argument(
        "--max-redirects", metavar="N", type=_count, help="redirects to follow (default 20)"
    )
    conn.add_argument(
        "--retries",
        metavar="N",
        type=_count,
        default=0,
        help="extra connection attempts after a connect failure (default 0)",
    )
    conn.add_argument(
        "-k", "--insecure", action="store_true", help="do not verify the server's certificate"
    )
    conn.add_argument(
        "--cacert", metavar="FILE", help="PEM bundle of CA certificates replacing the default"
    )
    conn.add_argument("--proxy", metavar="URL", help="proxy for the request")
    version = conn.add_mutually_exclusive_group()
    version.add_argument("--http1.1", dest="http1", action="store_true", help="never use HTTP/2")
    version.add_argument("--http2", action="store_true", help="HTTP/2 only")
    out = parser.add_argument_group("output")
    out.add_argument(
        "--expect-status",
        metavar="CODE[,CODE...]",
        type=_status_codes,
        action="append",
        help="accepted final status codes; repeatable (default: any 2xx)",
    )
    out.add_argument(
        "-i",
        "--include",
        action="store_true",
        help="print the status line and response headers before the body",
    )
    out.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="stream the body to FILE (a progress bar on stderr when it is a terminal)",
    )
    out.add_argument("-q", "--quiet", action="store_true", help="do not print the body")
    out.add_argument(
        "--timings",
        action="store_true",
        help="DNS, connect, TLS, first-byte and total times of the final hop on stderr",
    )
    out.add_argument(
        "--json-output",
        action="store_true",
        help="print one JSON object (status, headers, timings, size, error) instead of the body",
    )
    out.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="the request and response heads on stderr, secrets masked",
    )
    out.add_argument(
        "--version",
        action=_VersionAction,
        help="print 'httpr <version> (libcurl <version>)' and exit",
    )
    return parser


# -- request building --------------------------------------------------------------------------


def _read_source(arg: str, what: str) -> bytes:
    """The bytes of an ``@path`` / ``@-`` argument, else the argument itself."""
    if not arg.startswith("@"):
        return os.fsencode(arg)
    path = arg[1:]
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CLIError(f"cannot read {what} from {path!r}: {e.strerror or e}", EXIT_USAGE) from None


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def request_body(args: argparse.Namespace) -> tuple[bytes | None, str | None]:
    """The body and its default Content-Type from ``-d`` or ``--json``."""
    if args.data is not None:
        return b"&".join(_read_source(d, "data") for d in args.data), FORM_CONTENT_TYPE
    if args.json is not None:
        raw = _read_source(args.json, "JSON")
        try:
            json.loads(raw, parse_constant=_reject_constant)
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise CLIError(f"invalid --json: {e}", EXIT_USAGE) from None
        return raw, JSON_CONTENT_TYPE
    return None, None


def request_headers(
    args: argparse.Namespace, content_type: str | None
) -> list[tuple[str, str | None]]:
    headers: list[tuple[str, str | None]] = list(args.headers)
    if content_type is not None and not any(n.lower() == "content-type" for n, _ in headers):
        headers.insert(0, ("Content-Type", content_type))
    return headers


# -- output ------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _mask_value(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, space, _ = value.partition(" ")
    if space and name.lower().endswith("authorization"):
        return f"{scheme} {MASK}"  # keep "Basic" / "Bearer": it says which credential went
    return MASK


def status_line(response: httpr.Response) -> str:
    return f"{response.http_version} {response.status_code} {response.reason_phrase}".rstrip()


def response_head(response: httpr.Response) -> bytes:
    """Status line, header lines and the blank line, CRLF-terminated as on the wire."""
    lines = [status_line(response)]
    lines += [f"{name}: {value}" for name, value in response.headers.multi_items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")


def heads_of(response: httpr.Response) -> bytes:
    """The head of every hop (redirects followed first), as ``curl -i -L`` prints them."""
    return b"".join(response_head(r) for r in [*response.history, response])


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # Defensive: the loop returns at GiB


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    if hours:
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """A one-line progress bar on a terminal: bytes, rate and, when the length is known, a
    percentage and the ETA. Redrawn at most every PROGRESS_INTERVAL_SECONDS."""

    def __init__(self, stream: IO[str], total: int | None) -> None:
        self._stream = stream
        self._total = total
        self._done = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._width = 0

    def update(self, n: int) -> None:
        self._done += n
        now = time.monotonic()
        if now - self._drawn_at >= PROGRESS_INTERVAL_SECONDS:
            self._draw(now)

    def finish(self) -> None:
        self._draw(time.monotonic())
        self._stream.write("\n")
        self._stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-6)
        rate = self._done / elapsed
        if self._total:
            percent = min(100, self._done * 100 // self._total)
            left = max(self._total - self._done, 0)
            eta = _clock(left / rate) if rate > 0 else "--:--"
            return (
                f"{_size(self._done)} / {_size(self._total)} {percent:3d}%  "
                f"{_size(rate)}/s  ETA {eta}"
            )
        return f"{_size(self._done)}  {_size(rate)}/s  {_clock(elapsed)}"

    def _draw(self, now: float) -> None:
        text = self.line(now)
        pad = max(self._width - len(text), 0)
        self._width = len(text)
        self._stream.write("\r" + text + " " * pad)
        self._stream.flush()
        self._drawn_at = now


def _print_timings(timings: httpr.Timings) -> None:
    rows = (
        ("dns", timings.name_lookup),
        ("connect", timings.connect),
        ("tls", timings.tls_handshake),
        ("first byte", timings.first_byte),
        ("total", timings.total),
    )
    for label, seconds in rows:
        sys.stderr.write(f"{label + ':':<12}{seconds * 1000:10.3f} ms\n")
    sys.stderr.write(f"{'connection:':<12}{'new' if timings.new_connection else 'reused':>10}\n")


class Run:
    """One invocation: the options, what happened, and what goes to stdout and stderr."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sent = False  # a request hook ran: a hop reached the transport
        self.response: httpr.Response | None = None
        self.size = 0
        self.error: tuple[str, str] | None = None  # (type, message) for --json-output

    # -- hooks (-v prints each hop as it happens) --

    def on_request(self, request: httpr.Request) -> None:
        self.sent = True
        if self.args.verbose:
            lines = [f"> {request.method} {request.url}"]
            lines += [f"> {n}: {_mask_value(n, v)}" for n, v in request.headers.multi_items()]
            sys.stderr.write("\n".join(lines) + "\n>\n")
            sys.stderr.flush()

    def on_response(self, response: httpr.Response) -> None:
        if self.args.verbose:
            from httpr._models import _mask_url

            lines = [f"< {status_line(response)}"]
            for name, value in response.headers.multi_items():
                if name.lower() == "location":
                    value = _mask_url(value)
                lines.append(f"< {name}: {_mask_value(name, value)}")
            sys.stderr.write("\n".join(lines) + "\n<\n")
            sys.stderr.flush()

    # -- the request --

    def client(self) -> httpr.Client:
        import httpr

        a = self.args
        kwargs: dict[str, Any] = {
            "timeout": httpr.Timeout(a.timeout, total=a.timeout),
            "follow_redirects": not a.no_follow,
            "verify": not a.insecure,
            "http1_only": a.http1,
            "http2_only": a.http2,
            "retries": a.retries,
            "event_hooks": {"request": [self.on_request], "response": [self.on_response]},
        }
        if a.max_redirects is not None:
            kwargs["max_redirects"] = a.max_redirects
        if a.cacert is not None:
            kwargs["ca_cert_file"] = a.cacert
        if a.proxy is not None:
            kwargs["proxy"] = a.proxy
        return httpr.Client(**kwargs)

    def execute(self) -> None:
        a = self.args
        content, content_type = request_body(a)
        headers = request_headers(a, content_type)
        method = (a.method or ("POST" if content is not None else "GET")).upper()
        if content is None and method in BODY_METHODS:
            # The empty body these methods send anyway (amendment 4.3), given explicitly: with
            # a request hook installed, the library checks the Content-Length: 0 it shows
            # against "no body" and refuses it.
            content = b""
        with self.client() as client:
            if a.output is not None:
                self._download(client, method, a.url, headers, content)
            else:
                response = client.request(method, a.url, headers=headers, content=content)
                self.response = response
                self.size = len(response.content)
                if not a.json_output:
                    if a.include:
                        _write_stdout(heads_of(response))
                    if not a.quiet:
                        _write_stdout(response.content)

    def _download(
        self,
        client: httpr.Client,
        method: str,
        url: str,
        headers: list[tuple[str, str | None]],
        content: bytes | None,
    ) -> None:
        """``-o FILE``: the body streamed to the file in chunks (bounded memory)."""
        path: str = self.args.output
        with client.stream(method, url, headers=headers, content=content) as response:
            self.response = response
            try:
                out = open(path, "wb")
            except OSError as e:
                raise CLIError(f"cannot write {path!r}: {e.strerror or e}", EXIT_USAGE) from None
            progress: Progress | None = None
            if sys.stderr.isatty():
                length = response.headers.get("content-length")
                total = int(length) if length is not None and length.isdigit() else None
                progress = Progress(sys.stderr, total)
            try:
                with out:
                    if self.args.include:
                        out.write(heads_of(response))
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        self.size += len(chunk)
                        if progress is not None:
                            progress.update(len(chunk))
            except OSError as e:
                raise CLIError(
                    f"cannot write {path!r}: {e.strerror or e}", EXIT_TRANSPORT
                ) from None
            finally:
                if progress is not None:
                    progress.finish()

    # -- the verdict --

    def accepted(self, response: httpr.Response) -> str | None:
        """None when the status is accepted, else the message of exit code 1."""
        codes = [c for group in self.args.expect_status or () for c in group]
        if codes:
            if response.status_code in codes:
                return None
            expected = ", ".join(str(c) for c in codes[:-1])
            expected = f"{expected} or {codes[-1]}" if expected else str(codes[-1])
        else:
            if 200 <= response.status_code <= 299:
                return None
            expected = "2xx"
        got = f"{response.status_code} {response.reason_phrase}".rstrip()
        method = response.request.method if response.request is not None else "GET"
        return f"expected status {expected}, got {got} ({method} {response.url})"

    def report(self) -> dict[str, Any]:
        """The --json-output object."""
        r = self.response
        doc: dict[str, Any] = {
            "url": r.url if r is not None else self.args.url,
            "method": r.request.method if r is not None and r.request is not None else None,
            "status": r.status_code if r is not None else None,
            "reason": r.reason_phrase if r is not None else None,
            "http_version": r.http_version if r is not None else None,
            "headers": [list(p) for p in r.headers.multi_items()] if r is not None else [],
            "redirects": len(r.history) if r is not None else 0,
            "timings": dataclasses.asdict(r.timings) if r is not None else None,
            "size": self.size,
            "error": None,
        }
        if self.args.output is not None:
            doc["output"] = self.args.output
        if self.error is not None:
            doc["error"] = {"type": self.error[0], "message": self.error[1]}
        return doc


class StdoutClosed(CLIError):
    """stdout's reader went away (``httpr URL | head -c 10``)."""

    def __init__(self) -> None:
        super().__init__("cannot write to stdout: the reader went away", EXIT_TRANSPORT)


def _write_stdout(data: bytes) -> None:
    out = sys.stdout.buffer
    view = memoryview(data)
    try:
        # BufferedWriter.write may return a short count when the reader goes away mid-write
        # (the error then surfaces on the next call): loop until all is written or it raises.
        while view:
            view = view[out.write(view) :]
    except BrokenPipeError:
        raise StdoutClosed() from None


def _exit_code(exc: BaseException, sent: bool) -> int:
    """The exit code of a failed request (api.md section 15)."""
    import httpr

    if isinstance(exc, httpr.TimeoutException):
        return EXIT_TIMEOUT
    if isinstance(exc, httpr.InvalidURL):
        return EXIT_USAGE
    if isinstance(exc, httpr.UnsupportedProtocol):
        # The URL (or --http2 on a libcurl without it) before any I/O: amendment 3.7. A
        # redirect to another scheme is a failure of the transfer instead.
        return EXIT_TRANSPORT if sent else EXIT_USAGE
    if isinstance(exc, httpr.HTTPError):
        return EXIT_TRANSPORT
    if isinstance(exc, (ValueError, TypeError, OSError)) and not sent:
        return EXIT_USAGE  # a header, method or option value the library refused
    return EXIT_TRANSPORT


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit-time flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # Defensive: stdout without a descriptor
        pass


def run(args: argparse.Namespace) -> int:
    """Executes parsed arguments; returns the exit code."""
    state = Run(args)
    code = EXIT_OK
    message: str | None = None
    stdout_closed = False
    try:
        state.execute()
    except CLIError as e:
        code, message = e.code, str(e)
        state.error = ("UsageError" if e.code == EXIT_USAGE else "OutputError", str(e))
        stdout_closed = isinstance(e, StdoutClosed)
    except Exception as e:  # every library error, and no traceback for anything else
        code = _exit_code(e, state.sent)
        message = f"{type(e).__name__}: {e}"
        state.error = (type(e).__name__, _one_line(str(e)))
    else:
        assert state.response is not None
        verdict = state.accepted(state.response)
        if verdict is not None:
            code, message = EXIT_STATUS, verdict
            state.error = ("UnexpectedStatus", verdict)
    if args.timings and state.response is not None:
        _print_timings(state.response.timings)
    try:
        if args.json_output:
            _write_stdout((json.dumps(state.report()) + "\n").encode("utf-8"))
        sys.stdout.flush()
    except (StdoutClosed, BrokenPipeError):
        stdout_closed = True
        code, message = EXIT_TRANSPORT, str(StdoutClosed())
    if stdout_closed:
        _silence_stdout()
    if message is not None:
        sys.stderr.write(f"{PROG}: {_one_line(message)}\n")
        sys.stderr.flush()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """The console script ``httpr`` and ``python -m httpr``: returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return run(args)
    except KeyboardInterrupt:
        try:
            sys.stdout.flush()
        except Exception:  # Defensive: nothing may print after Ctrl-C
            pass
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
