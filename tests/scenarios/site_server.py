"""Serves the generated site (tests/scenarios/site.py) for the crawl scenario, in a subprocess.

    python -m tests.scenarios.site_server --proto h1 --fd N --origin http://127.0.0.1:P ...
    python -m tests.scenarios.site_server --proto h2 --fd N --cert C --key K --origin ...
    python -m tests.scenarios.site_server --proto h1 --port 8000   # by hand, until Ctrl-C

The parent binds the listening socket and passes its fd (so the port is known before the
child starts). The child serves until its stdin closes, and answers one command per stdin
line with one JSON line on stdout: ``stats`` → hits per path, requests whose Host was not the
origin's, connections accepted and open, HTTP versions seen.

Why a subprocess: the server's CPU is then not the crawler's (the crawl figures mean
something on a 2-core machine), its sockets do not count in the test's fd check, and
hypercorn and h2 never share the test process's warning filters or event loop.

- ``h1``: a small asyncio HTTP/1.1 server (keep-alive, GET/HEAD). Written here rather than
  taken from a framework because the faults need the socket: a reset is ``SO_LINGER`` 0 and
  an abort, so the client gets a TCP RST, mid-status-line or mid-body.
- ``h2``: hypercorn over TLS (ALPN ``h2``, ``http/1.1``), serving the site as an ASGI app. A
  connection reset would kill every stream multiplexed on the connection, so on HTTP/2 the
  per-request analogue is used: ``RST_STREAM`` (INTERNAL_ERROR) on that stream. ASGI has no
  way to ask for one, so hypercorn's HTTP/2 protocol gets one small hook (`_install_reset`)
  that resets a stream whose response carries `RESET_HEADER`, or whose body chunk is
  `RESET_CHUNK`, instead of sending it. Pinned hypercorn (0.18.0) in the test extra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import struct
import sys
from collections import Counter
from collections.abc import Awaitable, MutableMapping
from http import HTTPStatus
from typing import Any, Callable
from urllib.parse import urlsplit

from tests.scenarios.site import PAGES, STALL_SECONDS, Renderer, Reply, Site

# A reset waits this long after the partial bytes are written, so the client has read them
# (bytes still unread when an RST arrives are discarded by the client's kernel, and a reset
# with nothing read on a reused connection is the stale-connection case libcurl resends).
RESET_PAUSE_SECONDS = 0.05
# Request heads larger than this are refused (the crawler's are ~200 bytes).
MAX_HEAD_BYTES = 64 * 1024
# An idle keep-alive connection is closed after this (longer than any crawl).
IDLE_SECONDS = 120.0
RESET_HEADER = (b"x-scenario-reset", b"1")
RESET_CHUNK = b"\0scenario-reset\0"
LISTEN_BACKLOG = 512
# hypercorn closes an HTTP/2 connection (GOAWAY) after 1,000 requests by default. libcurl
# 7.88 (Debian 12's) fails or stalls streams in flight on a connection that goes away so
# (the curl command line too: exit 16, 18, 28), which is not what this scenario tests: its
# connections live for the whole crawl. Reported in issue 11's note.
MAX_REQUESTS_PER_CONNECTION = 1_000_000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class Stats:
    """What the server saw; read through the ``stats`` command."""

    def __init__(self, origin: str) -> None:
        self.authority = urlsplit(origin).netloc
        self.hits: Counter[str] = Counter()
        self.offsite = 0
        self.accepted = 0
        self.open = 0
        self.versions: Counter[str] = Counter()
        self.peers: set[tuple[str, int]] = set()

    def record(self, path: str, authority: str | None, version: str) -> int:
        """Counts one request; returns how many requests `path` has had, this one included."""
        if authority != self.authority:
            self.offsite += 1
        self.versions[version] += 1
        self.hits[path] += 1
        return self.hits[path]

    def to_json(self) -> dict[str, Any]:
        return {
            "hits": dict(self.hits),
            "offsite": self.offsite,
            "accepted": self.accepted or len(self.peers),
            "open": self.open,
            "versions": dict(self.versions),
        }


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# -- HTTP/1.1 ---------------------------------------------------------------------------------


class H1Server:
    """Keep-alive HTTP/1.1 over asyncio streams, with the site's faults."""

    def __init__(self, renderer: Renderer, stats: Stats) -> None:
        self.renderer = renderer
        self.stats = stats

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        self.stats.open += 1
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        aborted = False
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_SECONDS)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return
                except asyncio.TimeoutError:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or "0")
                if length:
                    await reader.readexactly(length)
                path = urlsplit(target).path
                hit = self.stats.record(path, headers.get("host"), "HTTP/1.1")
                accepts_gzip = "gzip" in headers.get("accept-encoding", "")
                reply = self.renderer.reply(path, hit, accepts_gzip)
                keep, aborted = await self._send(reader, writer, reply, method == "HEAD")
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except OSError:
            return
        finally:
            self.stats.open -= 1
            if not aborted:
                writer.close()
                try:
                    await writer.wait_closed()
                except OSError:
                    pass

    async def _send(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        reply: Reply,
        head_only: bool,
    ) -> tuple[bool, bool]:
        """Writes `reply`; returns (keep the connection, it was reset)."""
        lines = [f"HTTP/1.1 {reply.status} {_reason(reply.status)}"]
        lines += [f"{name}: {value}" for name, value in reply.headers]
        lines.append(f"content-length: {len(reply.body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        body = b"" if head_only else reply.body
        if reply.action == "stall-head":
            return await _stall(reader), False
        if reply.action == "reset-head":
            writer.write(head[: reply.split])
            await writer.drain()
            await _reset(writer)
            return False, True
        if reply.action in ("stall-body", "reset-body"):
            writer.write(head + body[: reply.split])
            await writer.drain()
            if reply.action == "reset-body":
                await _reset(writer)
                return False, True
            if not await _stall(reader):
                return False, False
            writer.write(body[reply.split :])
        else:
            writer.write(head + body)
        await writer.drain()
        return True, False


async def _stall(reader: asyncio.StreamReader) -> bool:
    """Waits STALL_SECONDS or until the client goes away; True if it is still there. Nothing
    else can arrive meanwhile: the client waits for this response (no pipelining)."""
    try:
        data = await asyncio.wait_for(reader.read(1), STALL_SECONDS)
    except asyncio.TimeoutError:
        return True
    except OSError:
        return False
    return bool(data)  # Defensive: a byte here would be a pipelined request


async def _reset(writer: asyncio.StreamWriter) -> None:
    """A TCP RST: linger 0, then close without a FIN."""
    await asyncio.sleep(RESET_PAUSE_SECONDS)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# -- HTTP/2 (hypercorn) -----------------------------------------------------------------------


def _install_reset() -> None:
    """Makes hypercorn's HTTP/2 protocol reset a stream on the markers (module docstring)."""
    import h2.errors
    from hypercorn.protocol import h2 as hyper_h2
    from hypercorn.protocol.events import Body, Response

    original = hyper_h2.H2Protocol.stream_send

    async def stream_send(self: Any, event: Any) -> None:
        marked = (isinstance(event, Response) and RESET_HEADER in event.headers) or (
            isinstance(event, Body) and bytes(event.data) == RESET_CHUNK
        )
        if not marked:
            await original(self, event)
            return
        try:
            self.connection.reset_stream(event.stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
            await self._flush()
        except h2.exceptions.ProtocolError:
            pass  # the client closed the stream first

    hyper_h2.H2Protocol.stream_send = stream_send  # type: ignore[method-assign]


class SiteApp:
    """The site as an ASGI app (hypercorn)."""

    def __init__(self, renderer: Renderer, stats: Stats) -> None:
        self.renderer = renderer
        self.stats = stats

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        if client is not None:
            self.stats.peers.add((str(client[0]), int(client[1])))
        version = "HTTP/2" if scope.get("http_version") == "2" else "HTTP/1.1"
        authority = headers.get("host") or headers.get(":authority")
        hit = self.stats.record(scope["path"], authority, version)
        reply = self.renderer.reply(
            scope["path"], hit, "gzip" in headers.get("accept-encoding", "")
        )
        response_headers = [(k.encode(), v.encode()) for k, v in reply.headers]
        response_headers.append((b"content-length", str(len(reply.body)).encode()))
        body = b"" if scope["method"] == "HEAD" else reply.body
        start = {"type": "http.response.start", "status": reply.status}
        if reply.action == "stall-head":
            if not await _wait_disconnect(receive):
                return
        if reply.action == "reset-head":
            await send({**start, "headers": [*response_headers, RESET_HEADER]})
            return
        await send({**start, "headers": response_headers})
        if reply.action in ("stall-body", "reset-body"):
            await send(
                {"type": "http.response.body", "body": body[: reply.split], "more_body": True}
            )
            if reply.action == "reset-body":
                await asyncio.sleep(RESET_PAUSE_SECONDS)
                await send({"type": "http.response.body", "body": RESET_CHUNK, "more_body": True})
                return
            if not await _wait_disconnect(receive):
                return
            body = body[reply.split :]
        await send({"type": "http.response.body", "body": body, "more_body": False})


async def _wait_disconnect(receive: Callable[[], Awaitable[Message]]) -> bool:
    """Waits STALL_SECONDS or until the client gives up; True if it is still there."""

    async def gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(gone(), STALL_SECONDS)
    except asyncio.TimeoutError:
        return True
    return False


# -- control and main ---------------------------------------------------------------------------


async def _control(stats: Stats, stop: asyncio.Event) -> None:
    """One JSON line on stdout per ``stats`` line on stdin; stdin's EOF stops the server."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.strip() == b"stats":
                sys.stdout.write(json.dumps(stats.to_json()) + "\n")
                sys.stdout.flush()
    finally:
        stop.set()


async def serve(args: argparse.Namespace) -> None:
    site = Site(pages=args.pages)
    stop = asyncio.Event()
    if args.port is not None:  # by hand: serve until Ctrl-C, no control channel
        sock = socket.create_server(("127.0.0.1", args.port), backlog=LISTEN_BACKLOG)
        scheme, port = ("https" if args.proto == "h2" else "http"), sock.getsockname()[1]
        args.origin = args.origin or f"{scheme}://127.0.0.1:{port}"
        args.offsite = args.offsite or f"{scheme}://localhost:{port}"
        print(f"site of {args.pages} pages: {args.origin}/p/0", file=sys.stderr, flush=True)
    else:
        sock = socket.socket(fileno=args.fd)
    renderer = Renderer(site, args.origin, args.offsite)
    stats = Stats(args.origin)
    control = asyncio.create_task(
        _control(stats, stop) if args.port is None else asyncio.Event().wait()
    )
    if args.proto == "h1":
        server = await asyncio.start_server(
            H1Server(renderer, stats).handle, sock=sock, limit=MAX_HEAD_BYTES
        )
        print("ready", flush=True)
        async with server:
            await stop.wait()
        control.cancel()
    else:
        from hypercorn.asyncio import serve as hypercorn_serve
        from hypercorn.config import Config

        _install_reset()
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.certfile = args.cert
        config.keyfile = args.key
        config.alpn_protocols = ["h2", "http/1.1"]
        config.keep_alive_timeout = IDLE_SECONDS
        config.keep_alive_max_requests = MAX_REQUESTS_PER_CONNECTION
        config.graceful_timeout = 1.0
        config.backlog = LISTEN_BACKLOG
        config.accesslog = None
        config.errorlog = "-"
        print("ready", flush=True)
        await hypercorn_serve(SiteApp(renderer, stats), config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
        control.cancel()
    try:
        await control
    except asyncio.CancelledError:
        pass


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--proto", choices=("h1", "h2"), required=True)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, help="listening socket (the tests' way)")
    where.add_argument("--port", type=int, help="listen on 127.0.0.1:PORT until Ctrl-C")
    p.add_argument("--origin", help="this server's origin, e.g. http://127.0.0.1:P")
    p.add_argument("--offsite", help="the other origin (same server)")
    p.add_argument("--pages", type=int, default=PAGES)
    p.add_argument("--cert", help="certificate chain (h2)")
    p.add_argument("--key", help="private key (h2)")
    args = p.parse_args(argv)
    if args.fd is not None and not (args.origin and args.offsite):
        p.error("--fd needs --origin and --offsite")
    if args.proto == "h2" and not (args.cert and args.key):
        p.error("--proto h2 needs --cert and --key")
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
