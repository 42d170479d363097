# httpr developer commands. From a fresh clone on Debian/Ubuntu, `make demo` and `make test`
# do everything: system packages (as root), the virtualenv, the extension build.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
CC ?= cc
VENV := .venv
PY := $(VENV)/bin/python
VENV_OK := $(VENV)/.httpr-venv
STAMP := $(VENV)/.httpr-stamp
ASAN_VENV := .venv-asan
ASAN_TREE := build/asan-src

export PIP_DISABLE_PIP_VERSION_CHECK := 1

CSRC_C := $(wildcard csrc/*.c)
CSRC_H := $(wildcard csrc/*.h)
BUILD_INPUTS := $(CSRC_C) $(CSRC_H) build_ffi.py pyproject.toml setup.py
# No built module in httpr/ (a fresh clone, `make clean`): rebuild even if the stamp is newer.
FFI_SO := $(wildcard httpr/_ffi*.so)

CTEST_SRCS := $(wildcard tests/c/test_*.c)
CTEST_HELPERS := $(filter-out tests/c/test_%.c,$(wildcard tests/c/*.c))
CTEST_BINS := $(patsubst tests/c/%.c,build/ctest/%,$(CTEST_SRCS))
CTEST_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -g -O1 -Icsrc -Itests/c
# csrc/decode.c's libraries (build_ffi.py's DECODER_PACKAGES): the C tests build with them
# when pkg-config finds them, as the extension does (plus libbrotlienc, which
# tests/c/test_decode.c encodes with).
DECODER_PCS := libdeflate libbrotlidec libzstd
DECODER_FLAGS = $$(pkg-config --exists $(DECODER_PCS) libbrotlienc 2>/dev/null && \
	echo -DHTTPR_OWN_DECODING $$(pkg-config --cflags --libs $(DECODER_PCS) libbrotlienc))

.PHONY: install system-deps demo test lint typecheck ctest valgrind asan bench bench-quick stress fuzz \
	fuzz-deps \
	scenarios update-psl clean distclean FORCE

# Shell snippet: apt-install the Debian packages named in $missing (as root, after
# `apt-get update`, amendment 1.17), or say what to install and fail.
define APT_INSTALL
if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	echo "make: installing$$missing (apt-get)"; \
	apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
else \
	echo "httpr: missing system packages:$$missing" >&2; \
	echo "  Debian/Ubuntu, as root: apt-get update && apt-get install -y$$missing" >&2; \
	[ -z "$${other_distros:-}" ] || echo "  $$other_distros" >&2; \
	exit 1; \
fi
endef

install: $(STAMP)

HAS_PYTHON_H := import os, sys, sysconfig; \
	sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))

# Installs what is missing of libcurl4-openssl-dev pkg-config ca-certificates gcc python3-dev
# python3-venv, and libdeflate-dev libbrotli-dev libzstd-dev for httpr's own decoders
# (csrc/decode.c; design.md section 11, amendments 2.10 and 2.16). A package counts as missing only when
# what it provides is missing, so another libcurl (libcurl4-gnutls-dev conflicts with the
# openssl one) or a Python with its own headers and venv (pyenv) installs nothing. dpkg-query
# answers where nothing can be probed.
system-deps:
	@missing=""; \
	deb_installed() { [ "$$(dpkg-query -W -f='$${Status}' "$$1" 2>/dev/null)" = "install ok installed" ]; }; \
	has_dpkg() { command -v dpkg-query >/dev/null 2>&1; }; \
	if ! { command -v pkg-config && pkg-config --exists libcurl; } >/dev/null 2>&1; then \
		has_dpkg && deb_installed libcurl4-openssl-dev || missing="$$missing libcurl4-openssl-dev"; \
	fi; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	if ! pkg-config --exists $(DECODER_PCS) >/dev/null 2>&1; then \
		for p in libdeflate-dev libbrotli-dev libzstd-dev; do \
			has_dpkg && deb_installed $$p || missing="$$missing $$p"; \
		done; \
	fi; \
	if has_dpkg && ! deb_installed ca-certificates; then missing="$$missing ca-certificates"; fi; \
	command -v gcc >/dev/null 2>&1 || missing="$$missing gcc"; \
	$(PYTHON) -c '$(HAS_PYTHON_H)' >/dev/null 2>&1 || missing="$$missing python3-dev"; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	other_distros="Fedora/RHEL: libcurl-devel pkgconf-pkg-config gcc python3-devel;"; \
	other_distros="$$other_distros Alpine: curl-dev pkgconf gcc musl-dev python3-dev"; \
	if [ -n "$$missing" ]; then $(APT_INSTALL); fi

$(VENV_OK): | system-deps
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	touch $@

# The editable install builds httpr/_ffi*.so in place; HTTPR_WERROR=1 adds -Wextra -Werror.
# Re-run when the C sources or the build files change (or the module is missing).
$(STAMP): $(BUILD_INPUTS) $(VENV_OK) $(if $(FFI_SO),,FORCE) | system-deps
	HTTPR_WERROR=1 $(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: install
	$(PY) examples/demo.py

test: install lint typecheck ctest
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# Python 3.9 is declared but only 3.11 is tested here. vermin does not read version
	@# guards: mark a guarded newer import `# novm`. typing_extensions is a dependency.
	$(VENV)/bin/vermin -q -t=3.9- --violations --no-tips --backport typing_extensions \
		httpr build_ffi.py setup.py

typecheck: install
	$(VENV)/bin/mypy

# C unit tests: each tests/c/test_*.c linked with every csrc/*.c (and tests/c helpers).
build/ctest/%: tests/c/%.c $(CTEST_HELPERS) $(CSRC_C) $(CSRC_H) $(wildcard tests/c/*.h) \
		| system-deps
	@mkdir -p $(@D)
	$(CC) $(CTEST_CFLAGS) $$(pkg-config --cflags libcurl) -o $@ $< $(CTEST_HELPERS) \
		$(CSRC_C) $$(pkg-config --libs libcurl) $(DECODER_FLAGS) -lpthread -ldl

ctest: $(CTEST_BINS)
ifeq ($(CTEST_BINS),)
	@echo "ctest: no tests/c/test_*.c yet"
else
	@for t in $(CTEST_BINS); do echo "ctest: $$t"; ./$$t || { echo "ctest: $$t FAILED" >&2; exit 1; }; done
endif

# tests/c/ and then the transport smoke test (a Python process through every csrc/ path):
# memory errors and definite leaks fail. The smoke run silences only CPython's and cffi's own
# reports (tests/c/valgrind-python.supp says which and why).
valgrind: $(CTEST_BINS) install
	@command -v valgrind >/dev/null 2>&1 || { missing=" valgrind"; $(APT_INSTALL); }
	@supp=""; [ ! -f tests/c/valgrind.supp ] || supp="--suppressions=tests/c/valgrind.supp"; \
	for t in $(CTEST_BINS); do \
		echo "valgrind: $$t"; \
		valgrind -q --leak-check=full --error-exitcode=1 $$supp ./$$t \
			|| { echo "valgrind: $$t FAILED" >&2; exit 1; }; \
	done
	@echo "valgrind: tests/c/valgrind_smoke.py"
	@PYTHONMALLOC=malloc valgrind -q --leak-check=full --show-leak-kinds=definite \
		--errors-for-leak-kinds=definite --error-exitcode=1 \
		--suppressions=tests/c/valgrind-python.supp $(PY) tests/c/valgrind_smoke.py \
		|| { echo "valgrind: tests/c/valgrind_smoke.py FAILED" >&2; exit 1; }

# The transport tests against an ASan+UBSan build (FZ-05). The sanitized module is built in
# place in a copy of the tree, so it never replaces the normal build in httpr/ that .venv
# imports. "Transport tests": every suite that drives csrc/ through a live transfer (streams,
# uploads, framing, deadlines, TLS, proxies, HTTP/2), not only tests/transport/. Left out:
# the tests that bound RSS (ASan's quarantine holds freed memory, so RSS measures ASan).
# detect_leaks=0: LeakSanitizer reports CPython's own allocations alive at exit (interned
# objects, caches), thousands of false positives; C leaks are valgrind's job (make valgrind).
ASAN_TESTS := tests/transport tests/client tests/faults tests/timeouts tests/tls tests/proxies \
	tests/http2 tests/mtls tests/multipart
ASAN_DESELECT := tests/client/test_streaming.py::test_slow_reader_pauses_instead_of_buffering \
	tests/client/test_streamed_uploads.py::test_large_generator_upload_keeps_memory_bounded \
	tests/client/test_stream_encoded_pause.py::test_a_slow_reader_of_a_1000_to_1_stream_gets_every_byte_or_a_decoding_error
asan: | system-deps
	rm -rf $(ASAN_TREE)
	mkdir -p $(ASAN_TREE)
	cp -r csrc httpr tests build_ffi.py setup.py pyproject.toml README.md $(ASAN_TREE)/
	find $(ASAN_TREE) \( -name '_ffi*.so' -o -name '_ffi.[co]' -o -name __pycache__ \) \
		-prune -exec rm -rf {} +
	[ -x $(ASAN_VENV)/bin/python ] || $(PYTHON) -m venv $(ASAN_VENV)
	$(ASAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	cd $(ASAN_TREE) && HTTPR_SANITIZE=1 HTTPR_WERROR=1 \
		$(CURDIR)/$(ASAN_VENV)/bin/python -m pip install --quiet -e '.[test]'
	cd $(ASAN_TREE) && LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" \
		ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(CURDIR)/$(ASAN_VENV)/bin/python -m pytest $(ASAN_TESTS) \
		$(addprefix --deselect ,$(ASAN_DESELECT))

# httpr side by side with its peers and a C floor (bench/README.md): sets up nginx and the
# peers' venvs (bench/setup_peers.sh), runs every cell, writes bench/results/. Extra run.py
# options: make bench BENCH_ARGS="--clients httpr_local,pycurl --modes seq".
bench: install
	$(PY) bench/run.py --local-python $(PY) $(BENCH_ARGS)

bench-quick: install
	$(PY) bench/run.py --quick --local-python $(PY) $(BENCH_ARGS)

# Not in `make test` (amendments 1.10, 1.11). pytest exits 5 when it collects no test: until
# such tests exist that is a note, not a failure (for these two targets only).
stress: install
fuzz: install fuzz-deps
stress fuzz:
	@rc=0; $(PY) -m pytest -m $@ || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make $@: no tests marked '$@' yet (pytest exit 5)"; rc=0; fi; \
	exit $$rc

# The `fuzz` extra of pyproject.toml (atheris, where its wheels exist) added to the venv
# without rebuilding httpr. Read with tomllib (3.11+; atheris needs 3.11 too). A failed
# install is a note: the atheris harness then skips and the hypothesis ones run alone.
FUZZ_STAMP := $(VENV)/.httpr-fuzz-stamp
fuzz-deps: $(FUZZ_STAMP)
$(FUZZ_STAMP): pyproject.toml | $(STAMP)
	@mkdir -p build
	@if $(PY) -c 'import tomllib' 2>/dev/null; then \
		$(PY) -c 'import tomllib; f = open("pyproject.toml", "rb"); \
			print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["fuzz"]))' \
			> build/fuzz-requirements.txt; \
		if $(PY) -m pip install --quiet -r build/fuzz-requirements.txt; then touch $@; \
		else echo "make fuzz: the fuzz extra did not install; atheris harness skipped"; fi; \
	else echo "make fuzz: Python < 3.11, no atheris; hypothesis harnesses only"; fi

# The end-to-end scenarios of issue 11 (tests/scenarios: crawl, service, probe), with their
# figures (-s). The last line is "scenarios: N passed, M failed"; the exit status is non-zero
# when M > 0. They take ~1.5 min, so `make test` runs them too (CI stays far under 20 min).
scenarios: install
	@mkdir -p build && rm -f build/scenarios.xml
	@rc=0; $(PY) -m pytest tests/scenarios -m scenario -s -rfEx \
		--junitxml=build/scenarios.xml || rc=$$?; \
	$(PY) -m tests.scenarios.summary build/scenarios.xml $$rc

# Refresh httpr/_psl.dat, the dated Public Suffix List snapshot the cookie jar reads
# (amendment 3.9), from Debian's publicsuffix package (installed as root when missing).
PSL_SOURCE := /usr/share/publicsuffix/public_suffix_list.dat
update-psl: | $(VENV_OK)
	@[ -f $(PSL_SOURCE) ] || { missing=" publicsuffix"; $(APT_INSTALL); }
	$(PY) scripts/update_psl.py --source $(PSL_SOURCE)

clean:
	rm -rf build *.egg-info httpr/_ffi.c httpr/_ffi.o httpr/_ffi*.so \
		.mypy_cache .ruff_cache .pytest_cache $(STAMP)
	find . \( -path ./$(VENV) -o -path ./$(ASAN_VENV) -o -path ./.git \) -prune \
		-o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(ASAN_VENV)

FORCE:
