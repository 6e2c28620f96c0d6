# dlrs-provision developer and CI targets.
#   make demo       set up, start the local sandbox, build the cluster on it, run the benchmarks
#   make test       everything CI runs: lint, unit, role (molecule) and end-to-end tests
#   make test-fast  lint and unit tests only (no containers), for the edit loop
#   make settings   write the files generated from dlrs_provision/settings.py (defaults role, tables, sample)
#   make molecule   every role scenario (ROLES="preflight" for one role's)
#   make e2e        the end-to-end tests alone (sandbox up, `cluster` on it, checks)
#   make e2e-clearlinux  the end-to-end tests on an all-Clear-Linux sandbox (default settings)
#   make e2e-day2   the day-2 end-to-end tests (scale, remove-node, reset, upgrade); reset and upgrade are not in `make test`
#   make collection the roles as the Ansible collection dlrs.provision: dist/dlrs-provision-*.tar.gz
#   make bench-scale  adding one worker (scale) beside building a 1-node cluster, on a fresh sandbox (BENCH_ARGS="--os mixed")
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Python 3.12 is needed by ansible-core 2.21; this machine provides it through pyenv.
PYTHON ?= $(shell (pyenv prefix 3.12.1 2>/dev/null | sed 's|$$|/bin/python3.12|') || command -v python3.12)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml tests/harness/pyproject.toml | sha256sum | cut -c1-12)

.PHONY: help venv settings lint unit test-fast test e2e e2e-clearlinux e2e-day2 molecule collection demo bench-scale clean

help:
	@sed -n 's/^#   //p' Makefile

$(STAMP): pyproject.toml tests/harness/pyproject.toml
	@test -x "$(PYTHON)" || { echo "Python 3.12 not found (tried: '$(PYTHON)'); set PYTHON=/path/to/python3.12" >&2; exit 1; }
	rm -rf $(VENV)
	"$(PYTHON)" -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the product (editable, with the dev tools) and the test harness beside it (tests/harness:
	# the sandbox, which adds `dlrs-provision sandbox`)
	$(BIN)/pip install -q -e '.[dev]' -e tests/harness
	touch $@

venv: $(STAMP)

settings: venv
	$(BIN)/python -m dlrs_provision.settings_gen

lint: venv
	$(BIN)/python -m dlrs_provision.settings_gen --check
	$(BIN)/ruff check setup.py dlrs_provision tests roles tests/standins/swupd-stand-in tests/standins/clrtrust-stand-in tests/standins/k8s/*-stand-in
	$(BIN)/ruff format --check setup.py dlrs_provision tests roles tests/standins/swupd-stand-in tests/standins/clrtrust-stand-in tests/standins/k8s/*-stand-in
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint -q --offline --profile production playbooks roles

unit: venv
	$(BIN)/pytest -q tests/unit --durations=10

test-fast: lint unit

test: venv
	bash tests/run-all.sh

e2e: venv
	$(BIN)/dlrs-provision sandbox docker
	$(BIN)/pytest tests/e2e --durations=15

e2e-day2: venv
	$(BIN)/dlrs-provision sandbox docker
	$(BIN)/pytest tests/e2e/test_day2_*.py --durations=10

e2e-clearlinux: venv
	$(BIN)/dlrs-provision sandbox docker
	$(BIN)/pytest tests/e2e_clearlinux --durations=5

molecule: venv
	$(BIN)/python tests/molecule/run.py $(ROLES)

collection: venv
	$(BIN)/python -m dlrs_provision.collection build/collection
	$(BIN)/ansible-galaxy collection build --force --output-path dist build/collection

demo: venv
	bash tests/demo.sh

bench-scale: venv
	$(BIN)/dlrs-provision sandbox docker
	$(BIN)/python tests/bench/scale_vs_build.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
