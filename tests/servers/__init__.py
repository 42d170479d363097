"""Test servers for httpr: `app` (a real HTTP/1.1 server) and `raw` (scripted sockets)."""

from __future__ import annotations

from .app import TestServer, payload
from .raw import (
    RawServer,
    close_gracefully,
    hold,
    read_request,
    read_request_head,
    reset,
    serve_bytes,
)

__all__ = [
    "RawServer",
    "TestServer",
    "close_gracefully",
    "hold",
    "payload",
    "read_request",
    "read_request_head",
    "reset",
    "serve_bytes",
]
