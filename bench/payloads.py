"""Deterministic benchmark payloads (seeded: byte-identical bodies in every run).

As in upstream httpr's benchmark, the GET bodies are base64 text of N KiB of random bytes,
gzip-compressed and served with ``Content-Encoding: gzip`` whatever the client asked, so every
client pays the inflate.

  GET  /5k /50k /200k              gzip of base64(random N KiB); decoded length checked
  GET  /raw/5k /raw/50k /raw/200k  N KiB of random bytes, identity (transport cost alone)
  GET  /50m                        50 MiB of random bytes, identity (the streaming cell)
  POST /upload                     the server reads the whole body, answers its length
"""

from __future__ import annotations

import base64
import gzip
import os
import random

SEED = 20261124
SIZES_KIB = {"5k": 5, "50k": 50, "200k": 200}
STREAM_BYTES = 50 * 1024 * 1024
POST_BYTES = 1024 * 1024  # 1 MiB


def _random_bytes(n: int, salt: int) -> bytes:
    return random.Random(SEED + salt).randbytes(n)


def gzip_body(name: str) -> tuple[bytes, int]:
    """(compressed body, decoded length) of a gzip endpoint such as '5k'."""
    kib = SIZES_KIB[name]
    text = base64.b64encode(_random_bytes(kib * 1024, kib))
    return gzip.compress(text, compresslevel=6, mtime=0), len(text)


def raw_body(name: str) -> bytes:
    kib = SIZES_KIB[name]
    return _random_bytes(kib * 1024, kib)


def stream_body() -> bytes:
    return _random_bytes(STREAM_BYTES, 50_000)


def post_body() -> bytes:
    return _random_bytes(POST_BYTES, 1_000)


def expected_body(path: str) -> bytes:
    """The decoded body a client must receive for a GET path (not /50m)."""
    if path.startswith("/raw/"):
        return raw_body(path[5:])
    kib = SIZES_KIB[path.lstrip("/")]
    return base64.b64encode(_random_bytes(kib * 1024, kib))


def expected_length(path: str) -> int:
    """Decoded length a client must receive for a GET path."""
    if path == "/50m":
        return STREAM_BYTES
    if path.startswith("/raw/"):
        return SIZES_KIB[path[5:]] * 1024
    return gzip_body(path.lstrip("/"))[1]


def write_files(data_dir: str) -> str:
    """Write the static files nginx serves; files already right are left alone."""
    os.makedirs(os.path.join(data_dir, "gz"), exist_ok=True)
    os.makedirs(os.path.join(data_dir, "raw"), exist_ok=True)
    wanted = {}
    for name in SIZES_KIB:
        wanted[os.path.join(data_dir, "gz", name)] = gzip_body(name)[0]
        wanted[os.path.join(data_dir, "raw", name)] = raw_body(name)
    wanted[os.path.join(data_dir, "50m")] = stream_body()
    for path, body in wanted.items():
        if os.path.exists(path) and os.path.getsize(path) == len(body):
            with open(path, "rb") as f:
                if f.read() == body:
                    continue
        with open(path, "wb") as f:
            f.write(body)
    return data_dir


def write_check_files(check_dir: str) -> dict[str, str]:
    """Files the C floor compares against: the decoded GET bodies and the POST body.
    Returns {path: file} for the GET paths and '/upload'."""
    os.makedirs(check_dir, exist_ok=True)
    out = {}
    wanted = {"/upload": post_body()}
    for name in SIZES_KIB:
        for path in ("/" + name, "/raw/" + name):
            wanted[path] = expected_body(path)
    for path, body in wanted.items():
        file = os.path.join(check_dir, path.strip("/").replace("/", "-"))
        if not (os.path.exists(file) and os.path.getsize(file) == len(body)):
            with open(file, "wb") as f:
                f.write(body)
        out[path] = file
    return out
