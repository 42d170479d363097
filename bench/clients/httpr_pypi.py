"""httpr 0.7.8 from PyPI: the Rust client (reqwest/hyper, PyO3) whose API ours follows.

It imports as `httpr`, like the checkout under test, so it runs only with the interpreter of
its own venv (setup_peers.sh builds it; run.py picks it for this adapter)."""

import httpr

from . import dist_version

if not hasattr(httpr, "RClient"):
    raise ImportError(f"httpr_pypi: {httpr.__file__} is not PyPI's Rust httpr")

THREAD_SAFE = True
NOTES = "own venv; AsyncClient max_concurrency raised to the in-flight count (default 64)"


def version() -> str:
    return dist_version("httpr")


def make_session(pool: int = 10):
    return httpr.Client()


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
    return httpr.AsyncClient(max_concurrency=max(pool, 64))


async def aclose_session(s) -> None:
    await s.aclose()


async def aget(s, url) -> bytes:
    return (await s.get(url)).content
