"""Event hooks, connect retries, stale pooled connections and logging (api.md 2 `retries`
and `event_hooks` rows, the `event_hooks` property, "Event hooks", 13, 16; security.md
R14, FLT-20, FLT-25; amendments 1.5, 1.15, 4.8).

Hooks are plain functions for Client and coroutine functions for AsyncClient
(``as_hook``). Retry schedules are read off a listener that appears late on a refused port:
which attempt found it, and when. Stale connections are staged on raw servers that count
connections and requests.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import httpr
from tests.requests_api._support import (
    LateListener,
    as_hook,
    closed_port,
    echo,
    redirect,
    values,
)
from tests.servers.raw import close_gracefully, hold, read_request, serve_bytes

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Events:
    """Records hook calls in order: ("request", method, url) / ("response", status, url)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, str]] = []
        self.lock = threading.Lock()

    def on_request(self, request: httpr.Request) -> None:
        assert isinstance(request, httpr.Request)
        with self.lock:
            self.calls.append(("request", request.method, request.url))

    def on_response(self, response: httpr.Response) -> None:
        assert isinstance(response, httpr.Response)
        response.content  # noqa: B018 - for request() the body is already read (api.md 2)
        with self.lock:
            self.calls.append(("response", response.status_code, response.url))


def hooks(kind: str, events: Events) -> dict[str, list[Any]]:
    return {
        "request": [as_hook(kind, events.on_request)],
        "response": [as_hook(kind, events.on_response)],
    }


class HookFailure(Exception):
    """A user exception raised by a hook: it must come out as itself (FLT-25)."""


# -- event hooks -------------------------------------------------------------------------------


def test_hooks_called_per_hop_in_order(new_client: Any, server: Any, other_server: Any) -> None:
    """api.md 2 "Event hooks", amendment 1.15: on every hop, redirects included, request
    hooks get the Request about to be sent and response hooks that hop's response."""
    events = Events()
    final = f"{server.url}/echo"
    b = redirect(other_server.url, final, 301)
    a = redirect(server.url, b, 302)
    r = new_client(event_hooks=hooks(new_client.kind, events)).get(a)
    assert r.status_code == 200
    assert events.calls == [
        ("request", "GET", a),
        ("response", 302, a),
        ("request", "GET", b),
        ("response", 301, b),
        ("request", "GET", final),
        ("response", 200, final),
    ]


def test_hooks_see_method_rewrites(new_client: Any, server: Any) -> None:
    """api.md 2, 9: each hop's hook sees that hop's method (POST, then GET after a 303)."""
    events = Events()
    c = new_client(event_hooks=hooks(new_client.kind, events))
    c.post(redirect(server.url, "/echo", 303), content=b"x")
    assert [(e[0], e[1]) for e in events.calls] == [
        ("request", "POST"),
        ("response", 303),
        ("request", "GET"),
        ("response", 200),
    ]


def test_hooks_once_without_redirects(new_client: Any, server: Any) -> None:
    """api.md 2: one request and one response call per hop; follow_redirects=False is one
    hop; several hooks of a kind run in the order given."""
    events = Events()
    order: list[str] = []
    kind = new_client.kind
    c = new_client(
        event_hooks={
            "request": [
                as_hook(kind, lambda req: order.append("req-1")),
                as_hook(kind, events.on_request),
                as_hook(kind, lambda req: order.append("req-2")),
            ],
            "response": [
                as_hook(kind, lambda resp: order.append("resp-1")),
                as_hook(kind, events.on_response),
            ],
        }
    )
    c.get(redirect(server.url, "/echo"), follow_redirects=False)
    assert [e[0] for e in events.calls] == ["request", "response"]
    assert order == ["req-1", "req-2", "resp-1"]


def test_request_hook_changes_headers_on_the_wire(new_client: Any, server: Any) -> None:
    """api.md 2 "Event hooks", amendment 4.8: a request hook may add, replace and remove
    headers; what it leaves is what goes on the wire (and what Request.headers shows)."""

    def sign(request: Any) -> None:  # Any: Request.headers is typed read-only
        request.headers["X-Signature"] = f"sig:{request.method}"
        request.headers["User-Agent"] = "signed-agent"
        del request.headers["Accept"]

    c = new_client(
        headers={"X-Client": "1"}, event_hooks={"request": [as_hook(new_client.kind, sign)]}
    )
    r = c.get(f"{server.url}/echo")
    assert values(r, "X-Signature") == ["sig:GET"]
    assert values(r, "User-Agent") == ["signed-agent"]
    assert values(r, "Accept") == []
    assert values(r, "X-Client") == ["1"]
    assert r.request.headers["x-signature"] == "sig:GET"
    assert "accept" not in r.request.headers
    assert c.headers == {"x-client": "1"}  # the client's own headers are untouched


def test_request_hook_header_validated_before_io(new_client: Any, raw_server: Any) -> None:
    """amendment 4.8, R1: a bad header set in a hook raises (ValueError) in the hook,
    before I/O."""
    srv = raw_server(serve_bytes(OK))

    def bad(request: Any) -> None:
        request.headers["X-Bad"] = "a\r\nInjected: 1"

    c = new_client(event_hooks={"request": [as_hook(new_client.kind, bad)]})
    with pytest.raises(ValueError):
        c.get(f"{srv.url}/")
    assert srv.connections_accepted == 0


def test_request_hook_cannot_change_other_fields(new_client: Any, raw_server: Any) -> None:
    """api.md 2: a request hook may change request.headers and nothing else on Request."""
    srv = raw_server(serve_bytes(OK))

    def retarget(request: httpr.Request) -> None:
        request.url = "http://127.0.0.1:1/"  # type: ignore[misc]

    c = new_client(event_hooks={"request": [as_hook(new_client.kind, retarget)]})
    with pytest.raises(AttributeError):
        c.get(f"{srv.url}/")
    assert srv.connections_accepted == 0


@pytest.mark.parametrize("which", ["request", "response"])
def test_raising_hook_propagates_and_client_stays_usable(
    new_client: Any, server: Any, which: str
) -> None:
    """api.md 2 "Event hooks", 14, amendment 1.15, FLT-25: a hook that raises ends the call
    with its own exception; the client stays usable."""
    calls: list[int] = []

    def boom(_: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise HookFailure("from the hook")

    c = new_client(event_hooks={which: [as_hook(new_client.kind, boom)]})
    with pytest.raises(HookFailure, match="from the hook"):
        c.get(f"{server.url}/echo")
    assert c.get(f"{server.url}/echo").status_code == 200
    assert len(calls) == 2


def test_raising_response_hook_stops_redirects(
    new_client: Any, server: Any, raw_server: Any
) -> None:
    """api.md 2: a response hook raising on a 3xx ends the call there: no next hop."""
    target = raw_server(serve_bytes(OK))

    def stop(response: httpr.Response) -> None:
        if response.is_redirect:
            raise HookFailure("stop here")

    c = new_client(event_hooks={"response": [as_hook(new_client.kind, stop)]})
    with pytest.raises(HookFailure):
        c.get(redirect(server.url, f"{target.url}/"))
    assert target.connections_accepted == 0


def test_async_client_needs_async_hooks(make_client: Any, server: Any) -> None:
    """api.md 2 "Event hooks", 3: AsyncClient awaits its hooks; a hook whose result is not
    awaitable -> TypeError."""
    if make_client.kind == "sync":
        pytest.skip("AsyncClient only")
    seen: list[str] = []
    c = make_client(event_hooks={"request": [lambda request: seen.append(request.url)]})
    with pytest.raises(TypeError):
        c.get(f"{server.url}/echo")
    c = make_client(event_hooks={"response": [lambda response: None]})
    with pytest.raises(TypeError):
        c.get(f"{server.url}/echo")


def test_event_hooks_property(new_client: Any, server: Any) -> None:
    """api.md 2 properties: `event_hooks` is a dict with the lists "request" and "response",
    live (appending adds a hook); a mapping replaces both lists; None empties them."""
    kind = new_client.kind
    c = new_client()
    assert c.event_hooks == {"request": [], "response": []}
    events = Events()
    c.event_hooks["request"].append(as_hook(kind, events.on_request))
    c.get(f"{server.url}/echo")
    assert [e[0] for e in events.calls] == ["request"]
    c.event_hooks = {"response": [as_hook(kind, events.on_response)]}
    assert len(c.event_hooks["response"]) == 1 and c.event_hooks["request"] == []
    c.get(f"{server.url}/echo")
    assert [e[0] for e in events.calls] == ["request", "response"]
    c.event_hooks = None
    assert c.event_hooks == {"request": [], "response": []}
    c.get(f"{server.url}/echo")
    assert len(events.calls) == 2


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"requests": []}, ValueError),
        ({"error": []}, ValueError),
        ({"request": [1]}, TypeError),
        ({"response": ["not callable"]}, TypeError),
    ],
)
def test_event_hooks_validated(new_client: Any, value: Any, error: type[Exception]) -> None:
    """api.md 2 `event_hooks`: other keys -> ValueError; a hook not callable -> TypeError;
    at construction and at the setter."""
    with pytest.raises(error):
        new_client(event_hooks=value)
    c = new_client()
    with pytest.raises(error):
        c.event_hooks = value


# -- retries (api.md 13) -----------------------------------------------------------------------


@pytest.fixture
def late() -> Iterator[list[LateListener]]:
    started: list[LateListener] = []
    yield started
    for listener in started:
        listener.stop()


def test_no_retries_by_default(new_client: Any, late: list[LateListener]) -> None:
    """api.md 2 `retries=0`: a refused connection fails at once, without a second attempt
    (a listener appearing 50 ms later, before any backoff would end, is never reached)."""
    port = closed_port()
    listener = LateListener(port, 0.05)
    late.append(listener)
    c = new_client()
    listener.start()
    with pytest.raises(httpr.ConnectError):
        c.get(f"http://127.0.0.1:{port}/")
    time.sleep(0.15)
    assert listener.accepted == 0


def test_retries_back_off_and_reach_a_late_listener(
    new_client: Any, late: list[LateListener]
) -> None:
    """api.md 13: retries=3 -> up to 4 connection attempts, the k-th retry after
    min(0.1 * 2^(k-1), 2.0) s: attempts at 0, 0.1, 0.3 and 0.7 s. A listener that appears at
    0.5 s is found by the 4th attempt, at ~0.7 s."""
    port = closed_port()
    c = new_client(retries=3)
    listener = LateListener(port, 0.5)
    late.append(listener)
    start = time.perf_counter()
    listener.start()
    r = c.get(f"http://127.0.0.1:{port}/")
    elapsed = time.perf_counter() - start
    assert r.status_code == 200 and r.content == b"ok"
    assert listener.accepted == 1
    assert 0.65 <= elapsed <= 1.1, elapsed


def test_retries_exhausted_raise_the_last_connect_error(
    new_client: Any, late: list[LateListener]
) -> None:
    """api.md 13: retries=2 -> 3 attempts (0, 0.1, 0.3 s), all refused before the listener
    appears at 0.6 s: the last ConnectError is raised after ~0.3 s."""
    port = closed_port()
    c = new_client(retries=2)
    listener = LateListener(port, 0.6)
    late.append(listener)
    start = time.perf_counter()
    listener.start()
    with pytest.raises(httpr.ConnectError) as info:
        c.get(f"http://127.0.0.1:{port}/x")
    elapsed = time.perf_counter() - start
    assert 0.28 <= elapsed < 0.55, elapsed
    assert f"GET http://127.0.0.1:{port}/x" in str(info.value)
    assert info.value.request is not None


def test_no_retry_after_tls_verification_failure(new_client: Any, tls_app: Any) -> None:
    """api.md 13, security TLS (R8): a certificate verification failure is not retried."""
    before = tls_app.connections_accepted
    c = new_client(retries=3, ca_cert_file=None)  # the default store lacks the test CA
    with pytest.raises(httpr.ConnectError):
        c.get(f"{tls_app.url}/echo")
    # The server accepted every attempt before the client saw its certificate.
    assert tls_app.connections_accepted - before == 1


def test_no_retry_after_the_request_started(new_client: Any, raw_server: Any) -> None:
    """api.md 13: nothing after the request started is retried (a reset on a fresh
    connection -> ReadError after one connection)."""
    srv = raw_server(serve_bytes(b"", then="reset"))
    with pytest.raises(httpr.ReadError):
        new_client(retries=3).get(f"{srv.url}/")
    assert srv.connections_accepted == 1


def test_no_retry_of_proxy_errors(new_client: Any, server: Any) -> None:
    """api.md 13: proxy errors are not retried (no backoff)."""
    c = new_client(retries=3, proxy=f"http://127.0.0.1:{closed_port()}")
    start = time.perf_counter()
    with pytest.raises(httpr.ProxyError):
        c.get(f"{server.url}/echo")
    assert time.perf_counter() - start < 0.5  # three retries would back off for 0.7 s


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_retries_validated(new_client: Any, value: Any, error: type[Exception]) -> None:
    """api.md 2 `retries`: negative -> ValueError; not an int (a bool is not) -> TypeError."""
    with pytest.raises(error, match="retries"):
        new_client(retries=value)


# -- stale pooled connections (api.md 13, amendment 1.5, FLT-20) -------------------------------


class StaleServer:
    """A keep-alive server whose first connection goes stale after its first response.

    ``mode="idle"``: the server closes that connection (FIN) right after the response, while
    it sits idle in the client's pool. ``mode="drop"``: the server reads the next request on
    it, then closes without any reply (a close racing the reuse). Later connections answer
    every request with 200. ``requests`` records (connection number, method) in order.
    """

    def __init__(self, raw_server: Any, mode: str) -> None:
        self.mode = mode
        self.requests: list[tuple[int, str]] = []
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._next = 0
        self.srv = raw_server(self._handle)

    @property
    def url(self) -> str:
        return str(self.srv.url)

    def methods(self, method: str) -> int:
        return sum(1 for _, m in self.requests if m == method)

    def _handle(self, sock: socket.socket) -> None:
        with self._lock:
            index, self._next = self._next, self._next + 1
        served = 0
        while True:
            head, _ = read_request(sock)
            if not head.endswith(b"\r\n\r\n"):
                return
            with self._lock:
                self.requests.append((index, head.split(b" ", 1)[0].decode("ascii")))
            if index == 0 and served == 1:  # mode "drop": the reused request gets nothing
                close_gracefully(sock)
                return
            sock.sendall(OK)
            served += 1
            if index == 0 and self.mode == "idle":
                sock.shutdown(socket.SHUT_WR)
                self.closed.set()
                hold(sock, 5.0)
                return


def test_idle_pooled_connection_closed_by_server(new_client: Any, raw_server: Any) -> None:
    """api.md 13, FLT-20: the server closes an idle pooled connection; the next GET
    succeeds, on a second connection."""
    stale = StaleServer(raw_server, "idle")
    c = new_client()
    assert c.get(f"{stale.url}/a").content == b"ok"
    assert stale.closed.wait(2.0)
    time.sleep(0.05)  # let the FIN arrive
    assert c.get(f"{stale.url}/b").content == b"ok"
    assert stale.srv.connections_accepted == 2
    assert stale.methods("GET") <= 3  # resent at most once


@pytest.mark.parametrize("retries", [0, 2])
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "DELETE", "PUT"])
def test_idempotent_request_on_stale_connection_resent_once(
    new_client: Any, raw_server: Any, method: str, retries: int
) -> None:
    """api.md 13, amendment 1.5, FLT-20: a reused connection closed before any response
    byte: an idempotent request with a replayable body is resent once, at once (no backoff),
    on another connection, whatever `retries` is."""
    stale = StaleServer(raw_server, "drop")
    c = new_client(retries=retries)
    assert c.get(f"{stale.url}/a").status_code == 200
    kwargs = {"content": b"data"} if method == "PUT" else {}
    start = time.perf_counter()
    r = c.request(method, f"{stale.url}/b", **kwargs)
    assert time.perf_counter() - start < 0.1  # no backoff
    assert r.status_code == 200
    assert stale.srv.connections_accepted == 2
    assert [m for _, m in stale.requests] == ["GET", method, method]
    assert [i for i, _ in stale.requests] == [0, 0, 1]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_non_idempotent_request_on_stale_connection_never_resent(
    new_client: Any, raw_server: Any, method: str
) -> None:
    """api.md 13, amendments 1.5 and 2.1, FLT-20: a POST (or PATCH) on a stale connection
    is never resent, not even by libcurl: the server receives it once, the call fails with
    RemoteProtocolError (a close without any reply, api.md 14)."""
    stale = StaleServer(raw_server, "drop")
    c = new_client(retries=3)
    assert c.get(f"{stale.url}/a").status_code == 200
    with pytest.raises(httpr.TransportError) as info:
        c.request(method, f"{stale.url}/b", content=b"once")
    assert stale.methods(method) == 1  # received once, never resent
    assert c.get(f"{stale.url}/c").status_code == 200  # the client stays usable
    # design.md 4 and 10: libcurl wants to resend, the seek callback refuses (CANTSEEK), 65
    # -> WriteError, whose message says the body is not resent automatically.
    assert isinstance(info.value, httpr.WriteError), repr(info.value)
    assert "not resent" in str(info.value)


def test_non_replayable_put_on_stale_connection_not_resent(
    new_client: Any, raw_server: Any
) -> None:
    """api.md 13: an idempotent method is resent only with a replayable body; a PUT whose
    body is an iterator is received once and the call fails."""
    stale = StaleServer(raw_server, "drop")
    c = new_client()
    assert c.get(f"{stale.url}/a").status_code == 200
    if new_client.kind == "sync":
        body: Any = iter([b"once"])
    else:

        async def agen() -> Any:
            yield b"once"

        body = agen()
    with pytest.raises(httpr.TransportError):
        c.put(f"{stale.url}/b", content=body)
    assert stale.methods("PUT") == 1


# -- logging (api.md 16) -----------------------------------------------------------------------

ELAPSED_RE = re.compile(r"\d+(?:\.\d+)?\s*(?:ms|s)\b")


def httpr_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "httpr" or r.name.startswith("httpr.")]


def hop_records(records: list[logging.LogRecord], url: str) -> list[str]:
    """The messages that name `url` as a whole (not as the prefix of a longer URL)."""
    out = []
    for rec in records:
        msg = rec.getMessage()
        if re.search(re.escape(url) + r"(?=\s|$|[)\"'])", msg):
            out.append(msg)
    return out


def test_one_debug_record_per_hop(
    new_client: Any, server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """api.md 16: logger "httpr" emits one DEBUG record per hop naming method, URL, status
    and elapsed time; nothing above DEBUG."""
    caplog.set_level(logging.DEBUG, logger="httpr")
    final = f"{server.url}/echo"
    start = redirect(server.url, final, 303)
    r = new_client().post(start, content=b"x")
    assert echo(r)["method"] == "GET"
    records = httpr_records(caplog)
    assert all(rec.levelno == logging.DEBUG for rec in records)
    [first] = hop_records(records, start)
    [second] = hop_records(records, final)
    assert "POST" in first and "303" in first and ELAPSED_RE.search(first), first
    assert "GET" in second and "200" in second and ELAPSED_RE.search(second), second


def test_error_statuses_log_at_debug_only(
    new_client: Any, server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """api.md 16: "nothing above DEBUG in normal operation", 4xx/5xx responses included."""
    caplog.set_level(logging.DEBUG, logger="httpr")
    c = new_client()
    for code in (404, 500):
        url = f"{server.url}/status/{code}"
        assert c.get(url).status_code == code
        [msg] = hop_records(httpr_records(caplog), url)
        assert str(code) in msg
    assert all(rec.levelno == logging.DEBUG for rec in httpr_records(caplog))


def test_no_records_when_debug_is_off(
    new_client: Any, server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """api.md 16: with the logger at INFO, a request logs nothing."""
    caplog.set_level(logging.INFO, logger="httpr")
    new_client().get(redirect(server.url, "/echo"))
    assert httpr_records(caplog) == []
