"""Regenerate httpr/_psl.dat from Debian's copy of the Public Suffix List (``make update-psl``).

httpr ships a dated snapshot of the list (amendment 3.9, design.md section 8) instead of
asking libcurl's libpsl, whose presence and age vary by system. The source is the file of
Debian's ``publicsuffix`` package; the Makefile installs it when it is missing.

The snapshot keeps every rule, private domains included (browsers use them too), drops
comments and blank lines to save space, and writes each rule in ASCII: a Unicode label
becomes its A-label (``xn--`` + RFC 3492 Punycode), so the jar never converts the list at
run time. The ICANN/PRIVATE section markers stay. Stdlib only: it runs before the venv
exists.

    python scripts/update_psl.py [--source FILE] [--output FILE]
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import unicodedata

DEFAULT_SOURCE = "/usr/share/publicsuffix/public_suffix_list.dat"
DEFAULT_OUTPUT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "httpr", "_psl.dat"
)
DEBIAN_PACKAGE = "publicsuffix"

# The MPL 2.0 Exhibit A notice of the list, on one line: the license requires it to stay.
LICENSE_LINE = (
    "// This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0. "
    "If a copy of the MPL was not distributed with this file, You can obtain one at "
    "https://mozilla.org/MPL/2.0/."
)
# The list's section markers; httpr does not tell the sections apart, but a reader may.
SECTION_MARKER = re.compile(r"// ===(BEGIN|END) (ICANN|PRIVATE) DOMAINS===")
# A rule after conversion: optional "!" (exception) or "*." (wildcard, leftmost only, as
# publicsuffix.org/list/ defines), then LDH labels (underscore is not in the list today but
# would be harmless).
ASCII_RULE = re.compile(r"(?:!|\*\.)?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
# Debian versions look like 20230209.2326-1: the list's date, then the time of the pull.
VERSION_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def to_ascii_label(label: str) -> str:
    """One rule label in ASCII: lowercase, and the A-label of a Unicode label.

    >>> to_ascii_label("中国")
    'xn--fiqs8s'
    """
    label = unicodedata.normalize("NFC", label).lower()
    if label.isascii():
        return label
    return "xn--" + label.encode("punycode").decode("ascii")


def to_ascii_rule(rule: str) -> str:
    """A whole rule in ASCII, keeping its ``!`` or ``*.`` prefix."""
    prefix = "!" if rule.startswith("!") else ""
    labels = rule[len(prefix) :].split(".")
    return prefix + ".".join(label if label == "*" else to_ascii_label(label) for label in labels)


def convert(text: str) -> list[str]:
    """The snapshot's rule and marker lines, in the source's order, without duplicates."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("//"):
            if SECTION_MARKER.fullmatch(line):
                out.append(line)
            continue
        # publicsuffix.org/list/: a rule is the line up to the first whitespace.
        rule = to_ascii_rule(line.split()[0])
        if not ASCII_RULE.fullmatch(rule):
            raise ValueError(f"unexpected rule {line!r} (converted: {rule!r})")
        if rule not in seen:
            seen.add(rule)
            out.append(rule)
    return out


def debian_version() -> str | None:
    """The installed version of Debian's publicsuffix package, or None without dpkg."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", DEBIAN_PACKAGE],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    version = result.stdout.strip()
    return version if result.returncode == 0 and version else None


def snapshot_date(version: str | None, source: str) -> str:
    """The list's date: from the package version when it carries one, else the file's mtime."""
    match = VERSION_DATE.match(version or "")
    if match:
        year, month, day = (int(part) for part in match.groups())
        return datetime.date(year, month, day).isoformat()
    mtime = os.stat(source).st_mtime
    return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).date().isoformat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="the Public Suffix List file")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="the snapshot to write")
    args = parser.parse_args(argv)

    with open(args.source, encoding="utf-8") as f:
        rules = convert(f.read())
    version = debian_version()
    header = (
        f"// httpr snapshot of the Public Suffix List, {snapshot_date(version, args.source)}, "
        f"from Debian {DEBIAN_PACKAGE} {version or 'unknown'}; refreshed by make update-psl"
    )
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join([header, LICENSE_LINE, *rules]) + "\n")
    os.replace(tmp, args.output)
    count = sum(1 for rule in rules if not rule.startswith("//"))
    print(f"update-psl: wrote {count} rules to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
