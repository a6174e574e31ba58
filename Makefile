# One-command set-up for a fresh Debian 12 machine: system packages, .venv, the package.
# Every step skips what is already done, so a second run takes a second or two.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBIAN_PACKAGES := chromium postgresql pgbouncer

.PHONY: setup system venv test demo lint clean

setup: system venv

system:  ## Debian packages: chromium (PNG export), PostgreSQL + PgBouncer (live target)
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check autoslo tests scripts benchmarks

test: setup lint  ## set up everything, then run the whole suite
	$(BIN)/python -m pytest

demo: setup  ## set up everything, then run the main job: tune -> execute -> plot through the flows
	$(BIN)/autoslo validate
	RAY_AUTH_MODE=disabled PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/python flows/demo.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
