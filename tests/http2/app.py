"""The ASGI app behind the HTTP/2 tests, and the hypercorn launcher that serves it.

Run by tests/http2/conftest.py as ``python -m tests.http2.app --tls-fd N --plain-fd M ...``:
one hypercorn process serves the app on two listening sockets made by the parent, one with
TLS (ALPN ``h2``, ``http/1.1``) and one cleartext (HTTP/1.1, or HTTP/2 with prior knowledge,
which hypercorn detects from the connection preface). A separate process keeps hypercorn's
event loop, its logging and any warnings of h2/hypercorn out of the pytest process.

Endpoints (any method):

- ``/echo``: JSON with method, path, query pairs, headers (``[name, value]`` pairs as the
  server got them), ``http_version`` from the ASGI scope (``"1.1"`` or ``"2"``), client
  address, body length and SHA-256. Response headers include ``X-Server-MiXed: yes`` and
  ``x-dup`` twice (``one``, ``two``), for the header-map tests.
- ``/bytes?size=N``: ``payload(N)`` (tests.servers.app), at most `MAX_BYTES`.
- ``/delay?s=F``: ``ok`` after F seconds (at most `MAX_DELAY_SECONDS`); returns early, counted
  as a disconnect, when the client goes away (HTTP/2: the stream is reset).
- ``/connections?tag=T``: JSON ``{"connections", "requests", "disconnects", "versions"}`` for
  the requests that carried ``?tag=T``; this request itself is not recorded.

Connections are counted as distinct ``scope["client"]`` (host, port) pairs per tag:
hypercorn does not expose its connections, but every stream of one TCP connection has the
same peer address.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from collections import defaultdict
from collections.abc import Awaitable, MutableMapping
from typing import Any, Callable
from urllib.parse import parse_qsl

from tests.servers.app import payload

MAX_BYTES = 16 * 1024 * 1024
# /delay never sleeps longer, whatever the query says: a typo must not hang the run.
MAX_DELAY_SECONDS = 10.0
# hypercorn's graceful shutdown window when the parent sends SIGTERM.
GRACEFUL_SECONDS = 1.0
# Idle keep-alive connections are closed after this (longer than any test).
KEEP_ALIVE_SECONDS = 30.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Recorder:
    """What the requests tagged ``?tag=T`` looked like, per tag."""

    def __init__(self) -> None:
        self.peers: defaultdict[str, set[tuple[str, int]]] = defaultdict(set)
        self.requests: defaultdict[str, int] = defaultdict(int)
        self.disconnects: defaultdict[str, int] = defaultdict(int)
        self.versions: defaultdict[str, list[str]] = defaultdict(list)

    def record(self, tag: str, scope: Scope) -> None:
        client = scope.get("client")
        if client is not None:
            self.peers[tag].add((str(client[0]), int(client[1])))
        self.requests[tag] += 1
        self.versions[tag].append(str(scope.get("http_version", "")))

    def stats(self, tag: str) -> dict[str, Any]:
        return {
            "connections": len(self.peers.get(tag, ())),
            "requests": self.requests.get(tag, 0),
            "disconnects": self.disconnects.get(tag, 0),
            "versions": list(self.versions.get(tag, [])),
        }


RECORDER = Recorder()


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = b"application/octet-stream",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers.extend(extra or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    params = dict(query)
    path = scope["path"]
    tag = params.get("tag")

    if path == "/connections":
        body = json.dumps(RECORDER.stats(params.get("tag", ""))).encode()
        await _respond(send, 200, body, b"application/json")
        return
    if tag is not None:
        RECORDER.record(tag, scope)

    request_body = await _read_body(receive)
    if request_body is None:
        if tag is not None:
            RECORDER.disconnects[tag] += 1
        return

    if path == "/echo":
        doc = {
            "method": scope["method"],
            "path": path,
            "query": [list(kv) for kv in query],
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "http_version": scope["http_version"],
            "scheme": scope["scheme"],
            "client": list(scope["client"]) if scope.get("client") else None,
            "body_len": len(request_body),
            "body_sha256": hashlib.sha256(request_body).hexdigest(),
        }
        extra = [(b"X-Server-MiXed", b"yes"), (b"x-dup", b"one"), (b"x-dup", b"two")]
        await _respond(send, 200, json.dumps(doc).encode(), b"application/json", extra)
    elif path == "/bytes":
        try:
            size = int(params.get("size", "0"))
        except ValueError:
            size = -1
        if not 0 <= size <= MAX_BYTES:
            await _respond(send, 400, b"bad size")
            return
        await _respond(send, 200, payload(size))
    elif path == "/delay":
        try:
            seconds = min(max(float(params.get("s", "0")), 0.0), MAX_DELAY_SECONDS)
        except ValueError:
            seconds = 0.0
        # Both: the sleep, and a receive() that returns http.disconnect when the client
        # resets the stream or closes the connection.
        sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
        watcher = asyncio.ensure_future(receive())
        done, _ = await asyncio.wait({sleeper, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if sleeper in done:
            watcher.cancel()
            await _respond(send, 200, b"ok", b"text/plain")
        else:
            sleeper.cancel()
            if tag is not None:
                RECORDER.disconnects[tag] += 1
    else:
        await _respond(send, 404, b"not found", b"text/plain")


def main(argv: list[str] | None = None) -> None:
    """Serve `app` on the inherited listening sockets until SIGTERM (hypercorn's handler)."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tls-fd", type=int, required=True)
    parser.add_argument("--plain-fd", type=int, required=True)
    parser.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    parser.add_argument("--key", required=True, help="server private key (PEM)")
    args = parser.parse_args(argv)

    config = Config()
    config.bind = [f"fd://{args.tls_fd}"]
    config.insecure_bind = [f"fd://{args.plain_fd}"]
    config.certfile = args.cert
    config.keyfile = args.key
    config.alpn_protocols = ["h2", "http/1.1"]
    config.graceful_timeout = GRACEFUL_SECONDS
    config.keep_alive_timeout = KEEP_ALIVE_SECONDS
    config.accesslog = None
    config.errorlog = "-"
    # The app is typed with plain mappings, not hypercorn's per-event TypedDicts.
    asyncio.run(serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
