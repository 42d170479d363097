"""State never carried from one transfer to the next (R12: SEC-14, SEC-15).

The engine recycles easy handles (`curl_easy_reset`, then the full option set, design.md 2):
request 2 on a recycled handle must carry only its own state. And `HTTPAUTH` is never set,
so a server asking for NTLM or Negotiate gets no answer from libcurl (7.88's
`CURLAUTH_ANY` would include NTLM_WB, a forked helper). A raw server captures the bytes.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from tests.conftest import LONG_TIMEOUT
from tests.servers.raw import Capture

Reply = Callable[[bytes], bytes]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def child_pids() -> set[int]:
    """Live child processes of this one (from /proc: an NTLM_WB helper would be one)."""
    me = os.getpid()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == me:
            found.add(int(entry))
    return found


@pytest.fixture
def client(make_client: Any) -> Iterator[Any]:
    # One connection: every request runs on the same connection and a recycled handle.
    with make_client(timeout=LONG_TIMEOUT, max_connections=1) as c:
        yield c


# -- SEC-14 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["NTLM", "Negotiate"])
@pytest.mark.parametrize("auth", [None, ("user", "secret")], ids=["no-auth", "basic-auth"])
def test_ntlm_and_negotiate_challenges_are_not_answered(
    client: Any, raw_server: Any, scheme: str, auth: Any
) -> None:
    """SEC-14: a 401 with `WWW-Authenticate: NTLM` (then `Negotiate`) is returned as is: no
    second request, no NTLM/Negotiate token sent, no child process started."""
    challenge = (
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: %s\r\nContent-Length: 0\r\n\r\n"
        % scheme.encode()
    )
    cap = Capture(raw_server, lambda head: challenge)
    before = child_pids()
    r = client.get(f"{cap.url}/protected", auth=auth)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == scheme
    assert len(cap.requests) == 1  # nothing tried a handshake
    sent = cap.values(0, "authorization")
    if auth is None:
        assert sent == []
    else:
        assert len(sent) == 1 and sent[0].startswith("Basic ")
    assert not any(scheme.lower() in v.lower() for v in sent)
    assert child_pids() <= before


# -- SEC-15 ----------------------------------------------------------------------------------


def test_streamed_put_then_post_on_a_recycled_handle(client: Any, raw_server: Any) -> None:
    """SEC-15: a streamed (chunked) PUT, then a POST with bytes: request 2 has its own
    method, Content-Length and body, no Transfer-Encoding or read callback left over."""
    cap = Capture(raw_server, lambda head: OK)

    def chunks() -> Iterator[bytes]:
        yield b"first-"
        yield b"streamed-body"

    client.put(f"{cap.url}/one", content=chunks())
    client.post(f"{cap.url}/two", content=b"second")
    assert cap.srv.connections_accepted == 1  # same connection, so the recycled handle
    (head1, body1), (head2, body2) = cap.requests
    assert head1.startswith(b"PUT /one ") and body1 == b"first-streamed-body"
    assert cap.values(0, "transfer-encoding") == ["chunked"]
    assert head2.startswith(b"POST /two ") and body2 == b"second"
    assert cap.values(1, "content-length") == ["6"]
    assert cap.values(1, "transfer-encoding") == []


def test_head_then_get_on_a_recycled_handle(client: Any, raw_server: Any) -> None:
    """SEC-15: after a HEAD (NOBODY=1) the next GET gets its body."""
    cap = Capture(raw_server, lambda head: OK)
    assert client.head(f"{cap.url}/h").content == b""
    assert client.get(f"{cap.url}/g").content == b"ok"
    assert [h.split(b" ", 1)[0] for h, _ in cap.requests] == [b"HEAD", b"GET"]


def test_custom_host_then_none(client: Any, raw_server: Any) -> None:
    """SEC-15: a custom `Host:` on request 1; request 2 without one carries the URL's host."""
    cap = Capture(raw_server, lambda head: OK)
    client.get(f"{cap.url}/one", headers={"Host": "custom.example"})
    client.get(f"{cap.url}/two")
    assert cap.values(0, "host") == ["custom.example"]
    assert cap.values(1, "host") == [f"127.0.0.1:{cap.srv.port}"]


def test_user1_then_user2_then_none(client: Any, raw_server: Any) -> None:
    """SEC-15: auth user1, then user2, then no auth: each request carries only its own."""
    cap = Capture(raw_server, lambda head: OK)
    client.get(f"{cap.url}/a", auth=("user1", "pw1"))
    client.get(f"{cap.url}/b", auth=("user2", "pw2"))
    client.get(f"{cap.url}/c")
    client.get(f"{cap.url}/d", headers={"X-Only-Here": "1"})
    client.get(f"{cap.url}/e")
    tokens = [cap.values(i, "authorization") for i in range(5)]
    assert tokens == [[basic("user1", "pw1")], [basic("user2", "pw2")], [], [], []]
    assert cap.values(3, "x-only-here") == ["1"] and cap.values(4, "x-only-here") == []


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
