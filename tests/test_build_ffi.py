"""build_ffi.find_libcurl: the order of the libcurl probes and the message when all fail.

Every probe is stubbed (amendment 1.18): nothing here runs pkg-config or a compiler, nor
depends on the headers installed on this machine.
"""

from __future__ import annotations

import importlib.util
import shlex
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

# design.md section 11, character for character.
EXPECTED_MESSAGE = """\
httpr: cannot build: libcurl development files not found (need curl/curl.h and
libcurl.so from libcurl >= 7.88.0).
  Debian/Ubuntu: sudo apt-get install -y libcurl4-openssl-dev pkg-config
  Fedora/RHEL:   sudo dnf install -y libcurl-devel pkgconf-pkg-config
  Alpine:        apk add curl-dev pkgconf
To use another libcurl, set HTTPR_CURL_CFLAGS and HTTPR_CURL_LIBS, e.g.
  HTTPR_CURL_CFLAGS=-I/opt/curl/include HTTPR_CURL_LIBS="-L/opt/curl/lib -lcurl"
Tried: HTTPR_CURL_CFLAGS/HTTPR_CURL_LIBS, pkg-config libcurl, curl-config, <curl/curl.h>."""


@pytest.fixture(scope="module")
def build_ffi() -> ModuleType:
    # Loaded from its path: build_ffi.py is a build script beside setup.py, not a package
    # module. Importing it runs no discovery (ffibuilder is a function cffi calls).
    spec = importlib.util.spec_from_file_location("_httpr_build_ffi", ROOT / "build_ffi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeProbes:
    """Records every probe call; answers commands from a table and compiles with a fixed bool."""

    def __init__(self, outputs: dict[str, str] | None = None, compiles: bool = False) -> None:
        self.outputs = outputs or {}
        self.compile_result = compiles
        self.commands: list[str] = []
        self.compiles_called_with: list[tuple[list[str], list[str], str]] = []

    def run(self, argv: Sequence[str]) -> str | None:
        command = shlex.join(argv)
        self.commands.append(command)
        return self.outputs.get(command)

    def compiles(self, cc: Sequence[str], args: Sequence[str], source: str) -> bool:
        self.compiles_called_with.append((list(cc), list(args), source))
        return self.compile_result

    def probes(self, build_ffi: ModuleType) -> object:
        return build_ffi.Probes(run=self.run, compiles=self.compiles)


def test_all_probes_fail_gives_the_documented_message(build_ffi: ModuleType) -> None:
    fake = FakeProbes()
    with pytest.raises(build_ffi.BuildError) as excinfo:
        build_ffi.find_libcurl({}, fake.probes(build_ffi))
    assert str(excinfo.value) == EXPECTED_MESSAGE
    assert isinstance(excinfo.value, RuntimeError)
    # Every fallback was tried, in the documented order.
    assert fake.commands == [
        "pkg-config --cflags libcurl",
        "pkg-config --libs libcurl",
        "curl-config --cflags",
        "curl-config --libs",
    ]
    assert len(fake.compiles_called_with) == 1


def test_env_vars_win_and_are_split_like_a_shell(build_ffi: ModuleType) -> None:
    fake = FakeProbes(
        outputs={
            "pkg-config --cflags libcurl": "-I/usr/include/x86_64-linux-gnu\n",
            "pkg-config --libs libcurl": "-lcurl\n",
        },
        compiles=True,
    )
    env = {
        "HTTPR_CURL_CFLAGS": "-I/opt/curl/include '-DNAME=two words'",
        "HTTPR_CURL_LIBS": "-L/opt/curl/lib -lcurl -Wl,-rpath,/opt/curl/lib",
    }
    cflags, libs = build_ffi.find_libcurl(env, fake.probes(build_ffi))
    assert cflags == ["-I/opt/curl/include", "-DNAME=two words"]
    assert libs == ["-L/opt/curl/lib", "-lcurl", "-Wl,-rpath,/opt/curl/lib"]
    assert fake.commands == []
    assert fake.compiles_called_with == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HTTPR_CURL_CFLAGS": "-I/opt/curl/include"}, (["-I/opt/curl/include"], ["-lcurl"])),
        ({"HTTPR_CURL_LIBS": "-L/opt/lib -lcurl"}, ([], ["-L/opt/lib", "-lcurl"])),
    ],
)
def test_either_env_var_alone_is_used(
    build_ffi: ModuleType, env: dict[str, str], expected: tuple[list[str], list[str]]
) -> None:
    fake = FakeProbes()
    assert build_ffi.find_libcurl(env, fake.probes(build_ffi)) == expected
    assert fake.commands == []


def test_pkg_config_output_is_parsed(build_ffi: ModuleType) -> None:
    fake = FakeProbes(
        outputs={
            "pkg-config --cflags libcurl": "-I/usr/include/x86_64-linux-gnu \n",
            "pkg-config --libs libcurl": "-lcurl \n",
            "curl-config --cflags": "-I/wrong\n",
            "curl-config --libs": "-lwrong\n",
        }
    )
    assert build_ffi.find_libcurl({}, fake.probes(build_ffi)) == (
        ["-I/usr/include/x86_64-linux-gnu"],
        ["-lcurl"],
    )
    assert fake.commands == ["pkg-config --cflags libcurl", "pkg-config --libs libcurl"]


def test_curl_config_is_used_when_pkg_config_fails(build_ffi: ModuleType) -> None:
    fake = FakeProbes(
        outputs={
            "pkg-config --cflags libcurl": "",  # pkg-config --libs fails: not usable
            "curl-config --cflags": "\n",
            "curl-config --libs": "-L/opt/curl/lib -lcurl\n",
        }
    )
    assert build_ffi.find_libcurl({}, fake.probes(build_ffi)) == (
        [],
        ["-L/opt/curl/lib", "-lcurl"],
    )
    assert fake.compiles_called_with == []


def test_test_compile_fallback_links_lcurl(build_ffi: ModuleType) -> None:
    fake = FakeProbes(compiles=True)
    env = {"CC": "ccache gcc", "CPPFLAGS": "-I/opt/include", "LDFLAGS": "-L/opt/lib"}
    assert build_ffi.find_libcurl(env, fake.probes(build_ffi)) == ([], ["-lcurl"])
    [(cc, args, source)] = fake.compiles_called_with
    assert cc == ["ccache", "gcc"]
    assert args == ["-I/opt/include", "-L/opt/lib", "-lcurl"]
    assert "#include <curl/curl.h>" in source


def test_test_compile_uses_cc_by_default(build_ffi: ModuleType) -> None:
    fake = FakeProbes(compiles=True)
    build_ffi.find_libcurl({}, fake.probes(build_ffi))
    [(cc, args, _)] = fake.compiles_called_with
    assert cc == ["cc"]
    assert args == ["-lcurl"]


def test_flag_splitting_for_the_extension(build_ffi: ModuleType) -> None:
    assert build_ffi._split_cflags(["-I", "/a", "-I/b", "-DX=1", "-pthread"]) == (
        ["/a", "/b"],
        ["-DX=1", "-pthread"],
    )
    assert build_ffi._split_libs(["-L/opt/lib", "-lcurl", "-l", "z", "-Wl,-rpath,/opt/lib"]) == (
        ["curl", "z"],
        ["/opt/lib"],
        ["-Wl,-rpath,/opt/lib"],
    )


def test_sanitize_build_flags_for_make_asan(
    build_ffi: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FZ-05: ``make asan`` builds csrc/ with HTTPR_SANITIZE=1, which must compile and link
    with ASan and UBSan, and runs the transport suites (tests/transport, client, faults,
    timeouts, tls, proxies, http2, ...) against that build: "no reports" is that run's exit
    status (UBSan halt_on_error=1). This pins the flags; nothing here compiles."""
    pytest.importorskip("cffi")
    monkeypatch.setenv("HTTPR_CURL_CFLAGS", "")  # skips the probes: no pkg-config run
    monkeypatch.setenv("HTTPR_CURL_LIBS", "-lcurl")
    monkeypatch.setenv("HTTPR_OWN_DECODING", "0")  # nor for the decoders
    monkeypatch.setenv("HTTPR_SANITIZE", "1")
    kwds = build_ffi.ffibuilder()._assigned_source[3]
    assert "-fsanitize=address,undefined" in kwds["extra_compile_args"]
    assert "-fsanitize=address,undefined" in kwds["extra_link_args"]
    monkeypatch.delenv("HTTPR_SANITIZE")
    assert (
        "-fsanitize=address,undefined"
        not in build_ffi.ffibuilder()._assigned_source[3]["extra_compile_args"]
    )
    makefile = (ROOT / "Makefile").read_text()
    assert "HTTPR_SANITIZE=1" in makefile
    assert "\nASAN_TESTS := tests/transport tests/client tests/faults" in makefile


DECODER_PC = "pkg-config {} libdeflate libbrotlidec libzstd"


def test_decoders_from_pkg_config(build_ffi: ModuleType) -> None:
    """csrc/decode.c's libraries: pkg-config first; found, they define HTTPR_OWN_DECODING."""
    fake = FakeProbes(
        {
            DECODER_PC.format("--cflags"): "-I/opt/deflate/include\n",
            DECODER_PC.format("--libs"): "-ldeflate -lbrotlidec -lzstd\n",
        }
    )
    assert build_ffi.find_decoders({}, fake.probes(build_ffi)) == (
        ["-DHTTPR_OWN_DECODING", "-I/opt/deflate/include"],
        ["-ldeflate", "-lbrotlidec", "-lzstd"],
    )
    assert fake.compiles_called_with == []


def test_decoders_by_test_compile_then_none(build_ffi: ModuleType) -> None:
    """Without pkg-config a test compile decides; when it fails the build goes on without
    them (libcurl decodes), never fails."""
    fake = FakeProbes(compiles=True)
    env = {"CC": "gcc -m64", "LDFLAGS": "-L/opt/lib"}
    assert build_ffi.find_decoders(env, fake.probes(build_ffi)) == (
        ["-DHTTPR_OWN_DECODING"],
        ["-ldeflate", "-lbrotlidec", "-lzstd"],
    )
    cc, args, source = fake.compiles_called_with[0]
    assert cc == ["gcc", "-m64"] and args == ["-L/opt/lib", "-ldeflate", "-lbrotlidec", "-lzstd"]
    assert "#include <libdeflate.h>" in source and "#include <zstd.h>" in source
    assert build_ffi.find_decoders({}, FakeProbes().probes(build_ffi)) is None
    assert "libdeflate-dev libbrotli-dev libzstd-dev" in build_ffi.DECODERS_MISSING


def test_decoders_turned_off_probe_nothing(build_ffi: ModuleType) -> None:
    fake = FakeProbes(compiles=True)
    assert build_ffi.find_decoders({"HTTPR_OWN_DECODING": "0"}, fake.probes(build_ffi)) is None
    assert fake.commands == [] and fake.compiles_called_with == []
