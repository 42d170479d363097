"""The distributions: ``python -m build`` makes an sdist and a wheel, and the sdist installs.

A copy of the source tree (without build products, virtualenvs or git) is built in a temporary
directory with ``python -m build``, which builds the sdist, then the wheel from the unpacked
sdist, each in an isolated environment (``setuptools>=77`` and ``cffi`` from the package
index). So a file the build needs but ``MANIFEST.in`` leaves out fails here. Then the sdist
is installed with pip into a fresh virtualenv, as a user would, compiling the extension
against the system libcurl, and that install makes real requests to a server on 127.0.0.1.

These are the only tests that reach beyond loopback: pip fetches the build requirements and
httpr's dependencies from the package index this machine's pip is configured for (nothing
else is contacted; the requests under test go to 127.0.0.1 only).
"""

from __future__ import annotations

import email.parser
import email.policy
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.servers.app import TestServer

ROOT = Path(__file__).absolute().parents[2]
VERSION = importlib.metadata.version("httpr")
# Builds and installs compile the extension: a minute or two on a loaded 2-core machine.
BUILD_TIMEOUT = 480.0
RUN_TIMEOUT = 60.0
VERSION_RE = re.compile(r"^httpr \S+ \(libcurl \d+\.\d+\.\d+\S*\)\n\Z")

# Top-level names never copied into the build tree, and names skipped at any depth: what a
# fresh clone does not have either (.gitignore), so the build sees a clean checkout.
TOP_LEVEL_SKIPPED = {".git", ".venv", ".venv-asan", "build", "dist"}
SKIPPED_PATTERNS = (
    "__pycache__",
    "*.egg-info",
    "*.so",
    "*.o",
    "_ffi.c",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)


class Dists(NamedTuple):
    source: Path  # the copy of the tree that was built
    sdist: Path
    wheel: Path


def subprocess_env() -> dict[str, str]:
    """The environment for pip and the fresh interpreter: nothing pointing at this tree."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(key, None)
    return env


def run_checked(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `argv`, failing the test with its output if it exits non-zero."""
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    shown = " ".join(arg if len(arg) < 200 else arg[:40] + "..." for arg in argv)
    assert proc.returncode == 0, (
        f"{shown} exited {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
    )
    return proc


def copy_tree(dest: Path) -> Path:
    """Copy the working tree to `dest`, leaving out build products and virtualenvs."""
    pattern_ignore = shutil.ignore_patterns(*SKIPPED_PATTERNS)

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set(pattern_ignore(directory, names))
        if Path(directory) == ROOT:
            skipped |= TOP_LEVEL_SKIPPED & set(names)
        return skipped

    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    return dest


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """The sdist and wheel that ``python -m build`` makes from a clean copy of the tree."""
    base = tmp_path_factory.mktemp("dist-build")
    source = copy_tree(base / "src")
    outdir = base / "dist"
    run_checked(
        [sys.executable, "-m", "build", "--outdir", str(outdir), str(source)],
        cwd=base,
        timeout=BUILD_TIMEOUT,
    )
    sdists = sorted(outdir.glob("httpr-*.tar.gz"))
    wheels = sorted(outdir.glob("httpr-*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in outdir.iterdir())
    return Dists(source, sdists[0], wheels[0])


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(f"httpr-{VERSION}.dist-info/METADATA")
    return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)


# -- the wheel ---------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_dists_are_named_after_the_version(dists: Dists) -> None:
    assert dists.sdist.name == f"httpr-{VERSION}.tar.gz"
    assert dists.wheel.name.startswith(f"httpr-{VERSION}-")


@pytest.mark.timeout(600)
def test_wheel_carries_the_package_and_nothing_else(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as zf:
        names = set(zf.namelist())
    dist_info = f"httpr-{VERSION}.dist-info/"
    package = {n for n in names if not n.startswith(dist_info)}

    # Every module of the source tree is in the wheel (a subpackage missing from
    # [tool.setuptools] packages would be left out silently).
    modules = {p.relative_to(dists.source).as_posix() for p in dists.source.glob("httpr/**/*.py")}
    assert modules, "the copied tree has the httpr package"
    assert modules <= package, sorted(modules - package)

    assert "httpr/py.typed" in package
    assert "httpr/_psl.dat" in package
    extensions = [n for n in package if re.fullmatch(r"httpr/_ffi\.[\w.-]+\.so", n)]
    assert len(extensions) == 1, sorted(package)

    # Only those: no tests, C sources, cffi's generated C, objects or caches.
    assert package == modules | {"httpr/py.typed", "httpr/_psl.dat", *extensions}
    assert f"{dist_info}licenses/LICENSE" in names
    assert f"{dist_info}entry_points.txt" in names


@pytest.mark.timeout(600)
def test_wheel_console_script(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as zf:
        entry_points = zf.read(f"httpr-{VERSION}.dist-info/entry_points.txt").decode()
    assert "[console_scripts]" in entry_points
    assert re.search(r"^httpr = httpr\.__main__:main$", entry_points, re.MULTILINE)


@pytest.mark.timeout(600)
def test_wheel_metadata(dists: Dists) -> None:
    meta = wheel_metadata(dists.wheel)
    assert meta["Name"] == "httpr"
    assert meta["Version"] == VERSION
    assert meta["Summary"] and "libcurl" in meta["Summary"]
    assert meta["Requires-Python"] == ">=3.9"
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "# httpr" in meta.get_payload()  # the README is the long description

    classifiers = set(meta.get_all("Classifier") or [])
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.9" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # the SPDX field says it

    assert set(meta.get_all("Provides-Extra") or []) >= {"cbor", "html", "test"}
    # Spaces dropped and quotes unified, so the check does not depend on setuptools' spelling.
    requires = [r.replace(" ", "").replace('"', "'") for r in meta.get_all("Requires-Dist") or []]
    for dependency in ("cffi>=1.17", "certifi", "idna"):
        assert dependency in requires, requires
    assert "typing_extensions>=4.5;python_version<'3.11'" in requires, requires
    assert "cbor2;extra=='cbor'" in requires, requires
    assert "html2text;extra=='html'" in requires, requires
    assert "build==1.6.1;extra=='test'" in requires, requires


# -- the sdist ---------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_sdist_carries_what_the_build_needs(dists: Dists) -> None:
    top = f"httpr-{VERSION}/"
    with tarfile.open(dists.sdist) as tf:
        names = {m.name[len(top) :] for m in tf.getmembers() if m.isfile()}

    csrc = {p.relative_to(dists.source).as_posix() for p in dists.source.glob("csrc/*.[ch]")}
    assert "csrc/httpr_cdef.h" in csrc
    assert csrc <= names, sorted(csrc - names)
    for needed in (
        "build_ffi.py",
        "setup.py",
        "pyproject.toml",
        "MANIFEST.in",
        "README.md",
        "LICENSE",
        "httpr/py.typed",
        "httpr/_psl.dat",
    ):
        assert needed in names, needed
    modules = {p.relative_to(dists.source).as_posix() for p in dists.source.glob("httpr/**/*.py")}
    assert modules <= names, sorted(modules - names)

    # MANIFEST.in prunes the development trees; no build product travels.
    for pruned in ("tests/", "bench/", "examples/", "scripts/", ".ci/"):
        assert not any(n.startswith(pruned) for n in names), pruned
    assert not [n for n in names if n.endswith((".so", ".o")) or n == "httpr/_ffi.c"]


# -- installing the sdist ----------------------------------------------------------------------

# Run by the fresh virtualenv's interpreter, from an empty directory: it must import the
# installed httpr, and print what it saw as one JSON document.
PROBE = r"""
import asyncio, json, sys
import httpr

base = sys.argv[1]
out = {"file": httpr.__file__, "version": httpr.__version__}

with httpr.Client(timeout=10) as client:
    r = client.post(base + "/echo", json={"n": 1}, headers={"X-Probe": "yes"})
    doc = r.json()
    out["status"] = r.status_code
    out["echo_method"] = doc["method"]
    out["echo_body"] = doc["body"]
    out["echo_probe"] = [v for k, v in doc["headers"] if k == "X-Probe"]
    out["gzip_len"] = len(client.get(base + "/gzip?size=20000").content)
    with client.stream("GET", base + "/bytes?size=300000") as s:
        out["stream_len"] = sum(len(chunk) for chunk in s.iter_bytes())

out["module_get"] = httpr.get(base + "/status/204", timeout=10).status_code

async def main():
    async with httpr.AsyncClient(timeout=10) as client:
        rs = await asyncio.gather(*(client.get(base + "/status/200") for _ in range(5)))
        return [r.status_code for r in rs]

out["async"] = asyncio.run(main())
print(json.dumps(out))
"""


@pytest.mark.timeout(600)
def test_sdist_installs_into_a_fresh_venv_and_works(
    dists: Dists, tmp_path: Path, server: TestServer
) -> None:
    venv = tmp_path / "venv"
    run_checked([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, timeout=RUN_TIMEOUT)
    python = venv / "bin" / "python"
    # pip's default build isolation: setuptools>=77 and cffi come from the index (the venv's
    # own setuptools, if any, is older than the SPDX `license` field needs).
    run_checked(
        [str(python), "-m", "pip", "install", "--no-cache-dir", str(dists.sdist)],
        cwd=tmp_path,
        timeout=BUILD_TIMEOUT,
    )

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    proc = run_checked([str(python), "-I", "-c", PROBE, server.url], cwd=empty, timeout=RUN_TIMEOUT)
    assert proc.stderr == ""
    out = json.loads(proc.stdout)
    site = Path(out["file"]).resolve()
    assert site.is_relative_to(venv.resolve()), site  # the installed copy, not the tree
    assert out["version"] == VERSION
    assert out["status"] == 200
    assert out["echo_method"] == "POST"
    assert out["echo_body"] == '{"n":1}'
    assert out["echo_probe"] == ["yes"]
    assert out["gzip_len"] == 20000
    assert out["stream_len"] == 300000
    assert out["module_get"] == 204
    assert out["async"] == [200] * 5

    # The compiled module sits next to the package, and no C source was installed.
    installed = Path(out["file"]).parent
    assert list(installed.glob("_ffi*.so")), sorted(p.name for p in installed.iterdir())
    assert (installed / "py.typed").is_file()
    assert not list(installed.glob("*.c"))

    # The console script.
    httpr_cli = venv / "bin" / "httpr"
    version = run_checked([str(httpr_cli), "--version"], cwd=empty, timeout=RUN_TIMEOUT)
    assert VERSION_RE.match(version.stdout), version.stdout
    assert version.stdout.startswith(f"httpr {VERSION} ")
    probe = run_checked(
        [str(httpr_cli), "--expect-status", "200", "--timeout", "10", f"{server.url}/status/200"],
        cwd=empty,
        timeout=RUN_TIMEOUT,
    )
    assert (probe.stdout, probe.stderr) == ("status 200", "")
    missing = subprocess.run(
        [str(httpr_cli), "--timeout", "10", f"{server.url}/status/404"],
        cwd=empty,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert missing.returncode == 1, missing
    assert missing.stderr.startswith("httpr: expected status"), missing.stderr
