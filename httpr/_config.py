"""Defaults, named limits and ``Timeout``.

Every limit has its unit in its name and a comment on where it comes from (style.md).
"""

from __future__ import annotations

import math
from typing import Any, Union

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_KEEPALIVE_EXPIRY_S",
    "DEFAULT_MAX_REDIRECTS",
    "MAX_URL_CHARS",
    "Timeout",
    "TimeoutTypes",
]

# api.md section 2: 0.7.8's default, kept.
DEFAULT_TIMEOUT_S = 30.0
# api.md section 2: open connections per client.
DEFAULT_MAX_CONNECTIONS = 100
# api.md section 2: idle pooled connections older than this are not reused.
DEFAULT_KEEPALIVE_EXPIRY_S = 60.0
# api.md section 2: 0.7.8's default.
DEFAULT_MAX_REDIRECTS = 20
# R13 / api.md section 4.6: longer URLs are refused before parsing.
MAX_URL_CHARS = 65_536


class _Unset:
    """The marker of a keyword not given (``None`` means "no limit" for timeouts)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def _seconds(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"Timeout {name} must be a number of seconds or None, not {type(value).__name__}"
        )
    seconds = float(value)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"Timeout {name} must be a non-negative number of seconds, got {value!r}")
    return seconds


class Timeout:
    """Timeouts by phase: ``connect``, ``read``, ``write``, ``pool`` and ``total``.

    ``timeout`` is the value of every phase not given by keyword; ``total`` bounds the whole
    call and is off unless given. ``None`` means no limit; ``0`` expires at once.

    >>> Timeout(5.0, read=0.5)
    Timeout(connect=5.0, read=0.5, write=5.0, pool=5.0, total=None)
    """

    __slots__ = ("_connect", "_read", "_write", "_pool", "_total")

    def __init__(
        self,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        *,
        connect: float | None = UNSET,
        read: float | None = UNSET,
        write: float | None = UNSET,
        pool: float | None = UNSET,
        total: float | None = None,
    ) -> None:
        default = _seconds("timeout", timeout)
        self._connect = default if connect is UNSET else _seconds("connect", connect)
        self._read = default if read is UNSET else _seconds("read", read)
        self._write = default if write is UNSET else _seconds("write", write)
        self._pool = default if pool is UNSET else _seconds("pool", pool)
        self._total = _seconds("total", total)

    @property
    def connect(self) -> float | None:
        """DNS, TCP, proxy and TLS handshake of a new connection (``ConnectTimeout``)."""
        return self._connect

    @property
    def read(self) -> float | None:
        """Each wait for a response byte, the head included (``ReadTimeout``)."""
        return self._read

    @property
    def write(self) -> float | None:
        """Each gap in which no request-body byte could be sent (``WriteTimeout``)."""
        return self._write

    @property
    def pool(self) -> float | None:
        """The wait for a concurrency or connection slot (``PoolTimeout``)."""
        return self._pool

    @property
    def total(self) -> float | None:
        """The whole call, every hop and retry (``ReadTimeout``)."""
        return self._total

    def _key(self) -> tuple[float | None, ...]:
        return (self._connect, self._read, self._write, self._pool, self._total)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timeout):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Timeout(connect={self._connect}, read={self._read}, write={self._write}, "
            f"pool={self._pool}, total={self._total})"
        )


TimeoutTypes = Union[float, int, Timeout, None]

NO_TIMEOUT = Timeout(None)


def to_timeout(value: object, *, name: str = "timeout") -> Timeout:
    """A client- or request-level ``timeout`` argument as a ``Timeout`` (api.md section 5).

    ``None`` is "no timeouts at all" here (amendment 1.1); a request-level ``None`` means the
    client's value and is resolved by the caller before this.
    """
    if isinstance(value, Timeout):
        return value
    if value is None:
        return NO_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be a number of seconds, a Timeout or None, not {type(value).__name__}"
        )
    return Timeout(value)
