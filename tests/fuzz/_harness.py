"""The time budget shared by the fuzzing harnesses (security.md section 3 "Fuzzing").

A harness is a hypothesis ``@given`` test run in batches until its wall-clock budget is spent
(60 s by default, security.md; ``HTTPR_FUZZ_SECONDS`` overrides it, read once at import).
Each batch is a fresh hypothesis run with its own random seed, so the harness never stops
in the middle of an example and a failure is shrunk and reported by hypothesis as usual.
No example database is written (``database=None``): nothing lands in the work tree.
"""

from __future__ import annotations

import os
import time
from typing import Callable

from hypothesis import HealthCheck, settings

__all__ = ["FUZZ_SECONDS", "Budget", "batch_settings", "run_batches"]

FUZZ_SECONDS = float(os.environ.get("HTTPR_FUZZ_SECONDS", "60"))
# pytest-timeout for a harness: the budget, a last batch and shrinking a failure.
FUZZ_TIMEOUT_SECONDS = int(FUZZ_SECONDS * 2 + 120)


def batch_settings(max_examples: int) -> settings:
    """One batch: no deadline per example (timing is asserted where it matters), no
    database, every health check off (large or slow inputs are the point here)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


class Budget:
    """Counts examples; ``spent`` once the harness's time is up."""

    def __init__(self, name: str, seconds: float = FUZZ_SECONDS) -> None:
        self.name = name
        self.seconds = seconds
        self.start = time.monotonic()
        self.deadline = self.start + seconds
        self.examples = 0
        self.batches = 0
        self.tally: dict[str, int] = {}

    @property
    def spent(self) -> bool:
        return time.monotonic() >= self.deadline

    def count(self, outcome: str) -> None:
        self.examples += 1
        self.tally[outcome] = self.tally.get(outcome, 0) + 1

    def report(self) -> str:
        elapsed = time.monotonic() - self.start
        tally = ", ".join(f"{k}: {v}" for k, v in sorted(self.tally.items()))
        return (
            f"[{self.name}] {self.examples} examples in {self.batches} batches, "
            f"{elapsed:.1f} s ({self.examples / max(elapsed, 1e-9):.0f}/s); {tally}"
        )


def run_batches(budget: Budget, batch: Callable[[], None], min_examples: int) -> None:
    """Runs the ``@given`` test `batch` until the budget is spent, prints the figures, and
    fails if fewer than `min_examples` examples ran (a harness that tests nothing)."""
    while not budget.spent:
        batch()
        budget.batches += 1
    print("\n" + budget.report())
    assert budget.examples >= min_examples, budget.report()
