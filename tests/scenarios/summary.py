"""The last line of ``make scenarios``: ``scenarios: N passed, M failed`` (issue 11).

    python -m tests.scenarios.summary REPORT.xml PYTEST_EXIT_CODE

Reads pytest's JUnit XML report. Failed counts failures and errors (collection errors too);
skipped and xfailed tests count in neither. A pytest run that ended badly without any
failure in its report (it crashed, was interrupted, collected nothing) counts as one
failure, so the line never says "0 failed" of a run that did not pass. Exits 1 when M > 0.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def counts(report: str) -> tuple[int, int]:
    """(passed, failed) from a JUnit XML report; (0, 0) when it is missing or unreadable."""
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError):
        return 0, 0
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    passed = failed = 0
    for suite in suites:
        tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        passed += tests - skipped - bad
        failed += bad
    return passed, failed


def main(argv: list[str]) -> int:
    report, exit_code = argv[0], int(argv[1])
    passed, failed = counts(report)
    if exit_code != 0 and failed == 0:
        failed = 1
    print(f"scenarios: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
