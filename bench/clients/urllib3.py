"""urllib3: PoolManager (the layer under requests, without requests on top)."""

import urllib3

from . import CHUNK, dist_version

THREAD_SAFE = True


def version() -> str:
    return dist_version("urllib3")


def make_session(pool: int = 10):
    return urllib3.PoolManager(maxsize=max(pool, 1), retries=False)


def close_session(s) -> None:
    s.clear()


def get(s, url) -> bytes:
    return s.request("GET", url).data


def post(s, url, body) -> bytes:
    headers = {"Content-Type": "application/octet-stream"}
    return s.request("POST", url, body=body, headers=headers).data


def stream(s, url) -> int:
    n = 0
    r = s.request("GET", url, preload_content=False)
    try:
        for chunk in r.stream(CHUNK):
            n += len(chunk)
    finally:
        r.release_conn()
    return n
