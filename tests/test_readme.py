"""The README's examples run, and print what the README says they print.

Every fenced ``python`` block and every fenced ``sh`` block of README.md is run here, in a
fresh process, against the test server (tests/servers/app.py): the README writes its server as
``http://127.0.0.1:8000``, which is replaced by the server's real address. A ``text`` block
right after a code block (nothing but blank lines between) is what that code prints on stdout,
with the server's address written back as ``http://127.0.0.1:8000``. ``python`` blocks run as
scripts with this interpreter; ``sh`` blocks with bash, this interpreter's ``bin/`` first on
PATH (so ``python`` and ``httpr`` are this install). Blocks of other languages (``bash`` for
installation commands, which need root and the network) are not run.

The ``## Examples`` section is skipped: it describes the programs in examples/, which run
against their own servers in the scenario suite (issue 11).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import environ_keys_to_clear
from tests.servers.app import TestServer

README = Path(__file__).absolute().parents[1] / "README.md"
DOC_BASE = "http://127.0.0.1:8000"
RUN_LANGUAGES = ("python", "sh")
SKIPPED_SECTIONS = ("## Examples",)
RUN_TIMEOUT = 30.0

_FENCE_RE = re.compile(r"^```([\w+-]*)[ \t]*$")


class Block(NamedTuple):
    language: str
    code: str
    line: int  # 1-based line of the opening fence
    section: str  # the enclosing "## " heading
    expected: str | None  # the text block that follows, if any


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of `text`, each with the ``text`` block that follows it, if any."""
    lines = text.splitlines()
    raw: list[tuple[str, str, int, str, int]] = []  # language, code, start, section, end
    section = ""
    i = 0
    while i < len(lines):
        if lines[i].startswith("## "):
            section = lines[i].strip()
        match = _FENCE_RE.match(lines[i])
        if match:
            start = i
            i += 1
            body: list[str] = []
            while i < len(lines) and lines[i].rstrip() != "```":
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"README.md:{start + 1}: unclosed code block"
            raw.append((match.group(1), "\n".join(body) + "\n", start + 1, section, i))
        i += 1

    blocks = []
    for n, (language, code, start, section, end) in enumerate(raw):
        expected = None
        if n + 1 < len(raw) and raw[n + 1][0] == "text":
            follower_start = raw[n + 1][2] - 1
            if all(not line.strip() for line in lines[end + 1 : follower_start]):
                expected = raw[n + 1][1]
        blocks.append(Block(language, code, start, section, expected))
    return blocks


def runnable_blocks() -> list[Block]:
    return [
        b
        for b in readme_blocks(README.read_text(encoding="utf-8"))
        if b.language in RUN_LANGUAGES and b.section not in SKIPPED_SECTIONS
    ]


def test_readme_has_runnable_examples() -> None:
    blocks = runnable_blocks()
    # Sync, errors, async, streaming and the CLI probe at least: losing one would go unnoticed.
    assert sum(b.language == "python" for b in blocks) >= 4, blocks
    assert any(b.language == "sh" for b in blocks), blocks
    offline = [b.line for b in blocks if DOC_BASE not in b.code]
    assert not offline, f"blocks that do not use the test server: lines {offline}"


def test_block_parser_pairs_outputs() -> None:
    text = (
        "## A\n```python\nprint(1)\n```\n\n```text\n1\n```\n"
        "```sh\necho x\n```\nprose\n```text\nnot output\n```\n"
        "## Examples\n```python\nraise SystemExit(1)\n```\n"
    )
    blocks = readme_blocks(text)
    assert [(b.language, b.line, b.section) for b in blocks] == [
        ("python", 2, "## A"),
        ("text", 6, "## A"),
        ("sh", 9, "## A"),
        ("text", 13, "## A"),
        ("python", 17, "## Examples"),
    ]
    assert blocks[0].code == "print(1)\n" and blocks[0].expected == "1\n"
    assert blocks[2].expected is None  # prose between: not its output


def subprocess_env() -> dict[str, str]:
    """This environment without proxy, CA or HTTPR_* settings, this interpreter first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in environ_keys_to_clear(os.environ)}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONSTARTUP", None)
    return env


@pytest.mark.parametrize("block", runnable_blocks(), ids=lambda b: f"{b.language}-line{b.line}")
def test_readme_block_runs(block: Block, server: TestServer, tmp_path: Path) -> None:
    code = block.code.replace(DOC_BASE, server.url)
    if block.language == "python":
        argv = [sys.executable, "-c", code]
    else:
        argv = ["bash", "-c", code]
    proc = subprocess.run(
        argv,
        cwd=tmp_path,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    where = f"README.md:{block.line}"
    assert proc.returncode == 0, f"{where} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stderr == "", f"{where} wrote to stderr:\n{proc.stderr}"
    if block.expected is not None:
        assert proc.stdout.replace(server.url, DOC_BASE) == block.expected, where
