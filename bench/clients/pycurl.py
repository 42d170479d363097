"""pycurl: one Curl easy handle per session (not shareable: one per thread).
The thinnest Python binding of libcurl (its wheel bundles its own libcurl)."""

from io import BytesIO

import pycurl

from . import dist_version

THREAD_SAFE = False
NOTES = "one easy handle per thread in the thread cells; no async API"


def version() -> str:
    return dist_version("pycurl")


def make_session(pool: int = 10):
    c = pycurl.Curl()
    c.setopt(pycurl.ENCODING, "")  # accept and decode every encoding libcurl supports
    c.setopt(pycurl.NOSIGNAL, 1)
    return c


def close_session(c) -> None:
    c.close()


def get(c, url) -> bytes:
    buf = BytesIO()
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.WRITEDATA, buf)
    c.perform()
    if c.getinfo(pycurl.RESPONSE_CODE) != 200:
        raise RuntimeError(f"status {c.getinfo(pycurl.RESPONSE_CODE)}")
    return buf.getvalue()


def post(c, url, body) -> bytes:
    buf = BytesIO()
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.POSTFIELDS, body)
    c.setopt(pycurl.WRITEDATA, buf)
    c.perform()
    c.setopt(pycurl.HTTPGET, 1)
    return buf.getvalue()


def stream(c, url) -> int:
    n = 0

    def on_data(chunk):
        nonlocal n
        n += len(chunk)

    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.WRITEFUNCTION, on_data)
    try:
        c.perform()
    finally:
        c.unsetopt(pycurl.WRITEFUNCTION)
    return n
