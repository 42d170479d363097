"""A short tour of httpr against a server this script starts on 127.0.0.1 (no internet).

    make demo        # or: .venv/bin/python examples/demo.py

It makes a few requests and prints what came back: status, headers in wire order, a gzip
body decoded, a JSON body, a form POST, a redirect with a cookie and credentials, an AsyncClient
fan-out, a timeout and a refused connection, with the time each took.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import httpr

TEXT = ("httpr drives libcurl from a C engine thread. " * 120).encode()


class Handler(BaseHTTPRequestHandler):
    """The demo's endpoints. Writes are buffered and flushed once per response, and
    TCP_NODELAY is set: a head and body written separately would otherwise wait for a
    delayed ACK (40 ms) on every keep-alive request."""

    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the tour prints what matters

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/gzip":
            body = gzip.compress(TEXT)
            self._send(200, body, [("Content-Type", "text/plain"), ("Content-Encoding", "gzip")])
        elif path == "/json":
            self._send(
                200, b'{"engine": "libcurl", "threads": 1}', [("Content-Type", "application/json")]
            )
        elif path == "/headers":
            self._send(
                200, b"ok", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Trace", "demo")]
            )
        elif path == "/slow":
            time.sleep(1.0)
            self._send(200, b"late", [])
        elif path == "/login":  # sets a cookie and redirects, as a login form does
            self._send(
                302, b"", [("Location", "/whoami"), ("Set-Cookie", "session=s3cr3t; Path=/")]
            )
        elif path == "/whoami":
            who = {"cookie": self.headers.get("Cookie"), "auth": self.headers.get("Authorization")}
            self._send(200, json.dumps(who).encode(), [("Content-Type", "application/json")])
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._send(code, f"status {code}".encode(), [])
        else:
            self._send(404, b"not found", [])

    do_HEAD = do_GET

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        form = dict(parse_qsl(raw.decode()))
        reply = {"content_type": self.headers.get("Content-Type"), "form": form, "bytes": length}
        self._send(200, json.dumps(reply).encode(), [("Content-Type", "application/json")])


def timed(label: str, call: object) -> object:
    start = time.perf_counter()
    try:
        result = call()  # type: ignore[operator]
    except httpr.HTTPError as exc:
        ms = (time.perf_counter() - start) * 1000
        print(f"{label:<34} {ms:8.2f} ms  -> {type(exc).__name__}: {exc}")
        return None
    ms = (time.perf_counter() - start) * 1000
    print(f"{label:<34} {ms:8.2f} ms  -> {result!r}")
    return result


def main() -> None:
    ThreadingHTTPServer.request_queue_size = 256  # socketserver's 5 drops parallel connects
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"httpr {httpr.__version__}, demo server on {base}\n")

    with httpr.Client(timeout=httpr.Timeout(5.0, read=0.3)) as client:
        r = timed("GET /gzip (first: new connection)", lambda: client.get(f"{base}/gzip"))
        assert isinstance(r, httpr.Response)
        size = len(r.content)
        print(f"    {r.http_version} {r.status_code} {r.reason_phrase}; decoded {size} bytes")
        print(f"    text starts: {r.text[:45]!r}")
        print(f"    headers: {r.headers.multi_items()}")
        t = r.timings
        print(
            f"    timings: connect {t.connect * 1e3:.2f} ms,"
            f" first byte {t.first_byte * 1e3:.2f} ms, total {t.total * 1e3:.2f} ms,"
            f" new connection {t.new_connection}"
        )
        r = timed("GET /gzip (reused connection)", lambda: client.get(f"{base}/gzip"))
        assert isinstance(r, httpr.Response)
        print(f"    new connection: {r.timings.new_connection}")
        r = timed("GET /json", lambda: client.get(f"{base}/json"))
        assert isinstance(r, httpr.Response)
        print(f"    json(): {r.json()}")
        r = timed("GET /headers (duplicates kept)", lambda: client.get(f"{base}/headers"))
        assert isinstance(r, httpr.Response)
        print(f"    set-cookie lines: {r.headers.get_list('set-cookie')}, cookies: {r.cookies}")
        r = timed(
            "POST form data", lambda: client.post(f"{base}/form", data={"q": "libcurl", "n": 2})
        )
        assert isinstance(r, httpr.Response)
        print(f"    server saw: {r.json()}")
        r = timed("HEAD /gzip", lambda: client.head(f"{base}/gzip"))
        r = timed("GET /status/404", lambda: client.get(f"{base}/status/404"))
        assert isinstance(r, httpr.Response)
        print(f"    is_error {r.is_error}; raise_for_status():")
        timed("    ", r.raise_for_status)
        timed("GET /slow with read timeout 0.3 s", lambda: client.get(f"{base}/slow"))

    with httpr.Client(auth=("demo", "pw")) as client:
        r = timed("GET /login (302 -> /whoami)", lambda: client.get(f"{base}/login"))
        assert isinstance(r, httpr.Response)
        print(f"    history: {r.history}, final url {r.url}")
        print(f"    the server saw: {r.json()}")
        print(f"    cookie jar: {[(c.name, c.value) for c in client.cookie_jar]}")

    async def fan_out() -> None:
        async with httpr.AsyncClient() as client:
            start = time.perf_counter()
            responses = await asyncio.gather(*(client.get(f"{base}/json") for _ in range(200)))
            ms = (time.perf_counter() - start) * 1000
            ok = sum(r.status_code == 200 for r in responses)
            print(f"AsyncClient: 200 GETs gathered in {ms:.1f} ms, {ok} OK (one C engine thread)")

    asyncio.run(fan_out())

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    timed("GET a closed port", lambda: httpr.get(f"http://127.0.0.1:{port}/"))
    timed("GET ftp://example.invalid/", lambda: httpr.get("ftp://example.invalid/"))

    with httpr.Client() as client:
        client.get(f"{base}/gzip")
        n = 500
        start = time.perf_counter()
        for _ in range(n):
            client.get(f"{base}/gzip")
        per = (time.perf_counter() - start) / n * 1e6
        print(f"\n{n} sequential GETs of /gzip on one client: {per:.0f} us per request")
    server.shutdown()


if __name__ == "__main__":
    main()
