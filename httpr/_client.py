"""``BaseClient`` (no I/O: validation, merging, request building) and the sync ``Client``.

The policy lives here and the transport only sends one hop (style.md, as httpx does), so
``MockTransport`` exercises everything below without sockets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json as jsonlib
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, Union
from urllib.parse import quote_plus

from ._config import (
    DEFAULT_KEEPALIVE_EXPIRY_S,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_S,
    Timeout,
    TimeoutTypes,
    to_timeout,
)
from ._content import StreamedBody, streamed_body
from ._cookies import CookieJar
from ._env import resolve_ca_file
from ._exceptions import (
    ClientClosed,
    ConnectError,
    ConnectTimeout,
    ReadTimeout,
    RequestError,
    TooManyRedirects,
    UnsupportedProtocol,
)
from ._models import (
    _TOKEN_RE,
    CaseInsensitiveHeaderMap,
    Request,
    Response,
    _checked_field,
    _RequestHeaderMap,
)
from ._policy import (
    REDIRECT_STATUSES,
    basic_auth,
    bearer_auth,
    check_client_pem,
    credentials_survive,
    merge_cookie_pairs,
    redirect_method,
    redirect_target,
    validate_auth,
    validate_bearer,
    validate_cookies,
)
from ._proxies import ProxyConfig
from ._streams import StreamingResponse
from ._transports.base import BaseTransport, Hop
from ._transports.mock import MockTransport
from ._urls import URL, parse_url

if sys.version_info >= (3, 11):
    from typing import Self  # novm
else:  # pragma: no cover - exercised on 3.9/3.10 only
    from typing_extensions import Self

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["BaseClient", "Client", "HeaderTypes", "ParamTypes", "RequestParams"]

HeaderTypes = Union[Mapping[str, str], Sequence[tuple[str, str]]]
PrimitiveData = Union[str, int, float, bool, None]
ParamTypes = Union[
    Mapping[str, Union[PrimitiveData, Sequence[PrimitiveData]]],
    Sequence[tuple[str, Union[PrimitiveData, Sequence[PrimitiveData]]]],
]

RequestHeaderTypes = Union[Mapping[str, Union[str, None]], Sequence[tuple[str, Union[str, None]]]]


class RequestParams(TypedDict, total=False):
    """The per-request keywords of every method, for ``**kwargs`` annotations::

    def fetch(client: httpr.Client, url: str, **kwargs: Unpack[httpr.RequestParams]):
        return client.get(url, **kwargs)
    """

    params: ParamTypes | None
    headers: RequestHeaderTypes | None
    cookies: Mapping[str, str] | None
    content: Any
    data: Any
    json: Any
    files: Any
    auth: tuple[str, str | None] | None
    auth_bearer: str | None
    timeout: TimeoutTypes
    follow_redirects: bool | None


# RFC 9110 section 9.2.2: idempotent methods, whose buffered body libcurl may resend once on
# a dead pooled connection (api.md 13); other bodies are never resent (amendment 2.1).
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# api.md 4.3: these send Content-Length: 0 without a body (as httpx and curl do).
_EMPTY_BODY_LENGTH = frozenset({"POST", "PUT", "PATCH"})


def _not_yet(name: str, issue: int) -> NotImplementedError:
    return NotImplementedError(
        f"httpr: {name!r} is not implemented in this version yet (tracked in issue #{issue})"
    )


# The methods of Client's helpers, accepted as they are (no upper(), no regex per request).
_COMMON_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "POST", "PUT", "PATCH"})


def validate_method(method: object) -> str:
    """Upper-cases a method and checks it is an RFC 9110 token other than CONNECT."""
    if method in _COMMON_METHODS and type(method) is str:
        return method  # already upper-case tokens
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, not {type(method).__name__}")
    # ASCII first: "poſt".upper() is "POST" and "ﬀ".upper() is "FF" (found by fuzzing).
    upper = method.upper() if method.isascii() else ""
    if not _TOKEN_RE.fullmatch(upper) or upper == "CONNECT":
        raise ValueError(
            f"Invalid HTTP method {method!r}: must be an RFC 9110 token other than CONNECT"
        )
    return upper


def validate_headers(
    value: object, param: str, *, allow_none: bool = False
) -> list[tuple[str, str | None]]:
    """Header pairs as given (names spelled as set), validated (R1, api.md 4.2).

    ``allow_none``: a request-level ``None`` value removes that header (api.md 4.2).
    """
    if value is None:
        return []
    if isinstance(value, CaseInsensitiveHeaderMap):
        return list(value._wire_items())
    if isinstance(value, Mapping):
        items: Iterable[Any] = value.items()
    elif isinstance(value, (str, bytes, bytearray, memoryview)) or not isinstance(value, Sequence):
        raise TypeError(
            f"{param} must be a mapping or a sequence of (name, value) pairs, "
            f"not {type(value).__name__}"
        )
    else:
        items = value
    pairs: list[tuple[str, str | None]] = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            # Type and shape only: the item may hold a credential (R14).
            raise TypeError(
                f"{param} pairs must be (name, value) tuples, not {type(item).__name__}"
            )
        name, val = item
        if val is None and allow_none:
            pairs.append((_checked_field(name, "")[0], None))
        else:
            pairs.append(_checked_field(name, val))
    return pairs


def _param_value(key: str, value: object, param: str) -> list[str]:
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for v in value:
            if isinstance(v, (list, tuple)):
                raise TypeError(f"{param}: nested sequence for {key!r} is not allowed")
            out.extend(_param_value(key, v, param))
        return out
    if value is None:
        return [""]
    if value is True:
        return ["true"]
    if value is False:
        return ["false"]
    if isinstance(value, (str, int, float)):
        return [value if isinstance(value, str) else str(value)]
    raise TypeError(
        f"{param}: value for {key!r} must be str, int, float, bool, None or a list of those, "
        f"not {type(value).__name__}"
    )


def encode_pairs(value: object, param: str) -> list[tuple[str, str]]:
    """``params``/``data`` forms as ordered (key, value) pairs (api.md 4.1)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(
            f"{param} must be a mapping or a sequence of pairs, not {type(value).__name__}"
        )
    if hasattr(value, "items"):
        items: Iterable[Any] = value.items()
    elif isinstance(value, Sequence):
        items = value
    else:
        raise TypeError(
            f"{param} must be a mapping or a sequence of pairs, not {type(value).__name__}"
        )
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(f"{param} pairs must be (key, value) tuples, not {item!r}")
        key, val = item
        if not isinstance(key, str):
            raise TypeError(f"{param} keys must be str, not {type(key).__name__}")
        pairs.extend((key, v) for v in _param_value(key, val, param))
    return pairs


def urlencode(pairs: list[tuple[str, str]]) -> str:
    """``application/x-www-form-urlencoded``, UTF-8, space as ``+`` (api.md 4.1)."""
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)


def _check_positive(name: str, value: object, *, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int{' or None' if allow_none else ''}, not {type(value).__name__}"
        )
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


class ClientHeaders(dict):  # type: ignore[type-arg]
    """The live ``client.headers`` view (api.md 2): a ``dict`` with lowercased keys.

    A name set several times shows its values joined with ``", "``. In-place edits are
    validated like the constructor's headers and change what is sent, in the spelling last
    set. The lines themselves live in ``_lines``; requests take a snapshot of them.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]] = (), lock: threading.Lock | None = None):
        super().__init__()
        self._lock = lock or threading.Lock()
        self._lines: tuple[tuple[str, str], ...] = ()
        self._replace(list(pairs))

    # -- internals --

    def _replace(self, lines: list[tuple[str, str]]) -> None:
        joined: dict[str, list[str]] = {}
        for name, value in lines:
            joined.setdefault(name.lower(), []).append(value)
        with self._lock:
            self._lines = tuple(lines)
            dict.clear(self)
            dict.update(self, {k: ", ".join(v) for k, v in joined.items()})

    def _set(self, name: str, value: object) -> None:
        name, text = _checked_field(name, value)
        lower = name.lower()
        self._replace([p for p in self._lines if p[0].lower() != lower] + [(name, text)])

    def _remove(self, name: str) -> None:
        lower = name.lower()
        self._replace([p for p in self._lines if p[0].lower() != lower])

    def _snapshot(self) -> tuple[tuple[str, str], ...]:
        return self._lines  # an immutable tuple, swapped atomically

    @staticmethod
    def _key(name: object) -> object:
        return name.lower() if isinstance(name, str) else name

    # -- the dict API, case-insensitive --

    def __getitem__(self, name: object) -> str:
        return str(dict.__getitem__(self, self._key(name)))

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, self._key(name))

    def get(self, name: object, default: Any = None) -> Any:
        return dict.get(self, self._key(name), default)

    def __setitem__(self, name: str, value: str) -> None:
        self._set(name, value)

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._remove(name)

    def pop(self, name: str, *default: Any) -> Any:
        if name in self:
            value = self[name]
            self._remove(name)
            return value
        if default:
            return default[0]
        raise KeyError(name)

    def popitem(self) -> tuple[str, str]:
        if not self:
            raise KeyError("popitem(): headers are empty")
        name = next(reversed(list(dict.keys(self))))
        return name, self.pop(name)

    def setdefault(self, name: str, default: str = "") -> str:  # type: ignore[override]
        if name not in self:
            self._set(name, default)
        return self[name]

    def update(self, other: Any = (), /, **kwargs: str) -> None:
        for name, value in validate_headers(other, "headers") + list(kwargs.items()):
            self._set(name, value)

    def clear(self) -> None:
        self._replace([])

    def __ior__(self, other: Any) -> ClientHeaders:  # type: ignore[misc]
        self.update(other)
        return self

    def copy(self) -> dict[str, str]:
        return dict(self)

    def __repr__(self) -> str:
        from ._models import CaseInsensitiveHeaderMap as Map

        return repr(Map._from_trusted_pairs(self._lines)).replace(
            "CaseInsensitiveHeaderMap", "Headers", 1
        )


class BaseClient:
    """Everything a client does without I/O: settings, validation, merging, request building."""

    def __init__(
        self,
        auth: tuple[str, str | None] | None = None,
        auth_bearer: str | None = None,
        params: ParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: Mapping[str, str] | None = None,
        cookie_store: bool | None = True,
        referer: bool | None = True,
        proxy: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT_S,
        follow_redirects: bool | None = True,
        max_redirects: int | None = DEFAULT_MAX_REDIRECTS,
        verify: bool | str | os.PathLike[str] | None = True,
        ca_cert_file: str | os.PathLike[str] | None = None,
        client_pem: str | None = None,
        client_pem_data: bytes | None = None,
        https_only: bool | None = False,
        http2_only: bool | None = False,
        http1_only: bool | None = False,
        *,
        retries: int = 0,
        max_response_size: int | None = None,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
        max_connections_per_host: int | None = None,
        keepalive_expiry: float | None = DEFAULT_KEEPALIVE_EXPIRY_S,
        trust_env: bool = True,
        base_url: str | None = None,
        event_hooks: Mapping[str, Sequence[Any]] | None = None,
        transport: MockTransport | None = None,
    ) -> None:
        if isinstance(retries, bool) or not isinstance(retries, int):
            raise TypeError(f"retries must be an int, not {type(retries).__name__}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self._retries = retries
        self._auth = validate_auth(auth, "auth")
        self._auth_bearer = validate_bearer(auth_bearer, "auth_bearer")
        self._cookies = validate_cookies(cookies, "cookies")
        self._client_pem, self._client_pem_data = check_client_pem(client_pem, client_pem_data)
        self._event_hooks = _check_hooks(event_hooks)
        self._cookie_store = _check_bool(
            "cookie_store", True if cookie_store is None else cookie_store
        )
        self._referer = _check_bool("referer", True if referer is None else referer)
        self._follow_redirects = _check_bool(
            "follow_redirects", True if follow_redirects is None else follow_redirects
        )
        if max_redirects is None:
            max_redirects = DEFAULT_MAX_REDIRECTS
        if isinstance(max_redirects, bool) or not isinstance(max_redirects, int):
            raise TypeError(f"max_redirects must be an int, not {type(max_redirects).__name__}")
        if max_redirects < 0:
            raise ValueError(f"max_redirects must be >= 0, got {max_redirects}")
        self._max_redirects = max_redirects
        self._https_only = _check_bool(
            "https_only", bool(https_only) if https_only is None else https_only
        )
        self._http2_only = _check_bool("http2_only", False if http2_only is None else http2_only)
        self._http1_only = _check_bool("http1_only", False if http1_only is None else http1_only)
        if self._http1_only and self._http2_only:
            raise ValueError("Only one of http1_only or http2_only may be set.")
        self._max_response_size = _check_positive(
            "max_response_size", max_response_size, allow_none=True
        )
        self._max_connections = _check_positive("max_connections", max_connections, allow_none=True)
        self._max_connections_per_host = _check_positive(
            "max_connections_per_host", max_connections_per_host, allow_none=True
        )
        if keepalive_expiry is not None:
            if isinstance(keepalive_expiry, bool) or not isinstance(keepalive_expiry, (int, float)):
                kind = type(keepalive_expiry).__name__
                raise TypeError(f"keepalive_expiry must be a number or None, not {kind}")
            if math.isnan(keepalive_expiry) or keepalive_expiry < 0:
                raise ValueError(f"keepalive_expiry must be >= 0, got {keepalive_expiry}")
        self._keepalive_expiry = keepalive_expiry
        self._trust_env = _check_bool("trust_env", trust_env)
        self._verify, self._ca_file = resolve_ca_file(
            verify, ca_cert_file, trust_env=self._trust_env
        )
        self._proxies = ProxyConfig.from_settings(
            _check_proxy_type(proxy), trust_env=self._trust_env
        )
        self._jar = CookieJar()
        if transport is not None and not isinstance(transport, MockTransport):
            raise TypeError(f"transport must be a MockTransport, not {type(transport).__name__}")

        self._settings_lock = threading.Lock()
        self._timeout_value: TimeoutTypes = timeout
        self._timeout = to_timeout(timeout)
        self._headers = ClientHeaders(validate_headers(headers, "headers"))  # type: ignore[arg-type]
        self._params = encode_pairs(params, "params")
        self._base_url = _check_base_url(base_url)
        self._default_headers = _default_headers()
        self._transport: BaseTransport = transport or self._make_transport()

    def _make_transport(self) -> BaseTransport:
        from ._transports.curl import CurlTransport

        return CurlTransport(
            verify=self._verify,
            ca_file=self._ca_file,
            http1_only=self._http1_only,
            http2_only=self._http2_only,
            max_response_size=self._max_response_size,
            max_connections=self._max_connections,
            max_connections_per_host=self._max_connections_per_host,
            keepalive_expiry=self._keepalive_expiry,
            client_pem=self._client_pem,
            client_pem_data=self._client_pem_data,
        )

    # -- properties --

    @property
    def auth(self) -> tuple[str, str | None] | None:
        """``(user, password)`` for Basic auth on every request, or ``None``.

        Credentials given with a request (``auth``, ``auth_bearer``, a URL's userinfo, an
        ``Authorization`` header) win over it; exactly one ``Authorization`` header is sent.
        """
        return self._auth

    @auth.setter
    def auth(self, value: tuple[str, str | None] | None) -> None:
        checked = validate_auth(value, "auth")
        with self._settings_lock:
            self._auth = checked

    @property
    def auth_bearer(self) -> str | None:
        """A token sent as ``Authorization: Bearer <token>`` on every request, or ``None``."""
        return self._auth_bearer

    @auth_bearer.setter
    def auth_bearer(self, value: str | None) -> None:
        checked = validate_bearer(value, "auth_bearer")
        with self._settings_lock:
            self._auth_bearer = checked

    @property
    def cookies(self) -> dict[str, str]:
        """A copy of the explicit client cookies (never the jar: see ``cookie_jar``)."""
        return dict(self._cookies)

    @cookies.setter
    def cookies(self, value: Mapping[str, str] | None) -> None:
        checked = validate_cookies(value, "cookies")
        with self._settings_lock:
            self._cookies = checked

    @property
    def cookie_jar(self) -> CookieJar:
        """The cookies the server set: iterate it, ``get(name)``, ``clear(domain=None)``.

        Empty with ``cookie_store=False``.
        """
        return self._jar

    @property
    def proxy(self) -> str | None:
        """The explicit proxy, else ``HTTPR_PROXY``, else ``None``.

        The standard ``*_proxy`` variables never show here, though they apply per request.
        """
        return self._proxies.display

    @proxy.setter
    def proxy(self, value: str | None) -> None:
        config = self._proxies.replace_explicit(_check_proxy_type(value))
        with self._settings_lock:
            self._proxies = config

    @property
    def event_hooks(self) -> dict[str, list[Any]]:
        """The live hook lists ``{"request": [...], "response": [...]}``."""
        return self._event_hooks

    @event_hooks.setter
    def event_hooks(self, value: Mapping[str, Sequence[Any]] | None) -> None:
        self._event_hooks = _check_hooks(value)

    @property
    def timeout(self) -> TimeoutTypes:
        """The client timeout as given: a number, a ``Timeout`` or ``None`` (no timeouts)."""
        return self._timeout_value

    @timeout.setter
    def timeout(self, value: TimeoutTypes) -> None:
        timeout = to_timeout(value)
        with self._settings_lock:
            self._timeout_value, self._timeout = value, timeout

    @property
    def headers(self) -> ClientHeaders:
        """Live view of the client headers the user set (defaults are not in it)."""
        return self._headers

    @headers.setter
    def headers(self, value: HeaderTypes | None) -> None:
        self._headers._replace(validate_headers(value, "headers"))  # type: ignore[arg-type]

    @property
    def params(self) -> dict[str, str | list[str]] | None:
        """The client's query parameters; a repeated key shows as a list."""
        with self._settings_lock:
            pairs = self._params
        if not pairs:
            return None
        out: dict[str, str | list[str]] = {}
        for key, value in pairs:
            if key in out:
                prev = out[key]
                out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
            else:
                out[key] = value
        return out

    @params.setter
    def params(self, value: ParamTypes | None) -> None:
        pairs = encode_pairs(value, "params")
        with self._settings_lock:
            self._params = pairs

    @property
    def base_url(self) -> str | None:
        """Prefix for relative request URLs, or ``None``.

        ``base_url="http://h/api"`` with ``client.get("users")`` (or ``"/users"``) requests
        ``http://h/api/users``; an absolute URL ignores it.
        """
        return self._base_url

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        checked = _check_base_url(value)
        with self._settings_lock:
            self._base_url = checked

    @property
    def is_closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    _closed = False

    # -- one call: its hops and the decisions between them (no I/O) --

    def _start_call(
        self,
        method: str,
        url: str,
        *,
        params: ParamTypes | None,
        headers: RequestHeaderTypes | None,
        cookies: Mapping[str, str] | None,
        content: Any,
        data: Any,
        json: Any,
        files: Any,
        auth: tuple[str, str | None] | None,
        auth_bearer: str | None,
        timeout: TimeoutTypes | object,
        follow_redirects: bool | None,
    ) -> _Call:
        """Validates a call and snapshots the client settings it uses (before any I/O)."""
        if self._closed:
            raise ClientClosed("Cannot send a request, as the client has been closed.")
        method = validate_method(method)
        with self._settings_lock:
            client_params, client_timeout, base = self._params, self._timeout, self._base_url
            client_auth, client_bearer = self._auth, self._auth_bearer
            client_cookies, proxies = self._cookies, self._proxies
        parsed = parse_url(_join_base(base, url) if base is not None else url)
        request_auth = validate_auth(auth, "auth")
        request_bearer = validate_bearer(auth_bearer, "auth_bearer")
        request_cookies = validate_cookies(cookies, "cookies")
        request_headers = validate_headers(headers, "headers", allow_none=True)
        body, content_type = _encode_body(content, data, json, files)
        follow = self._follow_redirects
        if follow_redirects is not None:
            follow = _check_bool("follow_redirects", follow_redirects)
        hop_timeout = (
            client_timeout if timeout is _CLIENT or timeout is None else to_timeout(timeout)
        )

        wire = _merge_headers(self._default_headers, self._headers._snapshot(), request_headers)
        names = {k.lower() for k, _ in wire}
        if files is not None and "content-type" in names:
            raise ValueError(
                "headers: Content-Type cannot be set with files (the boundary is httpr's)"
            )
        if content_type is not None and "content-type" not in names:
            wire.append(("Content-Type", content_type))
        # api.md 4.5: exactly one Authorization, by precedence.
        auth_value: str | None = None
        request_has_header = any(k.lower() == "authorization" for k, _ in request_headers)
        if request_auth is not None:
            auth_value = basic_auth(*request_auth)
        elif request_bearer is not None:
            auth_value = bearer_auth(request_bearer)
        elif parsed.username is not None:  # URL userinfo, for this origin only (R11)
            auth_value = basic_auth(parsed.username, parsed.password)
        elif request_has_header:
            pass  # the request's own Authorization header, already in wire
        elif client_auth is not None:
            auth_value = basic_auth(*client_auth)
        elif client_bearer is not None:
            auth_value = bearer_auth(client_bearer)
        if auth_value is not None:
            wire = [p for p in wire if p[0].lower() != "authorization"]
            wire.append(("Authorization", auth_value))
        raw_cookie = proxy_auth = None
        if "cookie" in names or "proxy-authorization" in names:
            raw_cookie = next((v for k, v in wire if k.lower() == "cookie"), None)
            proxy_auth = next((p for p in wire if p[0].lower() == "proxy-authorization"), None)
            wire = [p for p in wire if p[0].lower() not in ("cookie", "proxy-authorization")]
        if "content-length" in names or "transfer-encoding" in names:
            _check_framing(wire, body)
        return _Call(
            method=method,
            url=parsed,
            url_str=_with_params(parsed, client_params, params),
            headers=wire,
            raw_cookie=raw_cookie,
            proxy_auth=proxy_auth,
            client_cookies=client_cookies,
            request_cookies=request_cookies,
            body=body,
            timeout=hop_timeout,
            follow=follow,
            proxies=proxies,
            started=time.monotonic(),
        )

    def _hop(self, call: _Call) -> tuple[Request, Hop]:
        """The request of the call's current hop, with its credentials, cookies and proxy."""
        url = call.url
        if self._https_only and url.scheme != "https":
            raise UnsupportedProtocol(f"https_only is set: refusing {call.method} {call.url_str}")
        headers = call.headers
        if not call.creds_ok:  # R2: no Authorization once the origin changed
            headers = [p for p in headers if p[0].lower() != "authorization"]
        else:
            headers = list(headers)
        if call.raw_cookie is not None:
            if call.creds_ok:  # a raw Cookie header is sent as given, and only to its origin
                headers.append(("Cookie", call.raw_cookie))
        else:
            jar = self._jar.cookie_header_pairs(call.url_str) if self._cookie_store else []
            if not call.creds_ok:
                pairs = jar
            elif jar or call.client_cookies or call.request_cookies:
                pairs = merge_cookie_pairs(jar, call.client_cookies, call.request_cookies)
            else:
                pairs = []
            if pairs:
                headers.append(("Cookie", "; ".join(f"{n}={v}" for n, v in pairs)))
        if call.referer is not None:
            headers.append(("Referer", call.referer))
        proxy = call.proxies.for_url(url.scheme, url.host, url.origin[2])
        proxy_headers: tuple[tuple[str, str], ...] = ()
        if call.proxy_auth is not None:
            if proxy is None:  # amendment 1.6, R3: it would reach the origin
                raise ValueError(
                    "headers: Proxy-Authorization given but no proxy is in use for "
                    f"{call.method} {call.url_str}; it would reach the origin (R3)"
                )
            proxy_headers = (call.proxy_auth,)
        timeout = call.timeout
        if timeout.total is not None:
            left = timeout.total - (time.monotonic() - call.started)
            if left <= 0:
                raise ReadTimeout(
                    f"timed out after {timeout.total:g} s for the whole request (total timeout) "
                    f"for {call.method} {call.url_str}"
                )
            if call.hops or call.attempts:
                timeout = _with_total(timeout, left)
        body = call.body
        streamed = body if isinstance(body, StreamedBody) else None
        send_body = body is not None or call.method in _EMPTY_BODY_LENGTH
        shown = headers
        framing: tuple[str, str] | None = None
        if send_body and not any(k.lower() == "content-length" for k, _ in headers):
            # libcurl adds the framing header; Request.headers shows what was sent (api.md 6).
            if streamed is None:
                framing = ("Content-Length", str(len(body or b"")))  # type: ignore[arg-type]
            elif streamed.length is not None:
                framing = ("Content-Length", str(streamed.length))
            else:
                framing = ("Transfer-Encoding", "chunked")
            shown = [*headers, framing]
        request = Request(
            call.method,
            call.url_str,
            # Built as the editable map Request keeps (hooks may edit it), so it is not copied.
            _RequestHeaderMap._from_trusted_pairs(shown),
            b"" if streamed is not None else (body or b""),  # type: ignore[arg-type]
            stream=streamed is not None,
        )
        hop = Hop._trusted(
            timeout=timeout,
            wire_headers=tuple(headers),
            send_body=send_body,
            replayable=call.method in _IDEMPOTENT and streamed is None,
            proxy=proxy,
            proxy_headers=proxy_headers,
            body_stream=streamed,
            shown_framing=framing,
        )
        return request, hop

    @staticmethod
    def _after_request_hooks(request: Request, hop: Hop, body: bytes | StreamedBody | None) -> Hop:
        """A request hook may change request.headers (amendment 4.8): send what it shows."""
        wire = [p for p in request.headers._wire_items() if p != hop.shown_framing]
        if tuple(wire) == hop.wire_headers:
            return hop
        _check_framing(wire, body)
        return dataclasses.replace(hop, wire_headers=tuple(wire))

    def _received(self, call: _Call, request: Request, response: Response) -> Response:
        """Bookkeeping of every hop's response: request/url, cookies, log (api.md 10, 16)."""
        if response.request is None:  # a MockTransport handler's own Response
            response._request = request
            response._url = request.url
        if self._cookie_store and response.headers._may_contain("set-cookie"):
            set_cookies = response.headers.get_list("set-cookie")
            if set_cookies:
                self._jar.extract(request.url, set_cookies)
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug(
                "%s %s %d %s (%.1f ms)",
                request.method,
                request.url,
                response.status_code,
                response.reason_phrase,
                response.elapsed.total_seconds() * 1000,
            )
        return response

    def _redirect(self, call: _Call, response: Response) -> bool:
        """Moves the call to the redirect's target, or says the response is final (api.md 9)."""
        if not call.follow or response.status_code not in REDIRECT_STATUSES:
            return False
        location = response.headers.get("location")
        if location is None:
            return False
        if call.hops >= self._max_redirects:
            raise TooManyRedirects(
                f"Exceeded the limit of {self._max_redirects} redirects at {call.method} "
                f"{call.url_str}",
                request=response.request,
            )
        target = redirect_target(call.url, location, method=call.method, url=call.url_str)
        method, drop_body = redirect_method(response.status_code, call.method)
        if drop_body:
            call.body = None
            call.headers = [p for p in call.headers if p[0].lower() not in _BODY_HEADERS]
        elif isinstance(call.body, StreamedBody):
            if not call.body.replayable:  # amendment 3.8
                raise RequestError(
                    f"cannot follow the {response.status_code} redirect of {call.method} "
                    f"{call.url_str}: its body (an iterator or unseekable file) cannot be sent "
                    "again",
                    request=response.request,
                )
            call.body.rewind()
        if self._referer and not (call.url.scheme == "https" and target.scheme == "http"):
            call.referer = call.url_str  # never holds userinfo or a fragment (R11)
        else:
            call.referer = None
        call.creds_ok = call.creds_ok and credentials_survive(call.url, target)
        response._history = list(call.history)
        call.history.append(response)
        call.method, call.url, call.url_str = method, target, str(target)
        call.hops += 1
        return True

    def _retry_delay(self, call: _Call, error: Exception) -> float | None:
        """Seconds to wait before retrying a connect failure, or None to raise (api.md 13)."""
        if call.attempts >= self._retries or getattr(error, "_httpr_no_retry", False):
            return None
        if isinstance(call.body, StreamedBody):
            if not call.body.replayable:
                return None  # the body may have been partly taken: never resent (api.md 13)
            call.body.rewind()
        if not isinstance(error, (ConnectError, ConnectTimeout)):
            return None
        call.attempts += 1
        delay: float = min(0.1 * 2 ** (call.attempts - 1), 2.0)
        total = call.timeout.total
        if total is not None and time.monotonic() - call.started + delay >= total:
            return None  # the total timeout bounds all attempts; the last error is raised
        return delay

    @staticmethod
    def _final(call: _Call, response: Response) -> Response:
        response._history = call.history
        return response


@dataclasses.dataclass
class _Call:
    """The state of one call across its hops (redirects) and attempts (retries)."""

    method: str
    url: URL
    url_str: str
    headers: list[tuple[str, str]]
    raw_cookie: str | None
    proxy_auth: tuple[str, str] | None
    client_cookies: list[tuple[str, str]]
    request_cookies: list[tuple[str, str]]
    body: bytes | StreamedBody | None
    timeout: Timeout
    follow: bool
    proxies: ProxyConfig
    started: float
    referer: str | None = None
    creds_ok: bool = True
    hops: int = 0
    attempts: int = 0
    history: list[Response] = dataclasses.field(default_factory=list)


# Dropped with the body when a redirect turns the request into a GET (R5, api.md 9).
_BODY_HEADERS = frozenset(
    {"content-type", "content-length", "transfer-encoding", "content-encoding"}
)
_logger = logging.getLogger("httpr")


def _with_total(timeout: Timeout, total: float) -> Timeout:
    return Timeout(
        timeout.connect,
        connect=timeout.connect,
        read=timeout.read,
        write=timeout.write,
        pool=timeout.pool,
        total=total,
    )


class _ClientDefault:
    """The default of request-level keywords: "use the client's value". Its repr is what
    ``help(Client.request)`` shows for ``timeout``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<the client's value>"


_CLIENT: Any = _ClientDefault()
_REQUEST_KEYWORDS = (
    "params",
    "headers",
    "cookies",
    "content",
    "data",
    "json",
    "files",
    "auth",
    "auth_bearer",
    "timeout",
    "follow_redirects",
)


def _request_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every request keyword with its default, unknown ones refused (as a signature would)."""
    unknown = set(kwargs) - set(_REQUEST_KEYWORDS)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = dict.fromkeys(_REQUEST_KEYWORDS)
    out["timeout"] = _CLIENT
    out.update(kwargs)
    return out


def _check_proxy_type(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"proxy must be a str URL or None, not {type(value).__name__}")
    return value


def _check_hooks(value: object) -> dict[str, list[Any]]:
    """``event_hooks``: only the keys "request" and "response", callables only (api.md 2)."""
    hooks: dict[str, list[Any]] = {"request": [], "response": []}
    if value is None:
        return hooks
    if not isinstance(value, Mapping):
        raise TypeError(f"event_hooks must be a mapping, not {type(value).__name__}")
    for key, funcs in value.items():
        if key not in hooks:
            raise ValueError(f"event_hooks keys are 'request' and 'response', not {key!r}")
        if callable(funcs) or not isinstance(funcs, (list, tuple)):
            raise TypeError(f"event_hooks[{key!r}] must be a list of callables")
        for func in funcs:
            if not callable(func):
                raise TypeError(
                    f"event_hooks[{key!r}] holds a {type(func).__name__}, not a callable"
                )
        hooks[key] = list(funcs)
    return hooks


def _check_base_url(value: object) -> str | None:
    """A base URL, validated as a request URL (api.md 4.6); its query is not kept."""
    if value is None:
        return None
    parsed = parse_url(value)
    path = parsed.target.split("?", 1)[0]
    authority = parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"
    if parsed.username is not None:
        raise ValueError("base_url must not hold credentials")
    return f"{parsed.scheme}://{authority}{path}"


def _is_absolute(url: str) -> bool:
    colon = url.find(":")
    return colon > 0 and url[0].isalpha() and all(c.isalnum() or c in "+-." for c in url[:colon])


def _join_base(base: str, url: object) -> object:
    """``base`` + a relative ``url``, the base path taken as ending in ``/`` (api.md 4.6).

    ``"http://h/api"`` + ``"/users?page=2"`` -> ``"http://h/api/users?page=2"``; an absolute
    URL ignores the base.
    """
    if not isinstance(url, str) or _is_absolute(url) or url.startswith("//"):
        return url
    return base.rstrip("/") + "/" + url.lstrip("/")


def _default_headers() -> list[tuple[str, str]]:
    from . import __version__
    from ._curl import CURL

    return [
        ("User-Agent", f"python-httpr/{__version__}"),
        ("Accept", "*/*"),
        ("Accept-Encoding", ", ".join(CURL.decoders)),
    ]


def _merge_headers(
    defaults: list[tuple[str, str]],
    client: Sequence[tuple[str, str | None]],
    request: list[tuple[str, str | None]],
) -> list[tuple[str, str]]:
    """defaults < client < request, case-insensitively; a request ``None`` removes a name.

    A name set at a level replaces every value of that name from the levels below, in the
    spelling of whoever set it (api.md 4.2).
    """
    if not client and not request:
        return list(defaults)
    overridden = {k.lower() for k, _ in client} | {k.lower() for k, _ in request}
    merged: list[tuple[str, str | None]] = [p for p in defaults if p[0].lower() not in overridden]
    request_names = {k.lower() for k, _ in request}
    merged += [p for p in client if p[0].lower() not in request_names]
    merged += request
    return [(k, v) for k, v in merged if v is not None]


def _with_params(url: URL, client: list[tuple[str, str]], request: ParamTypes | None) -> str:
    request_pairs = encode_pairs(request, "params")
    if request_pairs:
        keys = {k for k, _ in request_pairs}
        pairs = [p for p in client if p[0] not in keys] + request_pairs
    else:
        pairs = client
    text = str(url)
    if not pairs:
        return text
    return f"{text}{'&' if '?' in url.target else '?'}{urlencode(pairs)}"


def _encode_body(
    content: Any, data: Any, json: Any, files: Any = None
) -> tuple[bytes | StreamedBody | None, str | None]:
    if content is None and data is None and json is None and files is None:
        return None, None  # most requests: no body
    given = [
        n
        for n, v in (("content", content), ("data", data), ("json", json), ("files", files))
        if v is not None
    ]
    if given == ["data", "files"]:
        given = ["files"]  # api.md 4.3: data and files combine into one multipart body
    if len(given) > 1:
        raise ValueError(f"Only one request body may be given: got both {given[0]} and {given[1]}")
    if files is not None:
        from ._multipart import encode_multipart

        multipart = encode_multipart(data, files)
        body = StreamedBody(multipart, multipart.content_length, multipart.is_replayable)
        return body, multipart.content_type
    if content is not None:
        if isinstance(content, str):
            return content.encode("utf-8"), None
        if isinstance(content, (bytes, bytearray, memoryview)):
            return bytes(content), None
        if (
            hasattr(content, "read")
            or hasattr(content, "__iter__")
            or hasattr(content, "__aiter__")
        ):
            return streamed_body(content), None
        raise TypeError(
            f"content must be bytes, str, a file or an iterator, not {type(content).__name__}"
        )
    if data is not None:
        if isinstance(data, (str, bytes, bytearray)):
            raise TypeError("data must be a mapping of form fields; use content= for raw bytes/str")
        return urlencode(encode_pairs(data, "data")).encode("ascii"), (
            "application/x-www-form-urlencoded"
        )
    if json is not None:
        try:
            text = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError as e:
            raise ValueError(f"json: {e}") from None
        return text.encode("utf-8"), "application/json"
    return None, None


def _check_framing(wire: Sequence[tuple[str, str]], body: bytes | StreamedBody | None) -> None:
    """Framing is httpr's (api.md 4.2): a user Content-Length must match a known body length
    and declares the length of a streamed one; a user Transfer-Encoding is refused."""
    for name, value in wire:
        lower = name.lower()
        if lower == "transfer-encoding":
            raise ValueError("headers: Transfer-Encoding is set by httpr, not by the caller")
        if lower != "content-length":
            continue
        if isinstance(body, StreamedBody):
            if not value.isdigit() or not value.isascii():
                raise ValueError(f"headers: Content-Length {value!r} is not a length")
            if body.length is not None and body.length != int(value):
                known = body.length
                raise ValueError(f"headers: Content-Length {value!r} does not match {known} bytes")
            body.length = int(value)  # declares the length of an iterator body
        elif body is None or value != str(len(body)):
            size = "no body" if body is None else f"a body of {len(body)} bytes"
            raise ValueError(f"headers: Content-Length {value!r} does not match {size}")


class Client(BaseClient):
    """A synchronous HTTP client with a connection pool, safe to share between threads.

    >>> with httpr.Client(timeout=5.0) as client:
    ...     r = client.get("http://127.0.0.1:8000/")
    ...     r.status_code, r.headers["content-type"]

    One client keeps one connection pool, cookie jar and C engine thread (started at the
    first request); reuse it rather than making one per request. Every argument is checked
    here, before any I/O: a wrong type raises ``TypeError``, a bad value ``ValueError``,
    each naming the parameter.

    The first 18 parameters keep httpr 0.7.8's names, order and defaults (``None`` there
    means "the default", except for ``timeout``):

    - ``auth``: ``(user, password)`` for Basic auth; ``auth_bearer``: a Bearer token.
    - ``params``, ``headers``, ``cookies``: sent with every request. ``headers`` is a
      mapping or a sequence of ``(name, value)`` pairs; names keep their case on HTTP/1.1.
    - ``cookie_store`` (``True``): keep an RFC 6265 cookie jar (``cookie_jar``).
    - ``referer`` (``True``): send ``Referer`` on followed redirects.
    - ``proxy``: ``http://``, ``https://``, ``socks4(a)://`` or ``socks5(h)://`` URL for
      every request; otherwise ``HTTPR_PROXY`` or the ``*_proxy``/``NO_PROXY`` variables.
    - ``timeout`` (``30.0``): seconds per phase, a ``Timeout``, or ``None`` for none.
    - ``follow_redirects`` (``True``), ``max_redirects`` (``20``).
    - ``verify`` (``True``): check certificates; ``False`` to skip, or a CA bundle path.
    - ``ca_cert_file``: a PEM bundle that replaces the default trust store.
    - ``client_pem`` / ``client_pem_data``: client certificate and key (path / bytes).
    - ``https_only``: refuse ``http://``; ``http2_only`` / ``http1_only``: fix the version
      (by default ``https://`` negotiates HTTP/2, ``http://`` uses HTTP/1.1).

    Keyword-only: ``retries`` (extra attempts after a connect failure), ``max_response_size``
    (cap on decoded body bytes, ``ResponseTooLarge`` beyond), ``max_connections`` (``100``),
    ``max_connections_per_host``, ``keepalive_expiry`` (``60.0`` s), ``trust_env`` (read
    ``HTTPR_*`` and proxy variables, once, here), ``base_url`` (prefix for relative URLs),
    ``event_hooks`` (``{"request": [f], "response": [g]}``) and ``transport``
    (``MockTransport`` for tests).

    ``close()`` (or leaving the ``with`` block) lets transfers in flight finish and refuses
    new ones with ``ClientClosed``.
    """

    def request(
        self,
        method: str,
        url: str,
        *,
        params: ParamTypes | None = None,
        headers: RequestHeaderTypes | None = None,
        cookies: Mapping[str, str] | None = None,
        content: Any = None,
        data: Any = None,
        json: Any = None,
        files: Any = None,
        auth: tuple[str, str | None] | None = None,
        auth_bearer: str | None = None,
        timeout: TimeoutTypes | object = _CLIENT,
        follow_redirects: bool | None = None,
    ) -> Response:
        """Sends one request and returns its response with the body read and decoded.

        ``method`` is any HTTP token (upper-cased); ``url`` a ``str``, absolute or relative
        to ``base_url``. Keywords, each for this request only:

        - ``params``: query parameters (mapping or pairs), added to the URL's own query.
        - ``headers``: merged over the client's; a value of ``None`` removes that header.
        - ``cookies``: explicit cookies, merged with the client's and the jar's.
        - the body, at most one of ``content`` (bytes, str, an iterator or a file),
          ``data`` (form fields), ``json``, ``files`` (multipart; combines with ``data``).
        - ``auth`` / ``auth_bearer``: replace the client's credentials.
        - ``timeout``: replaces the client's (``None``: the client's value).
        - ``follow_redirects``: replaces the client's (``None``: the client's value).

        >>> r = client.request("POST", "http://127.0.0.1:8000/items", json={"name": "a"})
        >>> r.raise_for_status().json()

        Bad arguments raise ``TypeError`` / ``ValueError`` before I/O; failures raise a
        subclass of ``httpr.RequestError``. A non-2xx status is returned, not raised: see
        ``Response.raise_for_status()``.
        """
        call = self._start_call(
            method,
            url,
            params=params,
            headers=headers,
            cookies=cookies,
            content=content,
            data=data,
            json=json,
            files=files,
            auth=auth,
            auth_bearer=auth_bearer,
            timeout=timeout,
            follow_redirects=follow_redirects,
        )
        return self._run(call, stream=False)

    @contextlib.contextmanager
    def stream(
        self, method: str, url: str, **kwargs: Unpack[RequestParams]
    ) -> Iterator[StreamingResponse]:
        """Sends a request and yields its response once the final head is in; the body is
        read on demand and the stream is closed when the block exits.

        >>> with client.stream("GET", url) as r:
        ...     for chunk in r.iter_bytes():
        ...         ...
        """
        response = self._open_stream(method, url, **kwargs)
        try:
            yield response
        finally:
            response.close()

    def _open_stream(self, method: str, url: str, **kwargs: Any) -> StreamingResponse:
        call = self._start_call(method, url, **_request_kwargs(kwargs))
        response = self._run(call, stream=True)
        assert isinstance(response, StreamingResponse)
        return response

    def _run(self, call: _Call, *, stream: bool) -> Response:
        """The I/O loop of one call: hooks, retries, redirects (the policy is BaseClient's).
        For a stream, each hop's body is read on demand; a hop that is followed is read
        (under the size cap) and closed."""
        hooks = self._event_hooks
        while True:
            request, hop = self._hop(call)
            if hooks["request"]:
                for hook in hooks["request"]:
                    hook(request)
                hop = self._after_request_hooks(request, hop, call.body)
            while True:
                try:
                    response = self._send_hop(request, hop, stream)
                    break
                except (ConnectError, ConnectTimeout) as error:
                    delay = self._retry_delay(call, error)
                    if delay is None:
                        raise
                    time.sleep(delay)
                    request, hop = self._hop(call)
            try:
                self._received(call, request, response)
                for hook in hooks["response"]:
                    hook(response)
                follow = self._redirect(call, response)
            except BaseException:
                if isinstance(response, StreamingResponse):
                    response.close()
                raise
            if not follow:
                return self._final(call, response)
            if isinstance(response, StreamingResponse):
                try:
                    response.read()
                finally:
                    response.close()

    def _send_hop(self, request: Request, hop: Hop, stream: bool) -> Response:
        if not stream:
            return self._transport.handle_request(request, hop)
        head, source = self._transport.open_stream(request, hop)
        response: StreamingResponse = StreamingResponse._from_head(head, source)
        return response

    def get(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``request("GET", url, ...)``."""
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``request("HEAD", url, ...)``: the response's ``content`` is ``b""``."""
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``request("OPTIONS", url, ...)``."""
        return self.request("OPTIONS", url, **kwargs)

    def delete(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``request("DELETE", url, ...)``."""
        return self.request("DELETE", url, **kwargs)

    def post(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``request("POST", url, ...)``; without a body it sends ``Content-Length: 0``."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``request("PUT", url, ...)``."""
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Unpack[RequestParams]) -> Response:
        """``request("PATCH", url, ...)``."""
        return self.request("PATCH", url, **kwargs)

    def close(self) -> None:
        """Refuses new requests; those in flight finish, then the pool is released.

        Idempotent. The client is never reopened: later requests raise ``ClientClosed``.
        """
        self._closed = True
        self._transport.close()

    def __enter__(self) -> Self:
        """Returns the client itself: ``with httpr.Client() as client: ...``."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Calls ``close()``."""
        self.close()
