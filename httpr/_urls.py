"""URL parsing, validation and normalisation (api.md section 4.6, R9, R13).

libcurl gets exactly the URL built here: ASCII only, host IDNA-encoded (UTS 46,
non-transitional, with the ``idna`` package, so libcurl's libidn2 never decides), path and
query percent-encoded, no userinfo, no fragment, no default port. Parsing is linear in the
URL's length (no backtracking regex) and refused beyond ``MAX_URL_CHARS`` (R13).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import quote

from ._config import MAX_URL_CHARS
from ._exceptions import InvalidURL, UnsupportedProtocol

__all__ = ["URL", "parse_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# C0 controls and DEL anywhere in a URL (R1: nothing of this reaches the wire).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A registered name after IDNA (letters, digits, hyphen, dot; underscore is seen in the
# wild and accepted by libcurl) or an IPv4 literal.
_HOST = re.compile(r"[A-Za-z0-9._\-]+")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9._~\-]+)?\]")
# Kept as is in a path or query: printable ASCII except space (existing %XX escapes stay).
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


class URL:
    """A validated absolute http(s) URL, as it goes to libcurl."""

    __slots__ = ("scheme", "host", "port", "target", "username", "password", "_str")

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int | None,
        target: str,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = target
        self.username = username
        self.password = password
        authority = host if port is None else f"{host}:{port}"
        self._str = f"{scheme}://{authority}{target}"

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, effective port): what redirects compare for credentials (R2)."""
        return (self.scheme, self.host, self.port or _DEFAULT_PORTS[self.scheme])

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return f"URL({self._str!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, URL) and other._str == self._str

    def __hash__(self) -> int:
        return hash(self._str)


def _encode_host(host: str, url: str) -> str:
    if host.startswith("["):
        literal = host[1:-1].split("%25", 1)[0]
        try:
            if not _IPV6.fullmatch(host):
                raise ValueError(host)
            ipaddress.IPv6Address(literal)  # "[:::::]" or "[1.2.3]" are not addresses (fuzzing)
        except ValueError:
            raise InvalidURL(f"Invalid URL {url!r}: malformed IPv6 host {host!r}") from None
        return host.lower()
    if not host:
        raise InvalidURL(f"Invalid URL {url!r}: no host")
    if not host.isascii():
        import idna

        try:
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError as e:
            raise InvalidURL(f"Invalid URL {url!r}: host is not a valid IDNA name ({e})") from None
    if not _HOST.fullmatch(host):
        raise InvalidURL(
            f"Invalid URL {url!r}: the host {host!r} may only hold letters, digits, '-', '.' "
            "and '_' (no '%', space or control character)"
        )
    if host.startswith(".") or ".." in host:
        # No name has an empty label; one trailing dot (an absolute name) is allowed.
        # Found by FZ-01: "http://..../" reached libcurl, and the cookie jar saw another host.
        raise InvalidURL(f"Invalid URL {url!r}: the host {host!r} has an empty label")
    return host.lower()


def parse_url(url: object) -> URL:
    """Validates and normalises an absolute URL (api.md section 4.6).

    The scheme is checked first (``UnsupportedProtocol``), then everything else
    (``InvalidURL``); both before any I/O. The last ``PARSED_URL_CACHE`` URLs parsed are
    remembered (a client calls the same URLs again and again); a URL with userinfo never is,
    so no password outlives its request in the cache. Failures are not cached.
    """
    if type(url) is str and "@" not in url:
        return _parse_url_cached(url)
    return _parse_url(url)


def _parse_url(url: object) -> URL:
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    if len(url) > MAX_URL_CHARS:
        raise InvalidURL(f"Invalid URL: longer than {MAX_URL_CHARS} characters ({len(url)})")
    if not url:
        raise InvalidURL("Invalid URL '': empty")
    colon = url.find(":")
    scheme_match = _SCHEME.match(url)
    if colon <= 0 or scheme_match is None or scheme_match.end() != colon:
        raise InvalidURL(f"Invalid URL {url!r}: no scheme (expected http:// or https://)")
    scheme = url[:colon].lower()
    rest = url[colon + 1 :]
    if scheme not in _DEFAULT_PORTS:
        if rest[:1].isdigit():
            # "localhost:8080/x": a host and port without a scheme, not a scheme "localhost".
            raise InvalidURL(f"Invalid URL {url!r}: no scheme (expected http:// or https://)")
        raise UnsupportedProtocol(
            f"Unsupported URL scheme {scheme!r} in {url!r}: only http and https are allowed"
        )
    if _CONTROL.search(url):
        raise InvalidURL(f"Invalid URL {url!r}: control characters (CR, LF, NUL...) not allowed")
    if not url.isascii():
        try:
            url.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate cannot be percent-encoded (fuzzing)
            raise InvalidURL(f"Invalid URL {url!r}: not encodable as UTF-8") from None
    if not rest.startswith("//"):
        raise InvalidURL(f"Invalid URL {url!r}: expected '//' and a host after the scheme")
    rest = rest[2:]
    # The authority ends at the first '/', '?' or '#' (RFC 3986 section 3.2).
    end = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if 0 <= i < end:
            end = i
    authority, target = rest[:end], rest[end:]
    hash_at = target.find("#")
    if hash_at >= 0:
        target = target[:hash_at]  # the fragment never goes on the wire
    username = password = None
    at = authority.rfind("@")
    if at >= 0:
        userinfo, authority = authority[:at], authority[at + 1 :]
        user, sep, pw = userinfo.partition(":")
        from urllib.parse import unquote

        username = unquote(user)
        password = unquote(pw) if sep else None
    port: int | None = None
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise InvalidURL(f"Invalid URL {url!r}: unclosed '[' in the host")
        host, after = authority[: close + 1], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise InvalidURL(f"Invalid URL {url!r}: unexpected {after!r} after the host")
        port_text = after[1:] if after else None
    else:
        host, sep, port_text_raw = authority.partition(":")
        port_text = port_text_raw if sep else None
    if port_text is not None:
        if not port_text.isdigit() or not port_text.isascii():
            raise InvalidURL(f"Invalid URL {url!r}: the port {port_text!r} is not a number")
        if len(port_text) > 5:  # before int(): Python refuses > 4,300 digits (fuzzing)
            raise InvalidURL(f"Invalid URL {url!r}: the port is outside 1-65535")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise InvalidURL(f"Invalid URL {url!r}: the port {port} is outside 1-65535")
        if port == _DEFAULT_PORTS[scheme]:
            port = None
    host = _encode_host(host, url)
    if not target.startswith("/"):
        target = "/" + target
    if not target.isascii() or " " in target:
        target = quote(target, safe=_SAFE)
    return URL(scheme, host, port, target, username, password)


# URL objects are never changed once made, so one may serve every call to the same URL.
PARSED_URL_CACHE = 512
_parse_url_cached = functools.lru_cache(maxsize=PARSED_URL_CACHE)(_parse_url)
