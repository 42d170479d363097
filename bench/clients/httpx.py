"""httpx: Client / AsyncClient (httpcore, h11)."""

import httpx

from . import dist_version

THREAD_SAFE = True
NOTES = (
    "pool limits raised to the load (default keep-alive pool: 20); timeouts 60 s (at 1,000 "
    "in flight its default 5 s connect timeout fires)"
)


def version() -> str:
    return dist_version("httpx")


def _limits(pool: int):
    return httpx.Limits(max_connections=max(pool, 100), max_keepalive_connections=max(pool, 20))


TIMEOUT = httpx.Timeout(60.0)


def make_session(pool: int = 10):
    return httpx.Client(limits=_limits(pool), timeout=TIMEOUT)


def close_session(s) -> None:
    s.close()


def get(s, url) -> bytes:
    return s.get(url).content


def post(s, url, body) -> bytes:
    return s.post(url, content=body).content


def stream(s, url) -> int:
    n = 0
    with s.stream("GET", url) as r:
        for chunk in r.iter_bytes():
            n += len(chunk)
    return n


async def amake_session(pool: int = 100):
    return httpx.AsyncClient(limits=_limits(pool), timeout=TIMEOUT)


async def aclose_session(s) -> None:
    await s.aclose()


async def aget(s, url) -> bytes:
    return (await s.get(url)).content
