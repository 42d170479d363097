"""curl_cffi: requests.Session / AsyncSession (libcurl-impersonate via cffi). A Session keeps a
thread-local curl handle, so one Session is shared by the threads."""

from curl_cffi import requests as cr

from . import dist_version

THREAD_SAFE = True
NOTES = "AsyncSession max_clients raised to the in-flight count (default 10)"


def version() -> str:
    return dist_version("curl_cffi")


def make_session(pool: int = 10):
    return cr.Session()


def close_session(s) -> None:
    s.close()


def get(s, url) -> bytes:
    return s.get(url).content


def post(s, url, body) -> bytes:
    return s.post(url, data=body).content


def stream(s, url) -> int:
    n = 0
    r = s.get(url, stream=True)
    try:
        for chunk in r.iter_content():
            n += len(chunk)
    finally:
        r.close()
    return n


async def amake_session(pool: int = 100):
    return cr.AsyncSession(max_clients=max(pool, 10))


async def aclose_session(s) -> None:
    await s.close()


async def aget(s, url) -> bytes:
    return (await s.get(url)).content
