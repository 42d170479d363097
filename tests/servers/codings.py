"""Content-coding encoders for the test servers: gzip and deflate from the standard library,
br and zstd through ctypes from the shared libraries libcurl itself links (libbrotlienc.so.1,
libzstd.so.1), so no PyPI package is needed. ``encode(name, data)`` raises ``LookupError``
when a library is missing; ``available(name)`` says beforehand."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gzip
import zlib
from collections.abc import Callable
from typing import Any


@functools.cache
def _library(stem: str, soname: str) -> Any:
    """The shared library, or LookupError (``available()`` turns that into a skip)."""
    for name in (soname, ctypes.util.find_library(stem)):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
    raise LookupError(f"lib{stem} is not installed")


def _brotli(data: bytes) -> bytes:
    lib = _library("brotlienc", "libbrotlienc.so.1")
    lib.BrotliEncoderMaxCompressedSize.restype = ctypes.c_size_t
    lib.BrotliEncoderMaxCompressedSize.argtypes = [ctypes.c_size_t]
    cap = max(int(lib.BrotliEncoderMaxCompressedSize(len(data))), 64)
    out = ctypes.create_string_buffer(cap)
    size = ctypes.c_size_t(cap)
    lib.BrotliEncoderCompress.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.c_char_p,
    ]
    # quality 5, window 22 (BROTLI_DEFAULT_WINDOW), mode 0 (generic)
    if not lib.BrotliEncoderCompress(5, 22, 0, len(data), data, ctypes.byref(size), out):
        raise RuntimeError("BrotliEncoderCompress failed")
    return out.raw[: size.value]


def _zstd(data: bytes) -> bytes:
    lib = _library("zstd", "libzstd.so.1")
    lib.ZSTD_compressBound.restype = ctypes.c_size_t
    lib.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
    lib.ZSTD_compress.restype = ctypes.c_size_t
    lib.ZSTD_compress.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_int,
    ]
    lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
    cap = int(lib.ZSTD_compressBound(len(data)))
    out = ctypes.create_string_buffer(cap)
    n = lib.ZSTD_compress(out, cap, data, len(data), 3)
    if lib.ZSTD_isError(n):
        raise RuntimeError("ZSTD_compress failed")
    return out.raw[:n]


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "x-gzip": lambda data: gzip.compress(data, mtime=0),
    "deflate": lambda data: zlib.compress(data),  # RFC 9110: the zlib format
    "raw-deflate": _raw_deflate,  # what some servers send as "deflate"; decoders accept it
    "br": _brotli,
    "zstd": _zstd,
}


def header_name(coding: str) -> str:
    """The Content-Encoding token of an ENCODERS key."""
    return "deflate" if coding == "raw-deflate" else coding


def encode(coding: str, data: bytes) -> bytes:
    return ENCODERS[coding](data)


def available(coding: str) -> bool:
    try:
        encode(coding, b"x")
    except LookupError:
        return False
    return True
