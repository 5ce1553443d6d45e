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
TESTBINS := $(TESTBIN_SRC:.c=) $(PYKERN_ONLY_SRC:.c=)

.PHONY: all venv testbins run test bench lint clean

all: venv testbins

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

testbins: $(TESTBINS)
	chmod +x testbins/shebang.sh

testbins/%_pie: testbins/%_pie.c
	$(CC) $(filter-out -static,$(CFLAGS)) -static-pie -fPIE -o $@ $<

testbins/pykern_only/dynamic: testbins/pykern_only/dynamic.c
	$(CC) -O2 -o $@ $<

testbins/%: testbins/%.c
	$(CC) $(CFLAGS) -o $@ $<

run: venv testbins
	$(VENV)/bin/pykern run ./testbins/forkexec

test: venv testbins
	$(PY) -m pytest -q -p no:cacheprovider tests

lint: venv
	$(VENV)/bin/ruff check pykern syscalls loader tests

clean:
	rm -f $(TESTBINS)
