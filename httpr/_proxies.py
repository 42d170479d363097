"""Proxy URLs and the per-request proxy choice (api.md 2 and 12, amendment 3.6, design.md 8).

httpr decides which proxy a request uses, in Python, once per hop; libcurl is never left to
read ``http_proxy`` and friends by its own rules (SEC-12). The transport therefore sets, on
every transfer:

- ``CURLOPT_PROXY`` to ``Proxy.url`` (scheme, host and explicit port, never credentials), or
  to ``""`` when ``ProxyConfig.for_url`` returns ``None``: ``""`` means "no proxy" to libcurl,
  whereas leaving the option unset makes it read the environment (design.md 8, measured);
- ``CURLOPT_NOPROXY`` to ``""``: the choice has been made here, so libcurl must not skip the
  proxy for any host (its own ``NO_PROXY`` reading would otherwise apply). No helper builds a
  libcurl no-proxy list: ``NO_PROXY`` is matched by ``ProxyConfig.for_url`` alone;
- ``CURLOPT_PROXYUSERPWD`` to ``Proxy.userpwd`` when it is not ``None`` (R3: credentials go
  to the proxy only, never into a header libcurl might send to an origin).

Order of precedence (api.md 12):

1. ``proxy=`` (constructor or setter): every request; ``NO_PROXY`` does not apply.
2. ``HTTPR_PROXY`` (with ``trust_env``): every request; ``NO_PROXY`` does not apply.
3. With ``trust_env``: ``http_proxy`` for ``http://`` targets, ``https_proxy`` for
   ``https://`` targets, else ``all_proxy``; the lowercase name wins over the uppercase one;
   uppercase ``HTTP_PROXY`` is ignored when ``REQUEST_METHOD`` is set (CGI "httpoxy",
   CVE-2016-5385: a request's ``Proxy:`` header arrives as ``HTTP_PROXY``). ``NO_PROXY`` /
   ``no_proxy`` skips these for matching targets.
4. No proxy.

Reading rules, all at construction (``ProxyConfig.from_settings``), never per request:

- An empty variable counts as unset (curl's ``curl_getenv`` does the same), so an empty
  ``http_proxy`` lets ``HTTP_PROXY`` apply.
- A variable without a scheme gets ``http://`` (amendment 3.6); an unparsable one raises
  ``InvalidURL`` naming the variable; an unsupported scheme raises ``UnsupportedProtocol``.
- With ``HTTPR_PROXY`` set the standard variables can never apply, so they are not read.
  ``NO_PROXY`` is read only when a standard variable is in effect. An ignored ``HTTP_PROXY``
  (httpoxy) is not read at all: a bad value there comes from a request header and must not
  break the program.
- ``NO_PROXY`` entries (lowercase name wins; entries split on commas, whitespace around them
  ignored; case-insensitive):

  - ``*``: every target;
  - a host name, optionally with a leading ``.`` or ``*.``: that host and its subdomains
    (``example.com`` matches ``example.com`` and ``a.example.com``, not ``badexample.com``);
    a trailing dot is ignored; non-ASCII names are IDNA-encoded like request hosts;
  - an IP address (IPv6 with or without brackets) or a CIDR block (``10.0.0.0/8``,
    ``fe80::/10``): IP-literal targets inside it. Names are never resolved: ``localhost``
    does not match ``127.0.0.1``;
  - any of these with ``:port`` (IPv6 only in brackets, ``[::1]:8080``): only that port.

  A malformed entry (bad port, bad prefix length, characters no host name holds) raises
  ``InvalidURL`` naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable, Union
from urllib.parse import unquote

from ._config import MAX_URL_CHARS
from ._exceptions import InvalidURL, UnsupportedProtocol
from ._urls import _HOST, _IPV6, _SCHEME

__all__ = ["PROXY_SCHEMES", "Proxy", "ProxyConfig", "parse_proxy"]

# api.md 2: the schemes libcurl takes in CURLOPT_PROXY that httpr allows, with the port used
# when the URL names none (httpx and curl's defaults: 80/443 for HTTP proxies, 1080 for SOCKS).
PROXY_SCHEMES: Mapping[str, int] = {
    "http": 80,
    "https": 443,
    "socks4": 1080,
    "socks4a": 1080,
    "socks5": 1080,
    "socks5h": 1080,
}
# RFC 1929 section 2: ULEN and PLEN are one octet each.
_SOCKS5_MAX_CREDENTIAL_BYTES = 255
# R14: what replaces a password wherever a proxy URL is shown.
_MASK = "[secure]"
# C0 controls, space and DEL: never valid in a proxy URL (R1); percent-encode them instead.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
# C0 controls and DEL in decoded credentials: CURLOPT_PROXYUSERPWD is a C string (NUL would
# cut it) and CR/LF have no business in a credential (R1).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# NO_PROXY entries are separated by commas; whitespace separates too, as in curl.
_NO_PROXY_SPLIT = re.compile(r"[,\s]+")

_Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def _mask(value: str) -> str:
    """``value`` with anything that may be a password replaced by ``[secure]`` (R14).

    Works on any string, parsable or not: everything after the first ``:`` following the
    scheme and before the *last* ``@`` is masked. That may hide more than the password (a
    port, when a path holds an ``@``) but never less, even if the password holds ``/``.
    """
    start = value.find("://")
    # Only a real scheme ends there: in "u:a://b@h" the "://" is inside the password.
    start = start + 3 if start > 0 and _SCHEME.fullmatch(value[:start]) else 0
    at = value.rfind("@")
    if at < start:
        return value
    colon = value.find(":", start, at)
    if colon < 0:
        return value
    return f"{value[: colon + 1]}{_MASK}{value[at:]}"


def _shown(value: str) -> str:
    """The masked value for a message, shortened if it is huge (R13: messages stay small)."""
    masked = _mask(value)
    if len(masked) > 200:
        masked = masked[:200] + "..."
    return repr(masked)


@dataclass(frozen=True, repr=False)
class Proxy:
    """One validated proxy.

    ``host`` is lowercase ASCII (IDNA-encoded), an IPv4 literal, or an IPv6 literal *in
    brackets* (``[::1]``), as in a URL. ``port`` is always set (the scheme's default when the
    URL had none). ``username`` and ``password`` are percent-decoded; ``None`` when the URL
    had no userinfo (``password`` is ``None`` too for ``user@host``). The password never
    appears in ``repr``.
    """

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        """``CURLOPT_PROXY``: ``scheme://host:port``, without credentials."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def userpwd(self) -> str | None:
        """``CURLOPT_PROXYUSERPWD``: ``"user:password"`` (decoded), or ``None``.

        libcurl splits it at the first ``:``; ``parse_proxy`` refuses a ``:`` in the user
        name, so the split is always right.
        """
        if not self.username and self.password is None:
            return None
        return f"{self.username or ''}:{self.password or ''}"

    @property
    def masked_url(self) -> str:
        """The URL with the user name and ``[secure]`` for the password, for messages."""
        if self.username is None and self.password is None:
            return self.url
        secret = "" if self.password is None else f":{_MASK}"
        return f"{self.scheme}://{self.username or ''}{secret}@{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"Proxy({self.masked_url!r})"


def parse_proxy(value: object, *, origin: str) -> Proxy:
    """Validates a proxy URL (api.md 2, amendment 3.6).

    ``origin`` names where the value came from (``"proxy"``, ``"HTTPS_PROXY"``...) and starts
    every error message. Without a scheme, ``http://`` is assumed. Raises ``TypeError`` for
    a non-``str``, ``UnsupportedProtocol`` for a scheme other than http, https, socks4,
    socks4a, socks5 and socks5h, and ``InvalidURL`` for anything unparsable (no host, a bad
    port, a path, control characters or spaces...). Messages never hold the password (R14).
    """
    if not isinstance(value, str):
        raise TypeError(f"{origin} must be a str, not {type(value).__name__}")
    if len(value) > MAX_URL_CHARS:
        raise InvalidURL(
            f"{origin}: invalid proxy URL: longer than {MAX_URL_CHARS} characters ({len(value)})"
        )

    def fail(reason: str) -> InvalidURL:
        return InvalidURL(f"{origin}: invalid proxy URL {_shown(value)}: {reason}")

    if not value:
        raise fail("empty")
    text = value
    if "://" not in text:
        # amendment 3.6: "127.0.0.1:3128", "user:pw@proxy:8080" and "//proxy" are http.
        text = "http:" + text if text.startswith("//") else "http://" + text
    scheme_text, _, rest = text.partition("://")
    if not _SCHEME.fullmatch(scheme_text):
        raise fail("malformed scheme")
    scheme = scheme_text.lower()
    if scheme not in PROXY_SCHEMES:
        raise UnsupportedProtocol(
            f"{origin}: unsupported proxy scheme {scheme!r} in {_shown(value)}: expected one "
            "of http, https, socks4, socks4a, socks5, socks5h"
        )
    if _FORBIDDEN.search(value):
        raise fail("spaces and control characters (CR, LF, NUL...) are not allowed")

    # RFC 3986 section 3.2: the authority ends at the first '/', '?' or '#' (as in _urls, so
    # "http://host/x@evil" is never read as host "evil"); a bare "/" is tolerated
    # (``http://proxy:3128/`` is common), anything more is not a proxy URL.
    end = len(rest)
    for delimiter in "/?#":
        i = rest.find(delimiter)
        if 0 <= i < end:
            end = i
    authority, tail = rest[:end], rest[end:]
    if tail not in ("", "/"):
        raise fail("a proxy URL has no path, query or fragment")

    # Userinfo ends at the last '@': an unencoded '@' in a password is common and harmless.
    username = password = None
    at = authority.rfind("@")
    if at >= 0:
        userinfo, authority = authority[:at], authority[at + 1 :]
        user_text, sep, password_text = userinfo.partition(":")
        try:
            username = unquote(user_text, errors="strict")
            password = unquote(password_text, errors="strict") if sep else None
        except UnicodeDecodeError:
            raise fail("the credentials are not valid percent-encoded UTF-8") from None
        if ":" in username:
            raise fail("the user name holds ':' (libcurl would split it there)")
        if _CONTROL.search(username) or (password is not None and _CONTROL.search(password)):
            raise fail("the credentials hold control characters")
        if scheme in ("socks5", "socks5h") and (
            len(username.encode()) > _SOCKS5_MAX_CREDENTIAL_BYTES
            or len((password or "").encode()) > _SOCKS5_MAX_CREDENTIAL_BYTES
        ):
            raise fail(f"SOCKS5 credentials are limited to {_SOCKS5_MAX_CREDENTIAL_BYTES} bytes")

    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise fail("unclosed '[' in the host")
        host, after = authority[: close + 1], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise fail(f"unexpected {after[:50]!r} after the host")
        port_text = after[1:] if after else None
        if not _IPV6.fullmatch(host):
            raise fail(f"malformed IPv6 host {host[:60]!r}")
        try:
            ipaddress.IPv6Address(host[1:-1].split("%", 1)[0])
        except ValueError:
            raise fail(f"malformed IPv6 host {host[:60]!r}") from None
        host = host.lower()
    else:
        host, sep, port_raw = authority.partition(":")
        port_text = port_raw if sep else None
        host = _encode_name(host, fail)

    port = PROXY_SCHEMES[scheme]
    if port_text is not None:
        if not (port_text.isascii() and port_text.isdigit()):
            raise fail(f"the port {port_text[:20]!r} is not a number")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise fail(f"the port {port} is outside 1-65535")
    return Proxy(scheme, host, port, username, password)


def _encode_name(host: str, fail: Callable[[str], InvalidURL]) -> str:
    """A registered name or IPv4 literal, IDNA-encoded and lowercased (as in _urls)."""
    if not host:
        raise fail("no host")
    if not host.isascii():
        import idna

        try:
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError as e:
            raise fail(f"the host is not a valid IDNA name ({e})") from None
    if not _HOST.fullmatch(host):
        raise fail(
            f"the host {host[:60]!r} may only hold letters, digits, '-', '.' and '_' "
            "(no '%', '\\' or other punctuation)"
        )
    return host.lower()


# -- NO_PROXY ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NoProxyEntry:
    """One NO_PROXY entry: a host-name suffix rule or an IP network, maybe port-bound."""

    name: str | None
    network: _Network | None
    port: int | None

    def matches(
        self, name: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, port: int
    ) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return ip is not None and ip.version == self.network.version and ip in self.network
        if ip is not None or self.name is None:
            return False
        return name == self.name or name.endswith("." + self.name)


def _parse_no_proxy(value: str, origin: str) -> tuple[bool, tuple[_NoProxyEntry, ...]]:
    """``(match_all, entries)`` of a NO_PROXY value; InvalidURL naming `origin` if malformed."""
    match_all = False
    entries: list[_NoProxyEntry] = []
    for raw in _NO_PROXY_SPLIT.split(value):
        if not raw:
            continue
        if raw == "*":
            match_all = True
            continue
        entries.append(_parse_no_proxy_entry(raw, origin))
    return match_all, tuple(entries)


def _parse_no_proxy_entry(raw: str, origin: str) -> _NoProxyEntry:
    def fail(reason: str) -> InvalidURL:
        return InvalidURL(f"{origin}: invalid entry {raw[:100]!r}: {reason}")

    entry = raw.lower()
    port_text: str | None = None
    if entry.startswith("["):
        # "[::1]", "[::1]:8080", "[fe80::]/10", "[fe80::]/10:8080", "[fe80::/10]"
        close = entry.find("]")
        if close < 0:
            raise fail("unclosed '['")
        inner, after = entry[1:close], entry[close + 1 :]
        address = inner
        if after.startswith("/"):  # "[fe80::]/10", maybe with ":port" after the prefix
            prefix, sep, port_part = after.partition(":")
            address += prefix
            after = sep + port_part
        if after:
            if not after.startswith(":"):
                raise fail(f"unexpected {after[:20]!r} after ']'")
            port_text = after[1:]
        if ":" not in inner:
            raise fail("brackets hold an IPv6 address only")
    elif entry.count(":") >= 2:
        address = entry  # IPv6 without brackets: no port possible
    else:
        address, sep, port_raw = entry.partition(":")
        port_text = port_raw if sep else None

    port: int | None = None
    if port_text is not None:
        if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
            raise fail(f"the port {port_text[:20]!r} is not a number in 1-65535")
        port = int(port_text)

    if "/" in address:
        try:
            network = ipaddress.ip_network(address, strict=False)
        except ValueError as e:
            raise fail(f"not a CIDR block ({e})") from None
        return _NoProxyEntry(None, network, port)
    ip = _ip_or_none(address)
    if ip is not None:
        return _NoProxyEntry(None, ipaddress.ip_network(ip), port)
    if ":" in address:
        raise fail("not an IPv6 address")

    name = address
    if name.startswith("*."):
        name = name[2:]
    elif name.startswith("."):
        name = name[1:]
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        import idna

        try:
            name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError as e:
            raise fail(f"not a valid IDNA host name ({e})") from None
    if not name or not _HOST.fullmatch(name) or "" in name.split("."):
        raise fail("expected a host name, an IP address, a CIDR block or '*'")
    return _NoProxyEntry(name, None, port)


def _ip_or_none(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address `text` spells (an IPv6 zone, ``%eth0`` or ``%25eth0``, is dropped)."""
    if ":" in text:
        text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class _NoProxy:
    __slots__ = ("origin", "value", "match_all", "entries")

    def __init__(self, value: str, origin: str) -> None:
        self.origin = origin
        self.value = value
        self.match_all, self.entries = _parse_no_proxy(value, origin)

    def matches(self, host: str, port: int) -> bool:
        if self.match_all:
            return True
        if not self.entries:
            return False
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        name = host.lower().rstrip(".")
        ip = _ip_or_none(name)
        return any(entry.matches(name, ip, port) for entry in self.entries)


# -- the per-client configuration --------------------------------------------------------------


def _read(environ: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    """``(name, value)`` of the first of `names` set to a non-empty value."""
    for name in names:
        value = environ.get(name)
        if value:
            return name, value
    return None


def _read_proxy(environ: Mapping[str, str], *names: str) -> Proxy | None:
    found = _read(environ, *names)
    return None if found is None else parse_proxy(found[1], origin=found[0])


class ProxyConfig:
    """The proxy settings of one client, read and validated once, at construction.

    Immutable: the ``proxy`` setter builds a new one with ``replace_explicit``, so a request
    in flight keeps the configuration it started with.
    """

    __slots__ = ("_explicit", "_explicit_text", "_env", "_env_text", "_http", "_https", "_no")

    def __init__(
        self,
        *,
        explicit: tuple[Proxy, str] | None = None,
        env: tuple[Proxy, str] | None = None,
        http: Proxy | None = None,
        https: Proxy | None = None,
        no_proxy: _NoProxy | None = None,
    ) -> None:
        self._explicit: Proxy | None = None if explicit is None else explicit[0]
        self._explicit_text: str | None = None if explicit is None else explicit[1]
        self._env: Proxy | None = None if env is None else env[0]
        self._env_text: str | None = None if env is None else env[1]
        self._http = http
        self._https = https
        self._no = no_proxy

    @classmethod
    def from_settings(
        cls,
        explicit: str | None,
        *,
        trust_env: bool,
        environ: Mapping[str, str] = os.environ,
    ) -> ProxyConfig:
        """Reads ``proxy=`` and (with `trust_env`) the environment, per api.md 12.

        The environment is read even when `explicit` is given, since ``client.proxy = None``
        later falls back to it; so a bad variable raises here whatever `explicit` is. With
        ``trust_env=False`` nothing is read.
        """
        given = None if explicit is None else (parse_proxy(explicit, origin="proxy"), explicit)
        if not trust_env:
            return cls(explicit=given)
        found = _read(environ, "HTTPR_PROXY")
        if found is not None:
            env = parse_proxy(found[1], origin=found[0]), found[1]
            return cls(explicit=given, env=env)
        # httpoxy: under CGI, HTTP_PROXY is whatever the client sent as a "Proxy:" header.
        http_names = (
            ("http_proxy",) if "REQUEST_METHOD" in environ else ("http_proxy", "HTTP_PROXY")
        )
        all_proxy = _read_proxy(environ, "all_proxy", "ALL_PROXY")
        http = _read_proxy(environ, *http_names) or all_proxy
        https = _read_proxy(environ, "https_proxy", "HTTPS_PROXY") or all_proxy
        no_proxy = None
        if http is not None or https is not None:
            found = _read(environ, "no_proxy", "NO_PROXY")
            if found is not None:
                no_proxy = _NoProxy(found[1], found[0])
        return cls(explicit=given, http=http, https=https, no_proxy=no_proxy)

    def replace_explicit(self, explicit: str | None) -> ProxyConfig:
        """A copy with another ``proxy=`` value (the client's setter); the environment as read
        at construction stays."""
        given = None if explicit is None else (parse_proxy(explicit, origin="proxy"), explicit)
        env = None if self._env is None or self._env_text is None else (self._env, self._env_text)
        return type(self)(
            explicit=given, env=env, http=self._http, https=self._https, no_proxy=self._no
        )

    def for_url(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy for one request target, or ``None`` to go direct.

        `scheme` is ``"http"`` or ``"https"`` (``ValueError`` otherwise); `host` is the URL's
        host as ``_urls.URL.host`` holds it (lowercase ASCII, IPv6 in brackets), though an
        IPv6 literal without brackets and any letter case are accepted too; `port` is the
        effective port (80/443 when the URL names none), which ``NO_PROXY`` ``:port`` entries
        compare with.
        """
        if self._explicit is not None:
            return self._explicit
        if self._env is not None:
            return self._env
        kind = scheme.lower()
        if kind == "http":
            proxy = self._http
        elif kind == "https":
            proxy = self._https
        else:
            raise ValueError(f"scheme must be 'http' or 'https', not {scheme!r}")
        if proxy is not None and self._no is not None and self._no.matches(host, port):
            return None
        return proxy

    @property
    def display(self) -> str | None:
        """``client.proxy``: the explicit proxy, else ``HTTPR_PROXY``, as given; else ``None``.
        The standard ``*_proxy`` variables never show here (api.md 2)."""
        return self._explicit_text if self._explicit_text is not None else self._env_text

    @property
    def any_proxy(self) -> bool:
        """Whether some request may use a proxy (False: every transfer goes direct)."""
        return any(p is not None for p in (self._explicit, self._env, self._http, self._https))

    def __repr__(self) -> str:
        parts = []
        if self._explicit is not None:
            parts.append(f"proxy={self._explicit.masked_url!r}")
        if self._env is not None:
            parts.append(f"HTTPR_PROXY={self._env.masked_url!r}")
        if self._http is not None:
            parts.append(f"http={self._http.masked_url!r}")
        if self._https is not None:
            parts.append(f"https={self._https.masked_url!r}")
        if self._no is not None:
            parts.append(f"{self._no.origin}={self._no.value!r}")
        return f"ProxyConfig({', '.join(parts)})"
