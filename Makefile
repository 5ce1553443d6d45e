# pykern: `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CC := gcc
CFLAGS := -O2 -static -pthread -Wall -Wno-unused-result

# Every testbins/NAME.c becomes testbins/NAME; NAME_pie.c is built as static-pie.
TESTBIN_SRC := $(wildcard testbins/*.c)
# testbins/pykern_only/: programs that cannot run natively to a result (a deadlock) or
# that show a pykern-specific behaviour; tests/test_cli.py runs them under pykern only.
PYKERN_ONLY_SRC := $(wildcard testbins/pykern_only/*.c)
# testbins/bench/: the workloads of `make bench` (bench/run.py), built like the others.
BENCH_SRC := $(wildcard testbins/bench/*.c)
TESTBINS := $(TESTBIN_SRC:.c=) $(PYKERN_ONLY_SRC:.c=) $(BENCH_SRC:.c=)

.PHONY: all venv testbins go-testbins host-tools test-tools bench-tools run test bench ltp soak lint clean wheel

all: venv testbins

# pykern is installed editable as a plain path entry (setuptools' compat mode: the repo
# root in a .pth file, and pykern/__init__.py finds syscalls/ and loader/ beside it), so
# that edits are picked up and no import hook runs at every Python start-up (the default
# editable install's finder costs about 11 ms of each `pykern run`). A setuptools without
# compat mode gets the default editable install.
$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat \
		|| $(PY) -m pip install -q -e '.[test]'
	touch $@

# pykern's own libunicorn (x86 only, larger software TLB, inlined float checks), which
# pykern.ucbind prefers to the unicorn wheel's: see tools/build_unicorn.py. cmake is
# installed when missing.
UNICORN_LIB := $(VENV)/lib/pykern-unicorn/libunicorn.so.2
$(UNICORN_LIB): tools/build_unicorn.py | $(VENV)/.installed
	@$(MAKE) -s host-tools TOOLS="cmake:cmake"
	$(PY) tools/build_unicorn.py $(dir $@)

venv: $(VENV)/.installed $(UNICORN_LIB)

# A wheel that carries pykern's patched libunicorn (setup.py copies the venv's build into
# pykern/_unicorn/; without PYKERN_UNICORN_LIB it would build its own).
wheel: venv
	PYKERN_UNICORN_LIB=$(abspath $(UNICORN_LIB)) $(PY) -m pip wheel . --no-deps -q -w dist
	@ls dist/*.whl

testbins: $(TESTBINS) go-testbins
	chmod +x testbins/shebang.sh

# Go programs: each testbins/go/NAME/ (a main package with its go.mod, the standard library
# only) becomes testbins/go/bin/NAME, static (CGO_ENABLED=0), built by Debian's golang-go
# (installed when missing, as the other host tools). Nothing is downloaded (GOPROXY=off,
# -mod=vendor) and nothing goes to $$HOME: the build cache and GOPATH are under build/go/.
# Without a Go toolchain they are skipped, and so are the tests and bench workloads that run them.
GO_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard testbins/go/*/*.go))))
GOBINS := $(patsubst testbins/go/%,testbins/go/bin/%,$(GO_DIRS))
GO_ENV := CGO_ENABLED=0 GOFLAGS=-mod=vendor GOPROXY=off GOENV=off GOTOOLCHAIN=local \
	GOCACHE=$(CURDIR)/build/go/cache GOPATH=$(CURDIR)/build/go/path

go-testbins:
	@$(MAKE) -s host-tools TOOLS="go:golang-go"
	@if command -v go >/dev/null 2>&1; then $(MAKE) --no-print-directory $(GOBINS); \
	else echo "go-testbins: no Go toolchain, $(GOBINS) skipped"; fi

testbins/go/bin/%: testbins/go/%/*.go testbins/go/%/go.mod
	cd testbins/go/$* && $(GO_ENV) go build -trimpath -o $(CURDIR)/$@ .

testbins/%_pie: testbins/%_pie.c
	$(CC) $(filter-out -static,$(CFLAGS)) -static-pie -fPIE -o $@ $<

testbins/pykern_only/dynamic: testbins/pykern_only/dynamic.c
	$(CC) -O2 -o $@ $< -lm

# fenv.h's functions (feclearexcept, feenableexcept ...) are in libm.
testbins/fpu_flags: testbins/fpu_flags.c testbins/check.h
	$(CC) $(CFLAGS) -o $@ $< -lm

# AddressSanitizer cannot be static; without gcc's libasan this bench workload is skipped.
testbins/bench/asan_hello: testbins/bench/asan_hello.c
	$(CC) -O1 -fsanitize=address -o $@ $< || echo "testbins/bench/asan_hello: no libasan, skipped"

testbins/%: testbins/%.c
	$(CC) $(CFLAGS) -o $@ $<

# The gdb stub's programs (tests/test_gdb.py): unoptimised, with debug information.
testbins/gdb_%: testbins/gdb_%.c
	$(CC) $(filter-out -O2,$(CFLAGS)) -O0 -g -o $@ $<

# Sources other testbins include: NAME_shm.c is NAME.c run in /dev/shm; errcheck.h holds
# the checks of fifo, paths and rocheck.
testbins/fifo_shm: testbins/fifo.c
testbins/paths_shm: testbins/paths.c
testbins/files_shm: testbins/files.c
testbins/fifo testbins/fifo_shm testbins/paths testbins/paths_shm testbins/pykern_only/rocheck: testbins/errcheck.h testbins/rmtree.h
testbins/files testbins/files_shm: testbins/rmtree.h
testbins/rlimit_nproc testbins/pykern_only/forkbomb: testbins/waiters.h
testbins/futex_ops testbins/futex_waitv: testbins/deadline.h

# Host programs the tests and benchmarks compare against: strace (tests/test_strace.py), gdb
# (tests/test_gdb.py drives it against --gdb),
# Debian's static busybox (/bin/busybox: tests/test_busybox.py and the busybox_exec and
# shell_script workloads); for make bench also qemu-user's qemu-x86_64 and GNU time (peak
# RSS). Installed only when missing (command:package); a failed install (no root, no
# network) warns and carries on: those comparisons are then skipped, except under CI
# (CI=true), where a missing strace fails them (tests/conftest.py's host_tool).
TEST_TOOLS := strace:strace busybox:busybox-static gdb:gdb
BENCH_TOOLS := $(TEST_TOOLS) qemu-x86_64:qemu-user /usr/bin/time:time

test-tools:
	@$(MAKE) -s host-tools TOOLS="$(TEST_TOOLS)"

bench-tools:
	@$(MAKE) -s host-tools TOOLS="$(BENCH_TOOLS)"

host-tools:
	@missing=""; \
	for tool in $(TOOLS); do \
		command -v $${tool%%:*} >/dev/null 2>&1 || missing="$$missing $${tool#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "host-tools: installing$$missing"; \
		if ! { export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq </dev/null && apt-get install -y -qq --no-install-recommends $$missing </dev/null; }; then \
			echo "host-tools: WARNING: could not install$$missing (continuing without)"; \
		fi; \
	fi

run: venv testbins
	$(VENV)/bin/pykern run ./testbins/forkexec

test: venv testbins test-tools
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: venv testbins bench-tools
	$(PY) bench/run.py

# The Linux Test Project's syscall tests natively and under pykern (tools/ltp.py): a table,
# a summary line and build/ltp-results.json. Not part of make test (it takes minutes).
# LTP_SRC= the source tarball (default ../shared/ltp/ltp-src.tar.gz), LTP_FOLDERS= the
# folders of testcases/kernel/syscalls (default: issue 10's), LTP_TIMEOUT_MUL= LTP's own.
ltp: venv
	LTP_SRC="$(LTP_SRC)" LTP_FOLDERS="$(LTP_FOLDERS)" LTP_TIMEOUT_MUL="$(LTP_TIMEOUT_MUL)" $(PY) tools/ltp.py

# Soak and fuzz runs that look for leaks and tracebacks (tools/soak.py): 1,000 fork/exec
# cycles with pykern's RSS and host fds sampled, the multi-process syscall fuzzer, a signal
# storm compared with native, the mutating ELF fuzzer. Not part of make test (minutes).
# SOAK_SECONDS= the fuzzer's run (default 600), SOAK_ELF_EXAMPLES= (default 1000),
# SOAK_ONLY= a comma-separated subset of cycles,sysfuzz,sigstorm,elf.
soak: venv testbins test-tools
	SOAK_SECONDS="$(SOAK_SECONDS)" SOAK_ELF_EXAMPLES="$(SOAK_ELF_EXAMPLES)" $(PY) tools/soak.py $(if $(SOAK_ONLY),--only $(SOAK_ONLY))

lint: venv
	$(VENV)/bin/ruff check pykern syscalls loader tests bench tools

clean:
	rm -f $(TESTBINS)
	rm -rf testbins/go/bin
	rm -rf build dist
