"""requests: Session (urllib3 pool under it)."""

import requests
from requests.adapters import HTTPAdapter

from . import CHUNK, dist_version

THREAD_SAFE = True  # one Session shared by the threads; pool sized to the thread count


def version() -> str:
    return dist_version("requests")


def make_session(pool: int = 10):
    s = requests.Session()
    if pool > 10:
        s.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=pool))
    return s


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
