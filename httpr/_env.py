"""Trust-store resolution from arguments and the environment (api.md 11, 12).

The CA bundle is always handed to libcurl explicitly, with CAPATH cleared (amendment 2.4),
so the same file decides for origins and https proxies and no CA directory is consulted:
``ca_cert_file`` (or ``verify=<path>``), else ``HTTPR_CA_BUNDLE`` (with ``trust_env``), else
libcurl's built-in bundle when present, else certifi's. ``SSL_CERT_FILE``,
``SSL_CERT_DIR``, ``REQUESTS_CA_BUNDLE`` and ``CURL_CA_BUNDLE`` are never read.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Union

from ._curl import CURL

__all__ = ["VerifyTypes", "resolve_ca_file"]

VerifyTypes = Union[bool, str, "os.PathLike[str]", None]

# Only the start of a bundle is read to check that it holds a certificate: a user path is
# checked at every construction, and system bundles run to hundreds of KiB.
_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"
_CHECK_BYTES = 1024 * 1024


def _checked_bundle(path: str, origin: str) -> str:
    """The path of a readable PEM file with at least one certificate, or the error."""
    with open(path, "rb") as f:  # OSError (FileNotFoundError, PermissionError) propagates
        head = f.read(_CHECK_BYTES)
    if _PEM_MARKER not in head:
        raise ValueError(f"{origin}: {path!r} holds no PEM certificate")
    return os.path.abspath(path)


@functools.lru_cache(maxsize=1)
def default_ca_file() -> str:
    """libcurl's built-in bundle when the file exists, else certifi's (read once)."""
    if CURL.cainfo and os.path.isfile(CURL.cainfo):
        return CURL.cainfo
    import certifi

    return str(certifi.where())


def resolve_ca_file(
    verify: object,
    ca_cert_file: object,
    *,
    trust_env: bool,
    environ: Mapping[str, str] = os.environ,
) -> tuple[bool, str]:
    """``(verify, ca_file)`` for a client, validated before any I/O (api.md 2)."""
    if isinstance(verify, (str, os.PathLike)):
        if ca_cert_file is not None:
            raise ValueError("verify is a CA path and ca_cert_file is set too: give only one")
        ca_cert_file, verify = verify, True
    elif verify is None:
        verify = True
    elif not isinstance(verify, bool):
        raise TypeError(f"verify must be a bool or a CA bundle path, not {type(verify).__name__}")
    if ca_cert_file is not None:
        if not isinstance(ca_cert_file, (str, os.PathLike)):
            raise TypeError(f"ca_cert_file must be a path, not {type(ca_cert_file).__name__}")
        return verify, _checked_bundle(os.fspath(ca_cert_file), "ca_cert_file")
    if trust_env:
        from_env = environ.get("HTTPR_CA_BUNDLE")
        if from_env:
            return verify, _checked_bundle(from_env, "HTTPR_CA_BUNDLE")
    return verify, default_ca_file()
