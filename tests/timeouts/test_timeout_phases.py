"""Each phase of `httpr.Timeout` against a local server that stalls in that phase.

api.md §5 (phases, how a `timeout` argument maps, messages), amendment 1.1 (`timeout=None` on
the client), 1.2 (the head wait is read time), 1.12 (on time: `assert_on_time`), 3.11 (pool);
design.md §6; security.md FLT-15..18. Every timeout must raise its own class, name the phase,
the limit and ``METHOD URL``, fire on time, and leave the client usable.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

import httpr
from tests.conftest import LONG_TIMEOUT, SHORT_TIMEOUT, assert_on_time
from tests.servers.app import TestServer, payload
from tests.servers.raw import RawServer, read_request_head, serve_bytes

RawServerFactory = Callable[[Callable[[socket.socket], None]], RawServer]

# Sockets opened to fill a listener's accept queue before giving up on stalling a connect.
MAX_BACKLOG_FILLERS = 16
# How long a probe connect may stay unanswered before the listener counts as stalled.
STALL_PROBE_SECONDS = 0.1
# 64 MiB: far more than loopback socket buffers (client send + server receive) can hold.
UNREAD_BODY_BYTES = 64 * 1024 * 1024
# The unreading server gives up then (closing with unread bytes: RST), so a client without a
# working write timer fails in seconds, not at HOLD_SECONDS.
UNREAD_HOLD_SECONDS = LONG_TIMEOUT
# The gap between bytes of a dripping server: a quarter of SHORT_TIMEOUT.
DRIP_INTERVAL_SECONDS = 0.05
# The write timer bounds each gap in which no body byte could be sent (api.md 5). Measured
# from the request's start, a write stall begins only once the kernel's socket buffers are
# full (~4 MB on loopback here), which took up to ~0.1 s: that time is not part of the gap.
WRITE_FILL_ALLOWANCE_S = 0.15
# How long a request holds the only pool connection (/delay?s=...).
POOL_HOLD_SECONDS = 1.0
# A reply delay above SHORT_TIMEOUT and well below LONG_TIMEOUT.
SLOW_REPLY_SECONDS = 0.4

PHASES = ("connect", "read", "write", "pool")
EXPECTED: dict[str, type[httpr.TimeoutException]] = {
    "connect": httpr.ConnectTimeout,
    "read": httpr.ReadTimeout,
    "write": httpr.WriteTimeout,
    "pool": httpr.PoolTimeout,
}


def assert_timeout_message(error: BaseException, phase: str, limit: float, target: str) -> None:
    """api.md §5: the message names the phase, the limit and ``METHOD URL``."""
    text = str(error)
    assert f"{phase} timeout" in text, text
    assert f"{limit:g} s" in text, text
    assert target in text, text


def assert_usable(client: httpr.Client, server: TestServer, **kwargs: Any) -> None:
    """The client still works after a timeout: the next request succeeds."""
    r = client.get(f"{server.url}/bytes?size=10", **kwargs)
    assert r.status_code == 200
    assert r.content == payload(10)


# -- stalling servers --------------------------------------------------------------------------


def _connect_stalls(port: int) -> bool:
    """True if a new connect to `port` gets no answer within STALL_PROBE_SECONDS."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.setblocking(False)
        probe.connect_ex(("127.0.0.1", port))
        _, writable, _ = select.select([], [probe], [], STALL_PROBE_SECONDS)
        return not writable
    finally:
        probe.close()


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A port on 127.0.0.1 whose SYNs are dropped: a listener with a full accept queue.

    Linux drops a SYN while the listener's accept queue is full (tcp_conn_request), so a
    connect neither completes nor is refused (FLT-15). The queue is filled with plain
    non-blocking connects that are never accepted; a probe checks that a new one stalls.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(MAX_BACKLOG_FILLERS):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            fillers.append(filler)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            if _connect_stalls(port):
                break
        else:
            pytest.skip(
                f"this kernel completes connects to a listener with {MAX_BACKLOG_FILLERS} "
                "unaccepted connections: cannot stall a connect locally"
            )
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def unread_body_handler(box: list[RawServer]) -> Callable[[socket.socket], None]:
    """Reads the request head, then never reads again (the body fills the socket buffers)
    until the server stops or UNREAD_HOLD_SECONDS pass. `box[0]` is the server, set once it
    has started. (raw.hold() would read and drop the body: not a stall.)"""

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        box[0].stopping.wait(UNREAD_HOLD_SECONDS)

    return handler


def drip_handler(
    box: list[RawServer], reply: bytes, *, forever: bytes = b""
) -> Callable[[socket.socket], None]:
    """Reads the request head, sends `reply` one byte every DRIP_INTERVAL_SECONDS, then
    `forever` repeatedly at the same pace until the server stops or the client leaves."""

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        # One byte per segment: Nagle would hold a byte until the previous one is ACKed.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stopping = box[0].stopping
        try:
            for i in range(len(reply)):
                if i and stopping.wait(DRIP_INTERVAL_SECONDS):
                    return
                sock.sendall(reply[i : i + 1])
            while forever and not stopping.wait(DRIP_INTERVAL_SECONDS):
                sock.sendall(forever)
        except OSError:
            return  # the client went away (its deadline fired)

    return handler


def start_with_box(
    raw_server: RawServerFactory, make: Callable[[list[RawServer]], Callable[..., None]]
) -> RawServer:
    box: list[RawServer] = []
    srv = raw_server(make(box))
    box.append(srv)
    return srv


@dataclass
class PoolHolder:
    """A background GET that holds the client's only connection for POOL_HOLD_SECONDS."""

    client: httpr.Client
    server: TestServer
    responses: list[httpr.Response] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        before = self.server.connections_accepted
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        # Proceed once the server holds the connection (brief: "0.1 s later"), bounded.
        deadline = time.monotonic() + LONG_TIMEOUT
        while self.server.connections_accepted == before and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.server.connections_accepted > before, "the holding request never connected"
        time.sleep(0.1)

    def _run(self) -> None:
        try:
            url = f"{self.server.url}/delay?s={POOL_HOLD_SECONDS}"
            # Its own generous timeout, whatever the client's: it must not be the one failing.
            self.responses.append(self.client.get(url, timeout=LONG_TIMEOUT))
        except BaseException as exc:  # collected for the main thread
            self.errors.append(exc)

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(LONG_TIMEOUT + POOL_HOLD_SECONDS)
        assert not self.thread.is_alive()
        assert not self.errors, self.errors
        assert [r.status_code for r in self.responses] == [200]
        assert self.responses[0].content == b"ok"


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    kwargs: dict[str, Any]

    @property
    def target(self) -> str:
        return f"{self.method} {self.url}"


@contextlib.contextmanager
def stalled_in(
    phase: str, client: httpr.Client, raw_server: RawServerFactory, server: TestServer
) -> Iterator[Call]:
    """A request that stalls in `phase` (the client must have max_connections=1)."""
    if phase == "connect":
        with unanswered_port() as port:
            yield Call("GET", f"http://127.0.0.1:{port}/x", {})
    elif phase == "read":
        srv = raw_server(serve_bytes(b"", then="hold"))
        yield Call("GET", f"{srv.url}/x", {})
    elif phase == "write":
        srv = start_with_box(raw_server, unread_body_handler)
        yield Call("POST", f"{srv.url}/upload", {"content": bytes(UNREAD_BODY_BYTES)})
    elif phase == "pool":
        holder = PoolHolder(client, server)
        holder.start()
        yield Call("GET", f"{server.url}/bytes?size=1", {})
        holder.join()
    else:  # Defensive: a typo in a parametrize table
        raise AssertionError(phase)


# -- one phase at a time -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "level",
    [
        pytest.param("client-phase", id="client-Timeout-phase"),
        pytest.param("client-number", id="client-number"),
        pytest.param("request-number", id="request-number"),
    ],
)
@pytest.mark.parametrize("phase", PHASES)
def test_phase_stall_raises_its_timeout_on_time(
    phase: str, level: str, raw_server: RawServerFactory, server: TestServer
) -> None:
    """Each phase expires with its exception (api.md §5 table), whether the limit comes from
    the client's Timeout field, a client number (all four phases) or a request number (all
    four phases, replacing the client's Timeout for that request).

    The stalls (`stalled_in`): connect to a port whose SYNs are dropped (FLT-15); read: the
    head never comes; write: a 64 MiB POST the server never reads (FLT-18); pool: the only
    connection (max_connections=1) held by another thread's GET /delay?s=1, after which the
    holder succeeds and a further request gets the connection (the pool recovered).
    """
    if level == "client-phase":
        client_timeout: float | httpr.Timeout = httpr.Timeout(
            LONG_TIMEOUT, **{phase: SHORT_TIMEOUT}
        )
        request_kwargs: dict[str, Any] = {}
    elif level == "client-number":
        client_timeout, request_kwargs = SHORT_TIMEOUT, {}
    else:
        client_timeout, request_kwargs = LONG_TIMEOUT, {"timeout": SHORT_TIMEOUT}
    with httpr.Client(max_connections=1, timeout=client_timeout) as c:
        with stalled_in(phase, c, raw_server, server) as call:
            start = time.perf_counter()
            with pytest.raises(httpr.TimeoutException) as info:
                c.request(call.method, call.url, **call.kwargs, **request_kwargs)
            elapsed = time.perf_counter() - start
        assert type(info.value) is EXPECTED[phase], repr(info.value)
        if phase == "write":
            elapsed -= WRITE_FILL_ALLOWANCE_S
        assert_on_time(elapsed, SHORT_TIMEOUT)
        assert_timeout_message(info.value, phase, SHORT_TIMEOUT, call.target)
        assert info.value.request is not None and info.value.request.url == call.url
        assert c.timeout == client_timeout  # a request-level value never sticks
        assert_usable(c, server)


# -- connect (FLT-15) --------------------------------------------------------------------------


def test_unanswered_connect_stalls_a_plain_socket() -> None:
    """The stall the connect tests rely on: a blocking connect with a timeout times out."""
    with unanswered_port() as port:
        plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        plain.settimeout(SHORT_TIMEOUT)
        try:
            with pytest.raises(socket.timeout):
                plain.connect(("127.0.0.1", port))
        finally:
            plain.close()


def test_connect_timeout_is_connect_phase_not_read(server: TestServer) -> None:
    """A stalled connect is ConnectTimeout even when the read limit is shorter (the read timer
    starts only when the request is sent, amendment 1.2)."""
    timeout = httpr.Timeout(LONG_TIMEOUT, connect=SHORT_TIMEOUT, read=0.05)
    with unanswered_port() as port, httpr.Client(timeout=timeout) as c:
        url = f"http://127.0.0.1:{port}/x"
        start = time.perf_counter()
        with pytest.raises(httpr.ConnectTimeout) as info:
            c.get(url)
        assert_on_time(time.perf_counter() - start, SHORT_TIMEOUT)
        assert_timeout_message(info.value, "connect", SHORT_TIMEOUT, f"GET {url}")
        assert_usable(c, server)


# -- read (FLT-16/17) --------------------------------------------------------------------------


def test_body_stalling_midway_is_read_timeout(
    raw_server: RawServerFactory, server: TestServer
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 40
    srv = raw_server(serve_bytes(head, then="hold"))
    with httpr.Client(timeout=httpr.Timeout(LONG_TIMEOUT, read=SHORT_TIMEOUT)) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ReadTimeout) as info:
            c.get(f"{srv.url}/body")
        assert_on_time(time.perf_counter() - start, SHORT_TIMEOUT)
        assert_timeout_message(info.value, "read", SHORT_TIMEOUT, f"GET {srv.url}/body")
        assert_usable(c, server)


def test_head_dripping_faster_than_read_timeout_completes(raw_server: RawServerFactory) -> None:
    """FLT-16: the read timer is an idle timer, reset by every byte, head included.

    libcurl 7.88 calls the header callback per complete line, and one line here takes ~0.8 s
    to arrive: at a read expiry the engine asks the kernel when the socket last received
    data (TCP_INFO, Linux), so the bytes of a partial line count too."""
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    srv = start_with_box(raw_server, lambda box: drip_handler(box, reply))
    with httpr.Client(timeout=httpr.Timeout(LONG_TIMEOUT, read=SHORT_TIMEOUT)) as c:
        start = time.perf_counter()
        r = c.get(f"{srv.url}/drip")
        elapsed = time.perf_counter() - start
    assert r.status_code == 200
    assert r.content == b"ok"
    # Many gaps, each under the limit, adding up to far more than it.
    assert elapsed > (len(reply) - 1) * DRIP_INTERVAL_SECONDS * 0.9 > SHORT_TIMEOUT


def drip_then_hold(
    box: list[RawServer], partial: bytes, last_sent: list[float]
) -> Callable[[socket.socket], None]:
    """Drips `partial` (a head cut inside a line) like drip_handler, notes when its last byte
    left, then keeps the connection open and silent."""

    def handler(sock: socket.socket) -> None:
        read_request_head(sock)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stopping = box[0].stopping
        try:
            for i in range(len(partial)):
                if i and stopping.wait(DRIP_INTERVAL_SECONDS):
                    return
                sock.sendall(partial[i : i + 1])
            last_sent.append(time.perf_counter())
            stopping.wait(LONG_TIMEOUT)
        except OSError:
            return

    return handler


def test_head_dripping_then_stalling_times_out_on_time(
    raw_server: RawServerFactory, make_client: Any
) -> None:
    """FLT-16: bytes of a partial head line reset the read timer, and the silence after the
    last of them is timed from that byte: ReadTimeout on time, never early."""
    partial = b"HTTP/1.1 200 OK\r\nContent-Len"  # 0.8 s of dripping, cut inside a line
    last_sent: list[float] = []
    srv = start_with_box(raw_server, lambda box: drip_then_hold(box, partial, last_sent))
    c = make_client(timeout=httpr.Timeout(LONG_TIMEOUT, read=SHORT_TIMEOUT))
    with pytest.raises(httpr.ReadTimeout):
        c.get(f"{srv.url}/drip-stall")
    ended = time.perf_counter()
    assert last_sent, "the server never finished dripping: the client gave up early"
    silence = ended - last_sent[0]
    assert silence >= SHORT_TIMEOUT * 0.9
    assert_on_time(silence, SHORT_TIMEOUT)


def test_head_dripping_on_a_pooled_connection_completes(
    raw_server: RawServerFactory, make_client: Any
) -> None:
    """FLT-16 on a reused connection (no new socket this time): the engine finds the pooled
    connection's socket from the addresses libcurl reports."""
    fast = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
    dripped = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def make(box: list[RawServer]) -> Callable[[socket.socket], None]:
        drip = drip_handler(box, dripped)

        def handler(sock: socket.socket) -> None:
            read_request_head(sock)
            sock.sendall(fast)
            drip(sock)  # reads the second request's head, then drips the reply

        return handler

    srv = start_with_box(raw_server, make)
    c = make_client(timeout=httpr.Timeout(LONG_TIMEOUT, read=SHORT_TIMEOUT))
    assert c.get(f"{srv.url}/first").content == b"a"
    start = time.perf_counter()
    r = c.get(f"{srv.url}/second")
    elapsed = time.perf_counter() - start
    assert r.content == b"ok"
    assert not r.timings.new_connection
    assert elapsed > (len(dripped) - 1) * DRIP_INTERVAL_SECONDS * 0.9 > SHORT_TIMEOUT


def test_body_dripping_faster_than_read_timeout_completes(server: TestServer) -> None:
    """FLT-17: body bytes apart by less than the read limit never time out."""
    chunks = 8
    url = f"{server.url}/slow-body?chunks={chunks}&interval={DRIP_INTERVAL_SECONDS}"
    with httpr.Client(timeout=httpr.Timeout(LONG_TIMEOUT, read=SHORT_TIMEOUT)) as c:
        start = time.perf_counter()
        r = c.get(url)
        elapsed = time.perf_counter() - start
    assert r.content == b"x" * chunks
    assert elapsed > SHORT_TIMEOUT


def test_body_gap_longer_than_read_timeout_times_out(server: TestServer) -> None:
    """FLT-17: the gap after the head counts, not only the wait for the head."""
    url = f"{server.url}/slow-body?chunks=3&interval={SLOW_REPLY_SECONDS}"
    with httpr.Client(timeout=httpr.Timeout(LONG_TIMEOUT, read=SHORT_TIMEOUT)) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ReadTimeout) as info:
            c.get(url)
        assert_on_time(time.perf_counter() - start, SHORT_TIMEOUT)
        assert_timeout_message(info.value, "read", SHORT_TIMEOUT, f"GET {url}")
        assert_usable(c, server)


def test_read_zero_expires_at_once(server: TestServer) -> None:
    """api.md §5: ``0`` expires at once (the head wait is read time, amendment 1.2)."""
    url = f"{server.url}/delay?s={SHORT_TIMEOUT}"
    with httpr.Client(timeout=httpr.Timeout(LONG_TIMEOUT, read=0)) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ReadTimeout) as info:
            c.get(url)
        assert time.perf_counter() - start < 0.15
        assert "read timeout" in str(info.value)
        assert f"GET {url}" in str(info.value)
        assert_usable(c, server, timeout=LONG_TIMEOUT)


# -- pool --------------------------------------------------------------------------------------


def test_time_queued_for_a_connection_is_not_connect_time(server: TestServer) -> None:
    """api.md §5: connect bounds the handshake of a new connection only; waiting for a slot is
    the pool phase (design.md §6 asks to pin what libcurl 7.88 charges to CONNECTTIMEOUT_MS)."""
    timeout = httpr.Timeout(LONG_TIMEOUT, connect=SHORT_TIMEOUT)
    with httpr.Client(max_connections=1, timeout=timeout) as c:
        holder = PoolHolder(c, server)
        holder.start()
        start = time.perf_counter()
        r = c.get(f"{server.url}/bytes?size=5")
        waited = time.perf_counter() - start
        holder.join()
    assert r.content == payload(5)
    assert waited > SHORT_TIMEOUT  # it did queue longer than the connect limit


# -- total -------------------------------------------------------------------------------------


def test_total_bounds_a_server_that_drips_forever(
    raw_server: RawServerFactory, server: TestServer
) -> None:
    """The read timer never fires (a byte every 50 ms); total does, as ReadTimeout."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
    srv = start_with_box(raw_server, lambda box: drip_handler(box, head, forever=b"x"))
    total = 0.3
    url = f"{srv.url}/forever"
    with httpr.Client(timeout=httpr.Timeout(LONG_TIMEOUT, total=total)) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ReadTimeout) as info:
            c.get(url)
        assert_on_time(time.perf_counter() - start, total)
        assert_timeout_message(info.value, "total", total, f"GET {url}")
        assert_usable(c, server)


# -- how the timeout argument maps (api.md §5, amendment 1.1) ----------------------------------


def test_client_timeout_none_means_no_limit(server: TestServer) -> None:
    with httpr.Client(timeout=None) as c:
        assert c.timeout is None
        r = c.get(f"{server.url}/delay?s={SLOW_REPLY_SECONDS}")
        assert r.content == b"ok"
        # A request-level None means "the client's", here still no limit.
        assert c.get(f"{server.url}/delay?s={SLOW_REPLY_SECONDS}", timeout=None).content == b"ok"


def test_request_timeout_overrides_the_client_for_that_request_only(server: TestServer) -> None:
    url = f"{server.url}/delay?s={SLOW_REPLY_SECONDS}"
    client_timeout = httpr.Timeout(LONG_TIMEOUT, read=SHORT_TIMEOUT)
    with httpr.Client(timeout=client_timeout) as c:
        assert c.get(url, timeout=LONG_TIMEOUT).content == b"ok"
        assert c.get(url, timeout=httpr.Timeout(LONG_TIMEOUT)).content == b"ok"
        with pytest.raises(httpr.ReadTimeout):
            c.get(url)  # the client's limit again
        with pytest.raises(httpr.ReadTimeout):
            c.get(url, timeout=None)  # request-level None = the client's
        assert c.timeout == client_timeout


def test_request_timeout_tightens_a_generous_client_for_that_request_only(
    server: TestServer,
) -> None:
    url = f"{server.url}/delay?s={SLOW_REPLY_SECONDS}"
    with httpr.Client(timeout=LONG_TIMEOUT) as c:
        start = time.perf_counter()
        with pytest.raises(httpr.ReadTimeout) as info:
            c.get(url, timeout=httpr.Timeout(LONG_TIMEOUT, read=SHORT_TIMEOUT))
        assert_on_time(time.perf_counter() - start, SHORT_TIMEOUT)
        assert_timeout_message(info.value, "read", SHORT_TIMEOUT, f"GET {url}")
        assert c.get(url).content == b"ok"
        assert c.timeout == LONG_TIMEOUT


def test_timeout_setter_applies_to_later_requests(server: TestServer) -> None:
    """api.md §2 properties: the new value applies to requests started afterwards."""
    url = f"{server.url}/delay?s={SLOW_REPLY_SECONDS}"
    with httpr.Client(timeout=LONG_TIMEOUT) as c:
        assert c.get(url).content == b"ok"
        c.timeout = httpr.Timeout(LONG_TIMEOUT, read=SHORT_TIMEOUT)
        start = time.perf_counter()
        with pytest.raises(httpr.ReadTimeout) as info:
            c.get(url)
        assert_on_time(time.perf_counter() - start, SHORT_TIMEOUT)
        assert_timeout_message(info.value, "read", SHORT_TIMEOUT, f"GET {url}")
        c.timeout = None
        assert c.get(url).content == b"ok"
