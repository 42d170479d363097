"""primp: Client / AsyncClient (Rust, PyO3); httpr 0.7.8's ancestor."""

import primp

from . import dist_version

THREAD_SAFE = True
NOTES = "no pool-size knob; no close(): clients are dropped with their last reference"


def version() -> str:
    return dist_version("primp")


def make_session(pool: int = 10):
    return primp.Client()


def close_session(s) -> None:
    pass


def get(s, url) -> bytes:
    return s.get(url).content


def post(s, url, body) -> bytes:
    return s.post(url, content=body).content


def stream(s, url) -> int:
    n = 0
    r = s.get(url, stream=True)
    try:
        for chunk in r.iter_bytes():
            n += len(chunk)
    finally:
        r.close()
    return n


async def amake_session(pool: int = 100):
    return primp.AsyncClient()


async def aclose_session(s) -> None:
    pass


async def aget(s, url) -> bytes:
    return (await s.get(url)).content
