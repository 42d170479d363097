"""The only code that imports ``httpr._ffi``: libcurl's global init, version and features.

Everything else in httpr reaches libcurl through the typed wrappers of this package
(``engine.py``, ``xfer.py``, ``errors.py``), as argon2-cffi-bindings keeps its bindings apart
from its API (style.md).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .._ffi import ffi, lib

__all__ = ["CURL", "CurlInfo", "ffi", "lib", "counters"]

# design.md section 11: the oldest libcurl the design was measured on.
MIN_CURL_VERSION = (7, 88, 0)

_init_lock = threading.Lock()
_initialised = False


@dataclass(frozen=True)
class CurlInfo:
    """The libcurl loaded at run time: version and the features httpr cares about."""

    version: str
    version_num: int
    ssl_version: str
    cainfo: str
    """libcurl's built-in CA bundle path ("" if it has none)."""
    http2: bool
    http3: bool
    brotli: bool
    zstd: bool
    libz: bool
    asynchdns: bool
    threadsafe: bool
    https_proxy: bool
    refuses_cn_only: bool
    """The OpenSSL hook refusing CN-only certificates is active (R8; OpenSSL backend only)."""
    own_decoding: bool
    """Built with httpr's own decoders (csrc/decode.c): buffered bodies are decoded by them."""

    @property
    def decoders(self) -> tuple[str, ...]:
        """Content-codings this libcurl decodes, in the order httpr advertises them."""
        names: list[str] = []
        if self.libz:
            names += ["gzip", "deflate"]
        if self.brotli:
            names.append("br")
        if self.zstd:
            names.append("zstd")
        return tuple(names)


def check_version(version_num: int, version: str) -> None:
    """Refuses a libcurl older than the design's floor (design.md section 11).

    The headers were checked at build time; this catches an older libcurl.so loaded at run
    time (another library path, a downgraded package).
    """
    found = (version_num >> 16, (version_num >> 8) & 0xFF, version_num & 0xFF)
    if found < MIN_CURL_VERSION:
        raise ImportError(
            f"httpr needs libcurl >= 7.88.0 at run time, but loaded {version}; "
            "upgrade libcurl4 or rebuild httpr"
        )


def _global_init() -> CurlInfo:
    global _initialised
    with _init_lock:
        if not _initialised:
            rc = lib.httpr_global_init()
            if rc != 0:
                raise ImportError(f"httpr: curl_global_init failed with CURLcode {rc}")
            _initialised = True
    raw = ffi.new("httpr_curl_info *")
    lib.httpr_curl_info_get(raw)
    num = int(raw.version_num)
    version = ffi.string(raw.version).decode("ascii", "replace")
    check_version(num, version)
    return CurlInfo(
        version=version,
        version_num=num,
        ssl_version=ffi.string(raw.ssl_version).decode("ascii", "replace"),
        cainfo=ffi.string(raw.cainfo).decode("utf-8", "replace"),
        http2=bool(raw.http2),
        http3=bool(raw.http3),
        brotli=bool(raw.brotli),
        zstd=bool(raw.zstd),
        libz=bool(raw.libz),
        asynchdns=bool(raw.asynchdns),
        threadsafe=bool(raw.threadsafe),
        https_proxy=bool(raw.https_proxy),
        refuses_cn_only=bool(raw.refuses_cn_only),
        own_decoding=bool(raw.own_decoding),
    )


CURL: CurlInfo = _global_init()


def counters() -> dict[str, int]:
    """The C layer's live-object counters (engines, records, in-flight transfers, threads).

    For leak tests: after every client is closed they return to their baseline.
    """
    raw: Any = ffi.new("httpr_counters *")
    lib.httpr_counters_get(raw)
    return {
        "engines": int(raw.engines),
        "records": int(raw.records),
        "in_flight": int(raw.in_flight),
        "threads": int(raw.threads),
    }
