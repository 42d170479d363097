"""atheris (libFuzzer, coverage-guided) entry point for FZ-01 and the response head parser.

    .venv/bin/python tests/fuzz/atheris_urls.py -max_total_time=60 -artifact_prefix=/tmp/

The first input byte picks the target; the rest is the input:

- even: ``parse_url`` on the rest decoded as text, with every FZ-01 invariant of
  ``test_fuzz_urls.check_url`` (exactly InvalidURL / UnsupportedProtocol, ASCII output,
  round trip, the cookie jar's view of the host); the known bugs pinned there are tallied,
  not reported;
- odd: ``CaseInsensitiveHeaderMap._from_raw_head`` on the raw bytes: a result or
  ``ValueError``, nothing else.

Any other exception is a finding: libFuzzer stops and writes the input to
``<artifact_prefix>crash-*``. ``test_fuzz_atheris.py`` runs this for the fuzz budget.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

atheris: Any = importlib.import_module("atheris")

with atheris.instrument_imports():
    import httpr._cookies
    import httpr._models
    import httpr._urls

from tests.fuzz.test_fuzz_urls import check_url  # noqa: E402 - after instrumentation

_from_raw_head = httpr._models.CaseInsensitiveHeaderMap._from_raw_head


def test_one_input(data: bytes) -> None:
    if not data:
        return
    if data[0] % 2 == 0:
        check_url(_text(data[1:]))
    else:
        try:
            version, status, headers = _from_raw_head(data[1:])
        except ValueError:
            return
        assert isinstance(version, str) and 0 <= status <= 999
        headers.multi_items()


def _text(raw: bytes) -> str:
    """Bytes as text: UTF-8, and each byte that is not becomes a lone surrogate (which a
    str can hold, and which parse_url must refuse cleanly)."""
    return raw.decode("utf-8", "surrogateescape")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
