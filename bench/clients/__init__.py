"""Client adapters: one module per client, loaded by the worker as ``clients.NAME`` (or from a
path: ``run.py --clients ./my_adapter.py``). Module-level contract; a cell runs for a client
when the adapter has the functions it needs (see worker.py):

    NAME = "httpx"                 # label in the tables (default: the module name)
    NOTES = "..."                  # optional, listed under the versions table
    THREAD_SAFE = True             # threads share one session; False: one session per thread
    UNSUPPORTED = {"stream": "why"}  # optional: cells reported as "not supported yet"
    def version() -> str
    # sync
    def make_session(pool: int = 10)   # pool = connections the caller will use at once
    def close_session(s) -> None
    def get(s, url) -> bytes           # the whole decoded body
    def post(s, url, body: bytes) -> bytes   # the response body (the server answers len(body))
    def stream(s, url) -> int          # iterate the body chunk by chunk, never buffer it; bytes
    # async (optional)
    async def amake_session(pool: int = 100)
    async def aclose_session(s) -> None
    async def aget(s, url) -> bytes
    async def apost(s, url, body) -> bytes   # used only when the client has no sync API
    async def astream(s, url) -> int         # idem

Every body is checked by the worker: a GET body must equal the expected bytes, a POST answer
the body's length, a stream the expected byte count. Pools are sized to the load (threads,
coroutines in flight); everything else is each client's default (gzip decoding on).
"""

from __future__ import annotations

CHUNK = 64 * 1024  # chunk size for streaming APIs that take one


def dist_version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)
