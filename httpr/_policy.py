"""Request policy without I/O: credentials, explicit cookies, client certificates, redirects.

Split out of ``_client.py`` (which keeps the flow) so every rule here is a small pure
function that unit and fuzz tests can call directly. Each rule cites the API section or
the security requirement it implements.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urljoin

from ._exceptions import RemoteProtocolError, UnsupportedProtocol
from ._models import _TOKEN_RE
from ._urls import URL, parse_url

__all__ = [
    "REDIRECT_STATUSES",
    "basic_auth",
    "bearer_auth",
    "check_client_pem",
    "credentials_survive",
    "redirect_method",
    "redirect_target",
    "validate_auth",
    "validate_bearer",
    "validate_cookies",
]

# api.md 9: only these carry a redirect; other 3xx are returned as they are.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# RFC 6265 section 4.1.1: cookie-octet excludes CTLs, whitespace, DQUOTE, comma, semicolon,
# backslash; api.md 10 rejects only what would break the header (';', CR, LF, NUL).
_BAD_COOKIE_VALUE = re.compile(r"[;\r\n\x00]")
_BAD_CREDENTIAL = re.compile(r"[\r\n\x00]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 3.1: scheme ":" starts an absolute reference.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def validate_auth(value: object, param: str) -> tuple[str, str | None] | None:
    """``auth=(user, password)``: strs without CR/LF/NUL (R1); ``None`` password = empty."""
    if value is None:
        return None
    if not isinstance(value, tuple) or len(value) != 2:
        raise TypeError(f"{param} must be a (user, password) tuple, not {type(value).__name__}")
    user, password = value
    if not isinstance(user, str) or not (password is None or isinstance(password, str)):
        raise TypeError(f"{param} must hold a str user and a str or None password")
    if _BAD_CREDENTIAL.search(user) or (password and _BAD_CREDENTIAL.search(password)):
        raise ValueError(f"{param} must not contain CR, LF or NUL")  # the value is secret: R14
    return user, password


def validate_bearer(value: object, param: str) -> str | None:
    """``auth_bearer=token``: a str without CR/LF/NUL (R1)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{param} must be a str, not {type(value).__name__}")
    if _BAD_CREDENTIAL.search(value):
        raise ValueError(f"{param} must not contain CR, LF or NUL")
    return value


def basic_auth(user: str, password: str | None) -> str:
    """``Basic base64("user:password")`` in UTF-8 (api.md 4.5)."""
    raw = f"{user}:{password or ''}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def bearer_auth(token: str) -> str:
    return f"Bearer {token}"


def validate_cookies(value: object, param: str) -> list[tuple[str, str]]:
    """Explicit cookies: a mapping of token names to values without ';', CR, LF, NUL."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise TypeError(f"{param} must be a mapping of names to values, not {type(value).__name__}")
    pairs: list[tuple[str, str]] = []
    for name, val in value.items():
        if not isinstance(name, str) or not isinstance(val, str):
            raise TypeError(f"{param}: cookie names and values must be str")
        if not _TOKEN_RE.fullmatch(name):
            raise ValueError(f"{param}: invalid cookie name {name!r}: must be an RFC 9110 token")
        if _BAD_COOKIE_VALUE.search(val):
            raise ValueError(f"{param}: the value of cookie {name!r} contains ';', CR, LF or NUL")
        pairs.append((name, val))
    return pairs


def merge_cookie_pairs(*sources: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """One Cookie header from sources ordered least to most specific (jar, client, request):
    a name present in several appears once, with the most specific value, at the first
    position (api.md 10)."""
    order: list[str] = []
    values: dict[str, str] = {}
    for source in sources:
        for name, val in source:
            if name not in values:
                order.append(name)
            values[name] = val
    return [(name, values[name]) for name in order]


def credentials_survive(previous: URL, target: URL) -> bool:
    """Whether credentials set for ``previous`` may go to ``target`` (R2, R4, api.md 9).

    Same scheme, host and port, or the upgrade http://host -> https://host on the default
    ports (amendment 1.9). Anything else drops Authorization and explicit cookies.
    """
    if previous.origin == target.origin:
        return True
    return (
        previous.scheme == "http"
        and target.scheme == "https"
        and previous.host == target.host
        and previous.port is None
        and target.port is None
    )


def redirect_method(status: int, method: str) -> tuple[str, bool]:
    """(next method, whether the body is dropped) for a redirect status (R5, api.md 9)."""
    if status == 303:
        return ("HEAD", True) if method == "HEAD" else ("GET", True)
    if status in (301, 302) and method == "POST":
        return "GET", True
    return method, False


def redirect_target(current: URL, location: str, *, method: str, url: str) -> URL:
    """The validated URL a ``Location`` points to, resolved against ``current`` (RFC 3986).

    Another scheme -> ``UnsupportedProtocol``; anything malformed (CR/LF/NUL, no host,
    a bad port) -> ``RemoteProtocolError``; both before any request to the target (R9).
    """
    location = location.strip()
    if _BAD_CREDENTIAL.search(location) or not location:
        raise RemoteProtocolError(f"malformed redirect Location for {method} {url}")
    try:
        # RFC 3986 5.2.2: a reference with a scheme is absolute and taken as it is. urljoin
        # would fill an empty authority ("http:///x") from the current URL (a loop) and
        # raises ValueError of its own on some malformed hosts.
        joined = location if _SCHEME.match(location) else urljoin(str(current), location)
        return parse_url(joined)
    except UnsupportedProtocol:
        scheme = joined.split(":", 1)[0]
        raise UnsupportedProtocol(
            f"redirect to a {scheme!r} URL refused (only http and https) for {method} {url}"
        ) from None
    except ValueError as e:  # InvalidURL, or urljoin's own
        raise RemoteProtocolError(f"malformed redirect Location ({e}) for {method} {url}") from None


_PEM_CERT = b"-----BEGIN CERTIFICATE-----"
_PEM_KEY = re.compile(rb"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----")


def check_client_pem(path: object, data: object) -> tuple[str | None, bytes | None]:
    """``client_pem`` (a path) or ``client_pem_data`` (bytes): a certificate chain and an
    unencrypted key in PEM, checked at construction (api.md 2)."""
    if path is not None and data is not None:
        raise ValueError("Only one of client_pem or client_pem_data may be set.")
    if path is None and data is None:
        return None, None
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"client_pem must be a path, not {type(path).__name__}")
        with open(path, "rb") as f:  # OSError propagates
            pem = f.read()
        name = "client_pem"
    else:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"client_pem_data must be bytes, not {type(data).__name__}")
        pem = bytes(data)
        name = "client_pem_data"
    if _PEM_CERT not in pem:
        raise ValueError(f"{name} holds no PEM certificate")
    if not _PEM_KEY.search(pem):
        raise ValueError(f"{name} holds no PEM private key")
    if b"ENCRYPTED" in pem:
        raise ValueError(f"{name}: the private key is encrypted; give an unencrypted key")
    if path is not None:
        return os.path.abspath(os.fspath(path)), None
    return None, pem
