# The one front door. `make run` and `make test` install whatever is missing first.
SHELL := /bin/bash
PY_SYSTEM ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The locks, with hashes, made by `make lock` from pyproject.toml: runtime only (the image) and runtime + dev.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock

.PHONY: help install lock run stop demo test test-fast test-browser chromium fuzz fuzz-quick lint k8s-check contracts bench chaos chaos-quick clean

help:
	@echo "make run        start Kafka, SecantusDB, Keycloak, Mailpit, the SMS sink and the four services; print where to look"
	@echo "make stop       stop what an interrupted make run left behind"
	@echo "make demo       drive one order through the story against the running stack"
	@echo "make test       lint, type-check, run every test layer (unit, service, integration, e2e), then the quick fault matrix"
	@echo "make test-browser  the console's journeys in a real browser (Playwright, Debian's chromium) on the real stack"
	@echo "make fuzz       schemathesis over the four services as each role (make fuzz-quick: fewer examples)"
	@echo "make bench      issue 12's targets: completion latency, delivery rate, sustained inbox latency, ceilings, cold start, memory (python -m bench --python-db, or SECANTUS_SERVER=python: on the fallback database)"
	@echo "make chaos      the fault matrix: 1,000 orders on two replicas of each service while faults are injected"
	@echo "make contracts  regenerate the committed AsyncAPI and OpenAPI documents"
	@echo "make k8s-check  render every kustomization under deploy/k8s and validate it offline (schemas, CRDs, policy)"
	@echo "make lock       re-pin $(LOCK) and $(DEV_LOCK) (hashes, Python 3.11, linux x86_64) after a pyproject.toml change"

# Java 17 and Maven run the broker from its Maven jars; install them from the distribution if missing.
.devstack/system.ok:
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
	  echo "installing Java 17 and Maven ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven; }
	@command -v $(PY_SYSTEM) >/dev/null || { echo "$(PY_SYSTEM) is required"; exit 1; }
	@mkdir -p .devstack && touch $@

# The browser journeys drive the distribution's chromium (Playwright's own browser download is not used), with
# a CJK font so the zh-CN pages' screenshots show their text.
chromium:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || { \
	  echo "installing chromium and a CJK font ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; }

# Exactly the locked versions, each checked against its hash; then the project itself, without resolving
# anything. `pip check` catches a pyproject.toml dependency that the lock does not have yet.
$(STAMP): pyproject.toml $(DEV_LOCK) .devstack/system.ok
	@test -x $(PY) || $(PY_SYSTEM) -m venv $(VENV)
	@$(PY) -m pip install -q --require-hashes -r $(DEV_LOCK)
	@$(PY) -m pip install -q --no-deps -e .
	@$(PY) -m pip check >/dev/null || { $(PY) -m pip check; echo "$(DEV_LOCK) is behind pyproject.toml: run make lock"; exit 1; }
	@touch $@

# uv resolves for the target (CPython 3.11 on linux x86_64) whatever machine runs it, and keeps the versions
# already in the locks unless pyproject.toml asks otherwise (`make lock LOCK_ARGS=--upgrade` moves them all).
# The runtime lock is constrained to the dev lock, so the image runs the versions the tests ran.
LOCK_FLAGS := --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	--custom-compile-command "make lock" --quiet $(LOCK_ARGS)
lock:
	@test -x $(PY) || $(PY_SYSTEM) -m venv $(VENV)
	@$(PY) -m pip install -q "$$(grep -oE '"uv==[^"]+"' pyproject.toml | tr -d '"')"
	@$(VENV)/bin/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o $(DEV_LOCK)
	@$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) -c $(DEV_LOCK) -o $(LOCK)
	@echo "wrote $(LOCK) and $(DEV_LOCK)"

# Fetches and builds, once per machine, into ~/.cache/koo-suite (KOO_CACHE_DIR): the Kafka jars, Keycloak,
# SecantusDB's Rust server (cargo, 6 to 12 CPU-minutes; SECANTUS_SERVER=python skips it) and Mailpit (Go + npm).
install: $(STAMP)
	@$(PY) -m devstack jars

run: install
	@$(PY) -m devstack run

stop: install
	@$(PY) -m devstack stop

demo: install
	@$(PY) -m devstack demo

# ruff (lint and format, 110 columns), mypy strict, and the shape of the code (import-linter contracts in
# pyproject.toml: independent services, layers, a domain without I/O, no import cycles).
lint: install
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check --quiet .
	@$(VENV)/bin/mypy services shared devstack bench chaos
	@$(VENV)/bin/lint-imports --no-cache

# The quick fault matrix (100 orders, every fault kind, about 4 minutes) runs after the test layers, on a stack of
# its own: its last line says what was lost, duplicated or stuck, and it fails the target if anything was.
# pytest's testpaths include tests/browser (last): `make test` runs the browser journeys too.
test: install chromium lint k8s-check
	@$(PY) -m pytest -p no:cacheprovider --durations=15
	@$(PY) -m chaos --orders 100

test-fast: install
	@$(PY) -m pytest -p no:cacheprovider tests/unit tests/service

test-browser: install chromium
	@$(PY) -m pytest -p no:cacheprovider -m browser tests/browser

fuzz: install
	@$(PY) -m devstack fuzz

fuzz-quick: install
	@$(PY) -m devstack fuzz --quick

# Renders every kustomization (kubectl kustomize) and validates each object offline, strictly: core kinds with
# kubernetes-validate, custom resources against the CRD schemas in deploy/schemas; plus policy (pinned images,
# resources, probes, non-root), runbooks for every alert, and the generated Kafka/KEDA manifests up to date.
k8s-check: install
	@$(PY) -m devstack.k8s_check

contracts: install
	@$(PY) -m devstack contracts

bench: install
	@$(PY) -m bench

# CHAOS_ORDERS=N for another size (default 1,000; up to 200 counts as quick: shorter outages).
chaos: install
	@$(PY) -m chaos

chaos-quick: install
	@$(PY) -m chaos --orders 100

clean:
	rm -rf .devstack/kafka .devstack/secantus .devstack/mailpit .devstack/sinks .devstack/logs
