"""Build script of the C extension ``httpr._ffi`` (cffi, API mode): design.md section 11.

setup.py names it as ``cffi_modules=["build_ffi.py:ffibuilder"]``. cffi executes this file and
looks ``ffibuilder`` up in its globals; when that object is not an ``FFI`` but a function, cffi
calls it with no argument and uses the ``FFI`` it returns (cffi's documentation of
``cffi_modules``; ``add_cffi_module`` in ``cffi/setuptools_ext.py``). So ``ffibuilder`` is a
function: importing this module (as tests/test_build_ffi.py does to test ``find_libcurl``) runs
no discovery and reads no header. A PEP 562 module ``__getattr__`` would not work here, since
cffi reads the exec'd globals as a plain dict.

``find_libcurl`` tries, in order, ``HTTPR_CURL_CFLAGS``/``HTTPR_CURL_LIBS``, pkg-config,
curl-config and a test compile against ``<curl/curl.h>``. It never tests a fixed path: Debian
keeps the headers in the multiarch include directory (amendment 2.14). libcurl is always linked
dynamically (never ``--static-libs``); ``csrc/httpr.h`` refuses headers older than 7.88.

Environment read when building:

- ``HTTPR_CURL_CFLAGS``, ``HTTPR_CURL_LIBS``: use this libcurl instead of discovering one.
- ``HTTPR_OWN_DECODING=0``: leave all decoding to libcurl even when ``find_decoders`` finds
  libdeflate, libbrotlidec and libzstd (``csrc/decode.c``, amendment 2.10).
- ``HTTPR_WERROR=1``: ``-Wextra -Werror`` (the Makefile and CI set it; a plain ``pip install``
  gets ``-Wall`` only, so a new compiler's new warning never breaks a user's install).
- ``HTTPR_SANITIZE=1``: build with ASan and UBSan (``make asan``).
- ``CC``, ``CPPFLAGS``, ``CFLAGS``, ``LDFLAGS``: used by the test compile as setuptools uses
  them for the real build.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NamedTuple

if TYPE_CHECKING:
    import cffi

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"

# design.md section 11, character for character (tests/test_build_ffi.py holds its own copy).
NOT_FOUND_MESSAGE = """\
httpr: cannot build: libcurl development files not found (need curl/curl.h and
libcurl.so from libcurl >= 7.88.0).
  Debian/Ubuntu: sudo apt-get install -y libcurl4-openssl-dev pkg-config
  Fedora/RHEL:   sudo dnf install -y libcurl-devel pkgconf-pkg-config
  Alpine:        apk add curl-dev pkgconf
To use another libcurl, set HTTPR_CURL_CFLAGS and HTTPR_CURL_LIBS, e.g.
  HTTPR_CURL_CFLAGS=-I/opt/curl/include HTTPR_CURL_LIBS="-L/opt/curl/lib -lcurl"
Tried: HTTPR_CURL_CFLAGS/HTTPR_CURL_LIBS, pkg-config libcurl, curl-config, <curl/curl.h>."""

# The smallest program that needs both the header and the shared library.
_TEST_PROGRAM = """\
#include <curl/curl.h>
int main(void) { return curl_version_info(CURLVERSION_NOW) == NULL; }
"""


# csrc/decode.c's libraries (pkg-config names) and a program that needs each one's header
# and shared library.
DECODER_PACKAGES = ("libdeflate", "libbrotlidec", "libzstd")
_DECODER_PROGRAM = """\
#include <brotli/decode.h>
#include <libdeflate.h>
#include <zstd.h>
int main(void)
{
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    libdeflate_free_decompressor(d);
    return (int)BrotliDecoderVersion() + (int)ZSTD_versionNumber() == 0;
}
"""
DECODERS_MISSING = (
    "httpr: building without its own decoders (libdeflate, libbrotli, libzstd development files "
    "not found): libcurl decodes every body, about half as fast for gzip.\n"
    "  Debian/Ubuntu: sudo apt-get install -y libdeflate-dev libbrotli-dev libzstd-dev"
)


class BuildError(RuntimeError):
    """libcurl's development files were not found; ``str()`` is the whole user-facing text."""


def _run(argv: Sequence[str]) -> str | None:
    """Run a probe command; its stdout, or None if it is missing or fails (stderr dropped)."""
    try:
        done = subprocess.run(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            check=False,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _compiles(cc: Sequence[str], args: Sequence[str], source: str) -> bool:
    """Whether ``source`` compiles and links as ``cc probe.c -o probe args``, in a temp dir.

    The arguments come after the C file so that libraries (``-lcurl``) follow what needs them.
    """
    with tempfile.TemporaryDirectory(prefix="httpr-probe-") as tmp:
        c_file = Path(tmp, "probe.c")
        c_file.write_text(source)
        return _run([*cc, str(c_file), "-o", str(Path(tmp, "probe")), *args]) is not None


class Probes(NamedTuple):
    """The system calls of the discovery, injectable so a test can stub every one of them.

    A NamedTuple, not a dataclass: cffi execs this file as a module missing from
    ``sys.modules``, where ``@dataclass`` fails on string annotations.

    ``run(argv)`` runs a command and returns its stdout, or None when it is missing or fails.
    ``compiles(cc, args, source)`` says whether ``source`` compiles and links with them.
    """

    run: Callable[[Sequence[str]], str | None] = _run
    compiles: Callable[[Sequence[str], Sequence[str], str], bool] = _compiles


def find_libcurl(
    env: Mapping[str, str], probes: Probes | None = None
) -> tuple[list[str], list[str]]:
    """Return ``(cflags, libs)`` for libcurl, or raise ``BuildError`` with design.md's text.

    Order: ``HTTPR_CURL_CFLAGS``/``HTTPR_CURL_LIBS`` (either one set wins; an unset
    ``HTTPR_CURL_LIBS`` means ``-lcurl``), ``pkg-config``, ``curl-config``, then a test compile
    of ``<curl/curl.h>`` linked with ``-lcurl`` using ``$CC`` (default ``cc``).
    """
    probes = probes or Probes()
    env_cflags = env.get("HTTPR_CURL_CFLAGS")
    env_libs = env.get("HTTPR_CURL_LIBS")
    if env_cflags is not None or env_libs is not None:
        libs = shlex.split(env_libs) if env_libs is not None else ["-lcurl"]
        return shlex.split(env_cflags or ""), libs

    for cflags_cmd, libs_cmd in (
        (["pkg-config", "--cflags", "libcurl"], ["pkg-config", "--libs", "libcurl"]),
        (["curl-config", "--cflags"], ["curl-config", "--libs"]),
    ):
        cflags = probes.run(cflags_cmd)
        libs_out = probes.run(libs_cmd)
        if cflags is not None and libs_out is not None and shlex.split(libs_out):
            return shlex.split(cflags), shlex.split(libs_out)

    cc = shlex.split(env.get("CC") or "cc")
    flags = [f for var in ("CPPFLAGS", "CFLAGS", "LDFLAGS") for f in shlex.split(env.get(var, ""))]
    if probes.compiles(cc, [*flags, "-lcurl"], _TEST_PROGRAM):
        return [], ["-lcurl"]

    raise BuildError(NOT_FOUND_MESSAGE)


def find_decoders(
    env: Mapping[str, str], probes: Probes | None = None
) -> tuple[list[str], list[str]] | None:
    """``(cflags, libs)`` for ``csrc/decode.c``, or None: then libcurl decodes everything.

    pkg-config first, then a test compile with ``-ldeflate -lbrotlidec -lzstd``;
    ``HTTPR_OWN_DECODING=0`` turns them off. Missing decoders never fail a build (httpr works
    without them), but the build says so.
    """
    if env.get("HTTPR_OWN_DECODING") == "0":
        return None
    probes = probes or Probes()
    cflags = probes.run(["pkg-config", "--cflags", *DECODER_PACKAGES])
    libs = probes.run(["pkg-config", "--libs", *DECODER_PACKAGES])
    if cflags is not None and libs is not None and shlex.split(libs):
        return ["-DHTTPR_OWN_DECODING", *shlex.split(cflags)], shlex.split(libs)
    cc = shlex.split(env.get("CC") or "cc")
    flags = [f for var in ("CPPFLAGS", "CFLAGS", "LDFLAGS") for f in shlex.split(env.get(var, ""))]
    fallback = ["-ldeflate", "-lbrotlidec", "-lzstd"]
    if probes.compiles(cc, [*flags, *fallback], _DECODER_PROGRAM):
        return ["-DHTTPR_OWN_DECODING"], fallback
    return None


def _split_cflags(cflags: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split compiler flags into include directories and the other flags."""
    include_dirs: list[str] = []
    other: list[str] = []
    it = iter(cflags)
    for flag in it:
        if flag == "-I":
            include_dirs.append(next(it, ""))
        elif flag.startswith("-I"):
            include_dirs.append(flag[2:])
        else:
            other.append(flag)
    return [d for d in include_dirs if d], other


def _split_libs(libs: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Split linker flags into ``(libraries, library_dirs, extra_link_args)``."""
    libraries: list[str] = []
    library_dirs: list[str] = []
    extra: list[str] = []
    it = iter(libs)
    for flag in it:
        if flag in ("-l", "-L"):
            (libraries if flag == "-l" else library_dirs).append(next(it, ""))
        elif flag.startswith("-l"):
            libraries.append(flag[2:])
        elif flag.startswith("-L"):
            library_dirs.append(flag[2:])
        else:
            extra.append(flag)
    return [x for x in libraries if x], [x for x in library_dirs if x], extra


def _build_path(path: Path) -> str:
    """``path`` relative to the build's working directory when inside it.

    setuptools runs in the project root and places object files by the source's path, so
    relative source paths keep them inside its build directory.
    """
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def ffibuilder() -> cffi.FFI:
    """Make the ``FFI`` for ``httpr._ffi`` (called by cffi's setuptools hook; see above)."""
    import cffi

    env = os.environ
    try:
        cflags, libs = find_libcurl(env)
    except BuildError as exc:
        # Stop with the message alone: pip shows it as the build's output, not at the end of a
        # traceback through setuptools and cffi.
        raise SystemExit(str(exc)) from None
    decoders = find_decoders(env)
    if decoders is not None:
        cflags, libs = [*cflags, *decoders[0]], [*libs, *decoders[1]]
    elif env.get("HTTPR_OWN_DECODING") != "0":
        print(DECODERS_MISSING, file=sys.stderr)
    include_dirs, other_cflags = _split_cflags(cflags)
    libraries, library_dirs, link_args = _split_libs(libs)

    # gnu11, not c99: the C layer uses POSIX and Linux calls (pthread, eventfd, clock_gettime)
    # that strict ISO modes hide; `make ctest` compiles the same sources with the same -std.
    compile_args = ["-std=gnu11", "-O2", "-Wall", *other_cflags]
    if env.get("HTTPR_WERROR") == "1":
        compile_args += ["-Wextra", "-Werror"]
    if env.get("HTTPR_SANITIZE") == "1":
        sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
        compile_args += [*sanitize, "-O1", "-g"]
        link_args += sanitize

    builder = cffi.FFI()
    builder.cdef((CSRC / "httpr_cdef.h").read_text())
    builder.set_source(
        "httpr._ffi",
        '#include "httpr.h"\n',
        sources=[_build_path(p) for p in sorted(CSRC.glob("*.c"))],
        depends=[_build_path(p) for p in sorted(CSRC.glob("*.h"))],
        include_dirs=[_build_path(CSRC), *include_dirs],
        extra_compile_args=compile_args,
        libraries=[*libraries, "pthread", "dl"],  # dl: dlsym
        library_dirs=library_dirs,
        extra_link_args=link_args,
    )
    return builder


if __name__ == "__main__":
    # A quick compile check of csrc/ and the cdef: `HTTPR_WERROR=1 python build_ffi.py`. The
    # module stays in build/ffi/: one copied into httpr/ would carry cffi's name for it
    # (_ffi.cpython-311-...so), which Python prefers to the _ffi.abi3.so that `make install`
    # builds, so a stale one would shadow every later build. cffi compiles from inside its
    # tmpdir, so run from there: _build_path() then gives absolute source paths.
    tmpdir = HERE / "build" / "ffi"
    tmpdir.mkdir(parents=True, exist_ok=True)
    os.chdir(tmpdir)
    print(ffibuilder().compile(tmpdir=str(tmpdir), verbose=True))
