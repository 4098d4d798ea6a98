# Two commands for a fresh machine: `make demo` and `make test`. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
export OMP_WAIT_POLICY := PASSIVE
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: setup lint test test-slow test-all demo browser java bench lock

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9 2>&1 | grep -v '^WARNING: Location' || true
	$(VENV)/bin/uv pip sync --quiet --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

# Headless Chromium from Debian, for the report's browser test.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "warning: chromium missing and not root; browser tests will be skipped"; fi; }

# Debian's OpenJDK, for the Spark engine (PySpark 4 needs Java 17+) and its tests.
java:
	@command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
	      || echo "warning: could not install openjdk-17-jre-headless; Spark tests will fail"; \
	  else echo "warning: java missing and not root; install openjdk-17-jre-headless for the Spark engine"; fi; }

lint: setup
	$(VENV)/bin/ruff check src bench tests

test: setup browser lint
	$(PY) -m pytest

# Only the tests marked slow (crash-resume of a tuning study, the training CLI end to end, the
# Spark engine's spec and parity tests).
test-slow: setup java
	$(PY) -m pytest -m slow

# Everything, slow tests included.
test-all: setup browser java
	$(PY) -m pytest -m ""

demo: setup
	$(PY) -m falls_risk.demo

bench: setup java
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Re-resolve the pinned dependency set after editing pyproject.toml.
lock:
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet -o requirements.lock
