"""The client's cookie jar (api.md section 10, R4, amendment 4.1).

One ``CookieJar`` per client, in Python: libcurl's cookie engine stays off, because keeping
two jars in step gave curl_cffi duplicated and lost cookies (design.md section 8). The jar
follows RFC 6265 section 5: parsing ``Set-Cookie`` (5.2), storage (5.3) and the ``Cookie``
header (5.4), with the hardening of R4 and of RFC 6265bis that browsers ship:

- ``Domain`` must cover the response host and must not be a public suffix (the Public
  Suffix List snapshot in ``_psl.dat``, amendment 3.9); a trailing dot is normalised first,
  since ``Domain=com.`` slipped past curl's check (CVE-2022-27779);
- ``Secure`` cookies are neither accepted from nor sent over plain http, and a plain-http
  response cannot shadow a stored ``Secure`` cookie (6265bis "leave secure cookies alone");
- the ``__Secure-`` and ``__Host-`` name prefixes are enforced (6265bis cookie prefixes);
- caps per cookie, per domain and in all (RFC 6265 section 6.1), the oldest evicted first,
  so a hostile server cannot grow the jar without bound (SEC-11).

>>> jar = CookieJar()
>>> jar.extract("https://www.example.com/app/login", ["sid=abc; Path=/; Secure; HttpOnly"])
>>> jar.cookie_header_pairs("https://www.example.com/")
[('sid', 'abc')]
>>> jar.cookie_header_pairs("http://www.example.com/")
[]
"""

from __future__ import annotations

import datetime
import heapq
import http.cookiejar
import importlib.resources
import itertools
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator
from typing import cast
from urllib.parse import urlsplit

from ._exceptions import CookieConflict

__all__ = [
    "MAX_COOKIES_PER_DOMAIN",
    "MAX_COOKIES_TOTAL",
    "MAX_COOKIE_AGE_S",
    "MAX_COOKIE_BYTES",
    "CookieJar",
    "is_public_suffix",
]

# R4 / RFC 6265 section 6.1 ("at least 4096 bytes per cookie, as measured by the sum of the
# length of the cookie's name, value, and attributes"). Measured here as the whole
# Set-Cookie field value as received: name, "=", value, every attribute and the ";" and
# spaces between them, in octets (a character above U+00FF, which a latin-1-decoded header
# cannot hold, counts its UTF-8 length). A longer line is ignored whole, before parsing.
MAX_COOKIE_BYTES = 4096
# R4 / RFC 6265 section 6.1 ("at least 50 cookies per domain"). The domain is the
# registrable domain (public suffix + one label, Chrome's "domain key"), so the subdomains
# of one site share the 50 and cannot flush other sites' cookies through the total cap.
MAX_COOKIES_PER_DOMAIN = 50
# R4 / RFC 6265 section 6.1 ("at least 3000 cookies total").
MAX_COOKIES_TOTAL = 3000
# RFC 6265bis (cookie-age-limit of Expires and Max-Age): at most 400 days, as browsers do.
# It also keeps a huge Max-Age from overflowing a float.
MAX_COOKIE_AGE_S = 400 * 24 * 60 * 60

_PSL_RESOURCE = "_psl.dat"
# Stale entries the expiry heap may hold beyond twice the live cookies before a rebuild.
_HEAP_SLACK = 64

# A stored cookie's identity: (domain, path, name), RFC 6265 section 5.3 step 11.
_Key = tuple[str, str, str]

# RFC 9110 section 5.6.2: token = 1*tchar; a cookie name must be one (RFC 6265 section 4.1.1).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# C0 controls and DEL (RFC 5234 CTL) but HTAB, as octets: anywhere in the field they void
# the cookie, so nothing of them reaches a Cookie header (R1). HTAB is header whitespace
# and a date delimiter (RFC 6265 section 5.1.1); only a value may not hold one. Deleted
# with bytes.translate, which scans at C speed where a regex took 0.75 s for SEC-11's 40 MB.
_CTL_OCTETS_NO_TAB = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F])
# RFC 6265 section 5.2: whitespace stripped around names and values is WSP (SP / HTAB).
_WSP = " \t"
# A canonical domain: ASCII LDH labels (underscore is seen in the wild and accepted by
# httpr's URL parser), no empty label.
_DOMAIN = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
# RFC 6265 section 5.2.2: max-age-av value = [ "-" ] 1*DIGIT (ASCII digits only).
_MAX_AGE = re.compile(r"-?[0-9]+")
# RFC 6265 section 5.1.1 delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E; a
# date-token is a run of anything else.
_DATE_TOKEN = re.compile(r"[^\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
# RFC 6265 section 5.1.1 productions; each may be followed by a non-digit and anything.
_HMS_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_DAY_OF_MONTH = re.compile(r"([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_YEAR = re.compile(r"([0-9]{2,4})(?:[^0-9].*)?", re.DOTALL)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# An IPv4 address in any form a URL parser or libcurl accepts ("127.1", "0x7f.0.0.1"): the
# last label is a number. No top-level domain is numeric (WHATWG URL "ends in a number").
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")


def _octets(text: str) -> tuple[bytes, bool]:
    """`text` as received (MAX_COOKIE_BYTES), and whether it is all latin-1.

    A header decoded as latin-1 gives one character per octet; a character above U+00FF
    (only from a direct call) counts its UTF-8 length, whose octets are all >= 0x80.
    """
    try:
        return text.encode("latin-1"), True
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass"), False


def _is_ip(host: str) -> bool:
    """Whether `host` (lowercase, brackets removed) is an IP address, not a domain name.

    >>> _is_ip("127.0.0.1"), _is_ip("::1"), _is_ip("127.1"), _is_ip("1.example")
    (True, True, True, False)
    """
    return ":" in host or _NUMERIC_LABEL.fullmatch(host.rpartition(".")[2]) is not None


def _canonical_domain(domain: str) -> str | None:
    """RFC 6265 section 5.1.2 canonical form: ASCII (A-labels), lowercase, no trailing dot.

    The trailing dot goes first so that ``com.`` is checked as ``com`` (CVE-2022-27779).
    Returns None for what cannot be a domain (empty labels, characters outside LDH).

    >>> _canonical_domain("Example.COM.")
    'example.com'
    >>> _canonical_domain("bücher.example")
    'xn--bcher-kva.example'
    """
    if domain.endswith("."):
        domain = domain[:-1]
    labels = []
    for label in domain.split("."):
        if label.isascii():
            labels.append(label.lower())
            continue
        # RFC 6265 section 5.1.2: a Unicode label becomes its A-label (RFC 3492 Punycode).
        # The stdlib has no UTS 46 mapping; a label needing one then fails to domain-match
        # the request host (IDNA-encoded by httpr's URL parser), and the cookie is ignored.
        label = unicodedata.normalize("NFC", label).lower()
        try:
            labels.append("xn--" + label.encode("punycode").decode("ascii"))
        except UnicodeError:
            return None
    result = ".".join(labels)
    return result if _DOMAIN.fullmatch(result) else None


def _lookup_domain(domain: str) -> str | None:
    """A domain given to ``get``/``clear``, as the jar stores it (None: cannot match).

    >>> _lookup_domain(".Example.com."), _lookup_domain("[::1]")
    ('example.com', '::1')
    """
    domain = domain.strip().lower()
    if ":" in domain:  # an IPv6 address, bracketed or not
        return domain.strip("[]")
    return _canonical_domain(domain[1:] if domain.startswith(".") else domain)


def _domain_match(host: str, domain: str) -> bool:
    """RFC 6265 section 5.1.3: `host` is `domain` or a name below it (never for IPs).

    >>> _domain_match("www.example.com", "example.com")
    True
    >>> _domain_match("badexample.com", "example.com")
    False
    """
    if host == domain:
        return True
    return host.endswith(domain) and host[-len(domain) - 1] == "." and not _is_ip(host)


def _path_match(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 section 5.1.4 path-match.

    >>> _path_match("/app/x", "/app"), _path_match("/apple", "/app"), _path_match("/app/", "/app/")
    (True, False, True)
    """
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"


def _default_path(request_path: str) -> str:
    """RFC 6265 section 5.1.4 default-path: the request path up to its last ``/``.

    >>> _default_path("/app/login"), _default_path("/login"), _default_path("")
    ('/app', '/', '/')
    """
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[: request_path.rindex("/")]


def _parse_cookie_date(text: str) -> float | None:
    """RFC 6265 section 5.1.1: seconds since the epoch (UTC), or None if not a cookie-date.

    >>> _parse_cookie_date("Wed, 09 Jun 2021 10:18:14 GMT")
    1623233894.0
    >>> _parse_cookie_date("Sun, 06-Nov-94 08:49:37 GMT")  # RFC 850 form, 2-digit year
    784111777.0
    """
    hms: tuple[int, int, int] | None = None
    day: int | None = None
    month: int | None = None
    year: int | None = None
    for token in _DATE_TOKEN.findall(text):
        if hms is None:
            match = _HMS_TIME.fullmatch(token)
            if match:
                hms = (int(match[1]), int(match[2]), int(match[3]))
                continue
        if day is None:
            match = _DAY_OF_MONTH.fullmatch(token)
            if match:
                day = int(match[1])
                continue
        if month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
            continue
        if year is None:
            match = _YEAR.fullmatch(token)
            if match:
                year = int(match[1])
    if hms is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif year <= 69:
        year += 2000
    hour, minute, second = hms
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    try:  # February 30th and friends: "fails to parse" (RFC 6265 section 5.1.1 step 6)
        moment = datetime.datetime(
            year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc
        )
    except ValueError:
        return None
    return moment.timestamp()


class _PublicSuffixList:
    """The rules of publicsuffix.org/list/ (normal, ``*.`` wildcard, ``!`` exception)."""

    __slots__ = ("_rules", "_wildcards", "_exceptions")

    def __init__(self, lines: Iterable[str]) -> None:
        self._rules: set[str] = set()
        self._wildcards: set[str] = set()  # "*.ck" is stored as "ck"
        self._exceptions: set[str] = set()  # "!www.ck" is stored as "www.ck"
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("//"):
                continue
            rule = line.split()[0]
            if rule.startswith("!"):
                self._exceptions.add(rule[1:])
            elif rule.startswith("*."):
                self._wildcards.add(rule[2:])
            else:
                self._rules.add(rule)

    def suffix_labels(self, domain: str) -> int:
        """How many labels of canonical `domain`, from the right, form its public suffix.

        The publicsuffix.org algorithm: an exception rule prevails, minus its leftmost label;
        else the matching rule with the most labels; else the implicit rule ``*``.
        """
        labels = domain.split(".")
        count = len(labels)
        best = 1  # the implicit "*" rule
        for i in range(count):
            candidate = ".".join(labels[i:])
            if candidate in self._exceptions:
                return count - i - 1
            if best == 1 and (
                candidate in self._rules
                or (i + 1 < count and ".".join(labels[i + 1 :]) in self._wildcards)
            ):
                # The first match from the left has the most labels; keep scanning only for
                # a (shorter) exception rule, which would prevail.
                best = count - i
        return best


_psl: _PublicSuffixList | None = None
_psl_lock = threading.Lock()


def _public_suffix_list() -> _PublicSuffixList:
    """The vendored list, read once, on the first cookie (5 ms; many clients never get one)."""
    global _psl
    psl = _psl
    if psl is None:
        with _psl_lock:
            psl = _psl
            if psl is None:
                resource = importlib.resources.files(__package__ or "httpr") / _PSL_RESOURCE
                psl = _psl = _PublicSuffixList(resource.read_text(encoding="utf-8").splitlines())
    return psl


def is_public_suffix(domain: str) -> bool:
    """Whether `domain` is a public suffix, under which anyone may register names.

    Uses the vendored Public Suffix List snapshot, private domains included; a domain no
    rule covers is its own public suffix when it has one label (the implicit ``*`` rule).
    Case, a trailing dot and Unicode labels are normalised first.

    >>> is_public_suffix("co.uk"), is_public_suffix("example.co.uk"), is_public_suffix("COM.")
    (True, False, True)
    """
    canonical = _canonical_domain(domain)
    if canonical is None:
        return False
    return _public_suffix_list().suffix_labels(canonical) == canonical.count(".") + 1


def _registrable_domain(host: str) -> str:
    """The cap group of a cookie domain: its public suffix + one label, an IP as itself.

    >>> _registrable_domain("a.b.example.co.uk")
    'example.co.uk'
    """
    if _is_ip(host):
        return host
    labels = host.split(".")
    keep = _public_suffix_list().suffix_labels(host) + 1
    return ".".join(labels[-keep:])


class _StoredCookie:
    """One cookie of the store: RFC 6265 section 5.3's fields, plus what iteration shows."""

    __slots__ = (
        "name",
        "value",
        "domain",
        "host_only",
        "path",
        "expires",
        "secure",
        "http_only",
        "same_site",
        "creation",
        "last_access",
        "order",
        "path_specified",
        "domain_initial_dot",
        "group",
    )

    def __init__(
        self,
        name: str,
        value: str,
        domain: str,
        host_only: bool,
        path: str,
        expires: float | None,
        secure: bool,
        http_only: bool,
        same_site: str | None,
        creation: float,
        order: int,
        path_specified: bool,
        domain_initial_dot: bool,
    ) -> None:
        self.name = name
        self.value = value
        self.domain = domain  # canonical, no leading dot; the request host when host_only
        self.host_only = host_only
        self.path = path
        self.expires = expires  # seconds since the epoch; None for a session cookie
        self.secure = secure
        self.http_only = http_only
        self.same_site = same_site
        self.creation = creation
        self.last_access = creation
        self.order = order  # breaks creation-time ties (one clock tick, or a given `now`)
        self.path_specified = path_specified
        self.domain_initial_dot = domain_initial_dot
        self.group = _registrable_domain(domain)  # MAX_COOKIES_PER_DOMAIN's group

    def key(self) -> _Key:
        # RFC 6265 section 5.3 step 11: a cookie replaces the one with its name, domain, path.
        return (self.domain, self.path, self.name)

    def expired(self, now: float) -> bool:
        return self.expires is not None and self.expires <= now

    def to_cookiejar(self) -> http.cookiejar.Cookie:
        """As the stdlib's ``http.cookiejar`` stores it: a Domain cookie's domain with a dot."""
        rest: dict[str, str | None] = {}
        if self.http_only:
            rest["HttpOnly"] = None
        if self.same_site is not None:
            rest["SameSite"] = self.same_site
        return http.cookiejar.Cookie(
            version=0,
            name=self.name,
            value=self.value,
            port=None,
            port_specified=False,
            domain=self.domain if self.host_only else "." + self.domain,
            domain_specified=not self.host_only,
            domain_initial_dot=self.domain_initial_dot,
            path=self.path,
            path_specified=self.path_specified,
            secure=self.secure,
            expires=None if self.expires is None else int(self.expires),
            discard=self.expires is None,
            comment=None,
            comment_url=None,
            # typeshed says dict[str, str]; the stdlib itself stores None for a flag.
            rest=cast("dict[str, str]", rest),
        )


_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def _split_url(url: str) -> tuple[bool, str, str]:
    """(is https, canonical host, path) of an absolute http(s) URL validated by _urls."""
    parts = urlsplit(url)
    host = parts.hostname or ""  # lowercase, IPv6 brackets removed
    if host.endswith("."):
        host = host[:-1]
    return parts.scheme.lower() == "https", host, parts.path or "/"


class CookieJar:
    """The client's cookie store: RFC 6265, public suffixes refused, size-capped.

    Caps: 4 KiB per cookie (a larger one is refused), 50 per domain and 3,000 in all
    (beyond those, the oldest go first).

    ``client.cookie_jar`` is one; the client feeds it every response's ``Set-Cookie``
    lines (``extract``) and asks it what to send (``cookie_header_pairs``). It is safe to
    share between threads. Iterating yields a snapshot as ``http.cookiejar.Cookie`` objects.

    >>> jar = CookieJar()
    >>> jar.extract("http://example.com/", ["a=1; Domain=example.com", "b=2; Max-Age=0"])
    >>> len(jar), jar.get("a"), [c.domain for c in jar]
    (1, '1', ['.example.com'])
    >>> jar.cookie_header_pairs("http://www.example.com/x")
    [('a', '1')]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> cookie, in creation order: a replaced cookie keeps its creation time and
        # its place (RFC 6265 section 5.3 step 11.3), so the first entry is the oldest.
        self._cookies: dict[_Key, _StoredCookie] = {}
        # cookie domain -> its keys, to find a host's cookies without a scan.
        self._by_domain: dict[str, dict[_Key, None]] = {}
        # registrable domain -> its keys in creation order: MAX_COOKIES_PER_DOMAIN's groups.
        self._by_group: dict[str, dict[_Key, None]] = {}
        # name -> keys of the Secure cookies of that name, for "leave secure cookies alone".
        self._secure_by_name: dict[str, dict[_Key, None]] = {}
        # (expiry, order, key) of every cookie with an expiry, so purging the expired costs
        # O(log n) per cookie purged instead of a scan per request. Entries of replaced or
        # removed cookies stay until popped or until the heap is rebuilt.
        self._expiries: list[tuple[float, int, _Key]] = []
        self._counter = itertools.count()

    # -- RFC 6265 section 5.2: parsing ------------------------------------------------------

    def extract(self, url: str, set_cookie_values: list[str], *, now: float | None = None) -> None:
        """Store the cookies of a response from `url` (its ``Set-Cookie`` field values).

        A cookie the rules reject is ignored silently, as RFC 6265 section 5.3 says; it
        never raises for what the server sent. `now` (seconds since the epoch) is for tests.

        >>> jar = CookieJar()
        >>> jar.extract("http://example.com/a/b", ["x=1", "y=2; Domain=.com", "z=3; Secure"])
        >>> [(c.name, c.domain, c.path) for c in jar]
        [('x', 'example.com', '/a')]
        """
        if now is None:
            now = time.time()
        secure_scheme, host, path = _split_url(url)
        host_is_ip = _is_ip(host)
        with self._lock:
            # Expired cookies go first, so that the caps never evict a live one for them.
            self._purge_expired(now)
            for line in set_cookie_values:
                cookie = self._parse(line, secure_scheme, host, host_is_ip, path, now)
                if cookie is not None:
                    self._store(cookie, secure_scheme, now)

    def _parse(
        self,
        line: str,
        secure_scheme: bool,
        host: str,
        host_is_ip: bool,
        request_path: str,
        now: float,
    ) -> _StoredCookie | None:
        """One Set-Cookie line as a cookie ready to store, or None if it must be ignored."""
        raw, latin1 = _octets(line)
        if len(raw) > MAX_COOKIE_BYTES:
            return None
        if len(raw.translate(None, _CTL_OCTETS_NO_TAB)) != len(raw):
            return None
        pair, _, attributes = line.partition(";")
        name, eq, value = pair.partition("=")
        if not eq:  # RFC 6265 section 5.2 step 2: no "=" means no cookie
            return None
        name = name.strip(_WSP)
        value = value.strip(_WSP)
        # RFC 6265 section 5.2 only asks for a non-empty name; we also require the section
        # 4.1.1 syntax of the name, no CTL in the value (HTAB included), and a value the
        # Cookie header can carry as latin-1 (obs-text, RFC 9110 section 5.5): both are
        # sent back verbatim (R1).
        if not _TOKEN.fullmatch(name) or "\t" in value:
            return None
        if not latin1:
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                return None

        expires: float | None = None
        max_age: float | None = None
        domain_attr: str | None = None
        path: str | None = None
        secure = http_only = False
        same_site: str | None = None
        # RFC 6265 section 5.3: of repeated attributes, the last one counts.
        for av in attributes.split(";") if attributes else ():
            attr_name, _, attr_value = av.partition("=")
            attr_name = attr_name.strip(_WSP).lower()
            attr_value = attr_value.strip(_WSP)
            if attr_name == "expires":
                parsed = _parse_cookie_date(attr_value)
                if parsed is not None:
                    expires = parsed
            elif attr_name == "max-age":
                if _MAX_AGE.fullmatch(attr_value):
                    # RFC 6265 section 5.2.2: delta <= 0 means "expired at once". Long
                    # values are capped before int(), which refuses over 4,300 digits.
                    digits = attr_value.lstrip("0")
                    if attr_value.startswith("-") or not digits:
                        max_age = float("-inf")
                    elif len(digits) > len(str(MAX_COOKIE_AGE_S)):
                        max_age = now + MAX_COOKIE_AGE_S
                    else:
                        max_age = now + min(int(digits), MAX_COOKIE_AGE_S)
            elif attr_name == "domain":
                # RFC 6265 section 5.2.3: an empty value SHOULD make the user agent ignore
                # the attribute.
                if attr_value:
                    domain_attr = attr_value
            elif attr_name == "path":
                # RFC 6265 section 5.2.4: empty or not starting with "/" -> default-path.
                path = attr_value if attr_value.startswith("/") else None
            elif attr_name == "secure":
                secure = True
            elif attr_name == "httponly":
                http_only = True
            elif attr_name == "samesite":
                same_site = _SAME_SITE.get(attr_value.lower())

        # RFC 6265 section 5.3 step 3: Max-Age wins over Expires, whatever their order.
        expiry = max_age if max_age is not None else expires
        if expiry is not None:
            expiry = min(expiry, now + MAX_COOKIE_AGE_S)

        # Steps 4-6: the domain, host-only unless a valid Domain attribute widens it.
        host_only = True
        domain = host
        initial_dot = False
        if domain_attr is not None:
            initial_dot = domain_attr.startswith(".")
            # Section 5.2.3 removes one leading dot; section 5.3 step 6 treats an empty
            # result as no Domain attribute (host-only).
            stripped = domain_attr[1:] if initial_dot else domain_attr
            if host_is_ip:
                # Section 5.1.3: an IP only domain-matches itself, which means host-only.
                if stripped and stripped.lower().rstrip(".").strip("[]") != host:
                    return None
            elif stripped:
                canonical = _canonical_domain(stripped)
                if canonical is None or not _domain_match(host, canonical):
                    return None
                # Step 5: a public suffix is refused, unless it is the host itself, which
                # then gets a host-only cookie.
                if is_public_suffix(canonical):
                    if canonical != host:
                        return None
                else:
                    host_only = False
                    domain = canonical

        # RFC 6265bis: a Secure cookie only from a secure origin.
        if secure and not secure_scheme:
            return None
        # RFC 6265bis cookie prefixes (the prefix matched case-insensitively, as drafted).
        lowered = name.lower()
        if lowered.startswith("__secure-") and not secure:
            return None
        if lowered.startswith("__host-") and not (
            secure and host_only and domain_attr is None and path == "/"
        ):
            return None

        return _StoredCookie(
            name=name,
            value=value,
            domain=domain,
            host_only=host_only,
            path=path if path is not None else _default_path(request_path),
            expires=expiry,
            secure=secure,
            http_only=http_only,
            same_site=same_site,
            creation=now,
            order=next(self._counter),
            path_specified=path is not None,
            domain_initial_dot=initial_dot,
        )

    # -- RFC 6265 section 5.3: storage ------------------------------------------------------

    def _store(self, cookie: _StoredCookie, secure_scheme: bool, now: float) -> None:
        key = cookie.key()
        if not secure_scheme and not cookie.secure and self._shadows_secure(cookie):
            # RFC 6265bis "leave secure cookies alone": plain http may neither overwrite nor
            # delete nor shadow a Secure cookie of that name for an overlapping domain/path.
            return
        old = self._cookies.get(key)
        if cookie.expired(now):
            # Max-Age <= 0 or a past Expires: the cookie deletes its namesake, if any.
            if old is not None:
                self._remove(key)
            return
        if old is not None:
            # Step 11.3: the replacement keeps the old creation time (and its place).
            cookie.creation = old.creation
            cookie.order = old.order
            self._cookies[key] = cookie
            if old.secure and not cookie.secure:
                self._forget_secure(old)
            elif cookie.secure and not old.secure:
                self._secure_by_name.setdefault(cookie.name, {})[key] = None
        else:
            self._cookies[key] = cookie
            self._by_domain.setdefault(cookie.domain, {})[key] = None
            group = self._by_group.setdefault(cookie.group, {})
            group[key] = None
            if cookie.secure:
                self._secure_by_name.setdefault(cookie.name, {})[key] = None
            while len(group) > MAX_COOKIES_PER_DOMAIN:
                self._remove(next(iter(group)))  # the oldest of the domain
            while len(self._cookies) > MAX_COOKIES_TOTAL:
                self._remove(next(iter(self._cookies)))  # the oldest of all
        if cookie.expires is not None:
            heapq.heappush(self._expiries, (cookie.expires, cookie.order, key))
            if len(self._expiries) > 2 * len(self._cookies) + _HEAP_SLACK:
                self._expiries = [
                    (c.expires, c.order, k)
                    for k, c in self._cookies.items()
                    if c.expires is not None
                ]
                heapq.heapify(self._expiries)

    def _shadows_secure(self, cookie: _StoredCookie) -> bool:
        """Whether a stored Secure cookie named like `cookie` covers its domain and path."""
        for key in self._secure_by_name.get(cookie.name, ()):
            stored = self._cookies[key]
            if (
                _domain_match(stored.domain, cookie.domain)
                or _domain_match(cookie.domain, stored.domain)
            ) and _path_match(cookie.path, stored.path):
                return True
        return False

    def _forget_secure(self, cookie: _StoredCookie) -> None:
        keys = self._secure_by_name[cookie.name]
        del keys[cookie.key()]
        if not keys:
            del self._secure_by_name[cookie.name]

    def _remove(self, key: _Key) -> None:
        cookie = self._cookies.pop(key)
        by_domain = self._by_domain[cookie.domain]
        del by_domain[key]
        if not by_domain:
            del self._by_domain[cookie.domain]
        group = self._by_group[cookie.group]
        del group[key]
        if not group:
            del self._by_group[cookie.group]
        if cookie.secure:
            self._forget_secure(cookie)

    def _purge_expired(self, now: float) -> None:
        """Evict every expired cookie (RFC 6265 section 5.3: "at any time")."""
        heap = self._expiries
        while heap and heap[0][0] <= now:
            expires, order, key = heapq.heappop(heap)
            cookie = self._cookies.get(key)
            # A stale entry (the cookie was replaced or removed) is dropped unseen.
            if cookie is not None and cookie.order == order and cookie.expires == expires:
                self._remove(key)

    # -- RFC 6265 section 5.4: the Cookie header --------------------------------------------

    def cookie_header_pairs(self, url: str, *, now: float | None = None) -> list[tuple[str, str]]:
        """The (name, value) pairs of the ``Cookie`` header for a request to `url`.

        In RFC 6265 section 5.4 order: longer paths first, then older cookies. ``Secure``
        cookies only over https; expired ones are dropped from the jar.

        >>> jar = CookieJar()
        >>> jar.extract("http://example.com/", ["a=1", "b=2; Path=/docs"])
        >>> jar.cookie_header_pairs("http://example.com/docs/x?q=1")
        [('b', '2'), ('a', '1')]
        """
        if not self._cookies:
            return []  # an empty jar: nothing to match or purge (most clients, most calls)
        if now is None:
            now = time.time()
        secure_scheme, host, path = _split_url(url)
        # The domains whose cookies may apply: the host, and its parents for a name.
        domains = [host]
        if not _is_ip(host):
            labels = host.split(".")
            domains += [".".join(labels[i:]) for i in range(1, len(labels))]
        with self._lock:
            self._purge_expired(now)
            chosen = [
                cookie
                for domain in domains
                for cookie in (self._cookies[key] for key in self._by_domain.get(domain, ()))
                if (not cookie.host_only or domain == host)
                and (secure_scheme or not cookie.secure)
                and _path_match(path, cookie.path)
            ]
            chosen.sort(key=lambda c: (-len(c.path), c.creation, c.order))
            for cookie in chosen:
                cookie.last_access = now
            return [(cookie.name, cookie.value) for cookie in chosen]

    # -- the public view (api.md section 10, amendment 4.1) ---------------------------------

    def __iter__(self) -> Iterator[http.cookiejar.Cookie]:
        """A snapshot of the live cookies, oldest first, as ``http.cookiejar.Cookie``.

        A Domain cookie's ``domain`` has a leading dot and ``domain_specified`` set, a
        host-only one is the bare host, as the stdlib stores them; ``expires`` is whole
        seconds since the epoch or None; ``HttpOnly`` and ``SameSite`` are in ``_rest``.
        """
        with self._lock:
            self._purge_expired(time.time())
            snapshot = list(self._cookies.values())
        return iter([cookie.to_cookiejar() for cookie in snapshot])

    def __len__(self) -> int:
        with self._lock:
            self._purge_expired(time.time())
            return len(self._cookies)

    def __repr__(self) -> str:
        return f"<CookieJar[{len(self)} cookies]>"

    def get(self, name: str, domain: str | None = None, path: str | None = None) -> str | None:
        """The value of the cookie `name`, or None; several matches -> ``CookieConflict``.

        `domain` matches the cookie's domain exactly (host-only or not; case, leading and
        trailing dots ignored), `path` its path exactly.

        >>> jar = CookieJar()
        >>> jar.extract("http://a.example/", ["id=1"])
        >>> jar.extract("http://b.example/", ["id=2"])
        >>> jar.get("id", domain="b.example"), jar.get("missing")
        ('2', None)
        """
        wanted = None if domain is None else _lookup_domain(domain)
        if domain is not None and wanted is None:
            return None
        with self._lock:
            self._purge_expired(time.time())
            found = [
                cookie
                for cookie in self._cookies.values()
                if cookie.name == name
                and (wanted is None or cookie.domain == wanted)
                and (path is None or cookie.path == path)
            ]
        if len(found) > 1:
            where = ", ".join(f"{c.domain}{c.path}" for c in found)
            raise CookieConflict(
                f"Multiple cookies exist with name={name!r} ({where}); "
                "pass domain= or path= to choose one"
            )
        return found[0].value if found else None

    def clear(self, domain: str | None = None) -> None:
        """Remove every cookie, or those whose domain is `domain` (not its subdomains').

        >>> jar = CookieJar()
        >>> jar.extract("http://a.example/", ["id=1"])
        >>> jar.clear("A.example."); len(jar)
        0
        """
        with self._lock:
            if domain is None:
                self._cookies.clear()
                self._by_domain.clear()
                self._by_group.clear()
                self._secure_by_name.clear()
                self._expiries.clear()
                return
            wanted = _lookup_domain(domain)
            if wanted is None:
                return
            for key in list(self._by_domain.get(wanted, ())):
                self._remove(key)
