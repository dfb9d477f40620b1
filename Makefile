# EVCharging: every command a user or CI needs. `make help` lists them.
# Docker Compose reads .env (generated, git-ignored) for the compose file,
# the project name "evcharging", the secrets and the images to use.

SHELL := /bin/bash
COMPOSE := docker compose
VENV := .venv
PY := $(VENV)/bin/python
CP ?= 3
# `make up ROLE=… CENTRAL_HOST=… KIT=… CP=… KAFKA_NODES=1|3`: empty means "as .env says" (scripts/role.sh).
ROLE ?=
CENTRAL_HOST ?=
KIT ?=
KAFKA_NODES ?=
CP_AT_SITE = $(if $(filter command line,$(origin CP)),$(CP),)

.DEFAULT_GOAL := help
.PHONY: help setup test-setup secrets pki images preflight up down doctor logs ps scale tools test test-unit soak bench lint docs ocpp-charger clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## install and start what the stack needs (Docker engine, Compose v2); once per machine
	@scripts/setup.sh

secrets: ## create .env with random secrets (once; kept afterwards)
	@scripts/dotenv.sh secrets

pki: secrets ## the project CA and the central's certificate, in pki/ (once; re-issued when CENTRAL_HOST changes)
	@scripts/pki.sh

images: setup secrets ## make sure Kafka, MariaDB and Python base images exist (stand-ins if no registry)
	@infra/standins/build.sh
	@scripts/dotenv.sh images infra/images.env

preflight: images ## check that the data volumes were made with this .env's secrets
	@scripts/preflight.sh

up: images ## start this machine's part, wait until healthy: everything, or ROLE=central|site|driver (docs/deploy.md)
	@ROLE=$(ROLE) CENTRAL_HOST=$(CENTRAL_HOST) KIT=$(KIT) CP=$(CP_AT_SITE) KAFKA_NODES=$(KAFKA_NODES) scripts/role.sh

down: ## stop and remove the stack's containers (data volumes are kept)
	$(COMPOSE) down --remove-orphans

logs: ## follow the logs of every service
	$(COMPOSE) logs -f --tail=100

doctor: ## check each link this machine's role needs: one line each, ok or what to fix
	@scripts/doctor.sh

ps: ## show the stack's containers and their health
	$(COMPOSE) ps

scale: ## run CP=N charging points (each its engine and its monitor); the same as --scale cp-engine=N
	$(COMPOSE) up -d --wait --wait-timeout 300 --scale cp-engine=$(CP)

tools: preflight pki ## start the optional tools (Kafka CLI, MariaDB client, phpMyAdmin read-only)
	$(COMPOSE) --profile tools up -d --wait --wait-timeout 300
	@# the read-only user phpMyAdmin logs in as, also on volumes made before it existed
	@$(COMPOSE) exec -T mariadb bash /docker-entrypoint-initdb.d/02-readonly.sh
	@echo "phpMyAdmin (read-only): http://localhost:$${PMA_HOST_PORT:-8081}"

$(PY): requirements-dev.txt constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(PY)

test: test-setup images $(PY) ## unit, integration (real Kafka + MariaDB) and end-to-end (the compose stack) tests
	$(PY) -m pytest

soak: test-setup images $(PY) ## 10 minutes of charging with a component killed every minute (SOAK_MINUTES)
	$(PY) -m pytest -s tests/soak

bench: images pki $(PY) ## load, latency and throughput against raw Kafka, on a stack of its own (BENCH_ARGS)
	PYTHONPATH=services/cp-engine $(PY) -m bench $(BENCH_ARGS)

test-setup: # setup, plus the browser the page's tests drive
	@scripts/setup.sh --tests

test-unit: $(PY) ## the unit tests alone: no Docker needed
	$(PY) -m pytest lib services bench

lint: $(PY) ## ruff, mypy and vulture (dead code)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m vulture

# The services' settings classes, which docs/configuration.md is generated from.
SERVICE_PATHS := services/central-auth:services/central-stream:services/central-web:services/cp-engine:services/cp-monitor:services/driver:services/ocpp-gateway
docs: $(PY) ## regenerate the generated documents: docs/protocol.md and docs/configuration.md
	$(PY) -m evcharging.protocol_doc > docs/protocol.md
	PYTHONPATH=$(SERVICE_PATHS) $(PY) -m evcharging.configuration_doc > docs/configuration.md

ocpp-charger: ## provision an OCPP charger as a CP: make ocpp-charger ID=OCPP01 LOCATION="Alicante, Muelle 3" PRICE=0.35
	@test -n "$(ID)" -a -n "$(LOCATION)" -a -n "$(PRICE)" || { echo 'usage: make ocpp-charger ID=… LOCATION="…" PRICE=… (docs/ocpp.md)' >&2; exit 2; }
	$(COMPOSE) exec -T central-auth python -m central_auth.chargers add "$(ID)" --location "$(LOCATION)" --price "$(PRICE)"

clean: ## remove the stack, its volumes and its built images
	$(COMPOSE) --profile tools down --remove-orphans --volumes --rmi local
	rm -rf test-results .pytest_cache .mypy_cache .ruff_cache
