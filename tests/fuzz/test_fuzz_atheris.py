"""Runs ``atheris_urls.py`` (coverage-guided FZ-01 and head parser) for the fuzz budget.

atheris is the ``fuzz`` extra (pyproject.toml), which ``make fuzz`` installs where its wheels
exist (CPython 3.11-3.13, Linux x86_64); elsewhere this harness is skipped and the hypothesis
ones run alone. Crash inputs go to pytest's tmp_path, never into the work tree.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz._harness import FUZZ_SECONDS, FUZZ_TIMEOUT_SECONDS

pytestmark = pytest.mark.fuzz

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("atheris_urls.py")
# Startup, and libFuzzer's own shutdown, on top of -max_total_time.
SLACK_SECONDS = 60
MIN_EXECS = 10_000


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
def test_atheris_urls_and_head_parser(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            f"-max_total_time={int(FUZZ_SECONDS)}",
            f"-artifact_prefix={tmp_path}/",
            "-print_final_stats=1",
            str(corpus),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + SLACK_SECONDS,
    )
    output = proc.stdout + proc.stderr
    execs = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
    crashes = sorted(p.name for p in tmp_path.glob("crash-*"))
    print(
        f"\n[atheris FZ-01 + head parser] {execs.group(1) if execs else '?'} execs, "
        f"{len(list(corpus.iterdir()))} corpus inputs, crashes: {crashes or 'none'}"
    )
    assert proc.returncode == 0 and not crashes, output[-6000:]
    assert execs is not None and int(execs.group(1)) >= MIN_EXECS
