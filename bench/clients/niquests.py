"""niquests: Session / AsyncSession (urllib3-future, installed so that it does not shadow the
real urllib3). Optional peer: `run.py --clients all` or `--clients ...,niquests`."""

import niquests

from . import CHUNK, dist_version

THREAD_SAFE = True


def version() -> str:
    return dist_version("niquests")


def make_session(pool: int = 10):
    return niquests.Session(pool_maxsize=max(pool, 10))


def close_session(s) -> None:
    s.close()


def get(s, url) -> bytes:
    return s.get(url).content


def post(s, url, body) -> bytes:
    return s.post(url, data=body).content


def stream(s, url) -> int:
    n = 0
    with s.get(url, stream=True) as r:
        for chunk in r.iter_content(CHUNK):
            n += len(chunk)
    return n


async def amake_session(pool: int = 100):
    return niquests.AsyncSession(pool_maxsize=max(pool, 10))


async def aclose_session(s) -> None:
    await s.close()


async def aget(s, url) -> bytes:
    return (await s.get(url)).content
