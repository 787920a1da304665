# scimsync developer entry points. `make` alone lists the targets.
# Local infrastructure (PostgreSQL, RabbitMQ) runs as plain processes on 127.0.0.1, with data
# under .local/: see deploy/local/infra.sh. No docker needed.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

INFRA := deploy/local/infra.sh
SERVICES := deploy/local/services.sh
SCIMCTL := target/debug/scimctl
# The simulator and load generator (a tool, not shipped in the image).
SCIMSIM := target/debug/scimsim
# Exports the database and AMQP URLs for the services and the tests (SCIMSYNC_TEST_*).
LOCAL_ENV := eval "$$($(INFRA) env)"

.PHONY: help up down infra require-nextest test lint fmt migrate logs status deploy-check demo drill bench

help: ## List the targets
	@echo "Usage: make <target>"
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

up: ## Install and start PostgreSQL + RabbitMQ, build, migrate, start the services
	@$(INFRA) install
	$(INFRA) start
	cargo build --bins
	$(LOCAL_ENV)
	echo "+ $(SCIMCTL) migrate"
	$(SCIMCTL) migrate
	$(SERVICES) start
	echo
	echo "scimsync is up:"
	echo "  ingest (webhooks)    http://127.0.0.1:8080"
	echo "  admin console        http://127.0.0.1:8081/  (docs/console.md)"
	echo "  admin API            http://127.0.0.1:8081/api/v1"
	echo "  SCIM 2.0 (tenant URL) http://127.0.0.1:8082/scim/v2"
	echo "  RabbitMQ management  http://127.0.0.1:55673  (guest / guest)"
	echo "  PostgreSQL           $$SCIMSYNC__DATABASE__URL"
	echo "Logs: make logs    Stop everything: make down"

demo: up ## Start everything, simulate organisations through both doors (Stytch, SCIM), print summaries
	$(LOCAL_ENV)
	echo "+ $(SCIMSIM) simulate --users 1000 --order random --churn 200 --duplicates 0.05"
	$(SCIMSIM) simulate --users 1000 --order random --churn 200 --duplicates 0.05
	echo "+ $(SCIMSIM) simulate --via scim --users 1000 --churn 200 --duplicates 0.05"
	$(SCIMSIM) simulate --via scim --users 1000 --churn 200 --duplicates 0.05
	echo "+ $(SCIMSIM) simulate --via scim --dialect entra-2020 --users 300 --churn 60 --seed 2"
	$(SCIMSIM) simulate --via scim --dialect entra-2020 --users 300 --churn 60 --seed 2

drill: up ## Start everything, then crash each part of it during a simulation; nothing may be lost
	deploy/local/drill.sh

bench: ## Benchmark a release build of everything (long); writes deploy/bench/results.md
	deploy/bench/run.sh

down: ## Stop the services, then PostgreSQL and RabbitMQ (data stays in .local/)
	$(SERVICES) stop
	$(INFRA) stop

infra: ## Install and start PostgreSQL + RabbitMQ only
	$(INFRA) install
	$(INFRA) start

status: ## Show whether the infrastructure and the services are up
	$(INFRA) status || true
	$(SERVICES) status || true

deploy-check: ## Render, validate and scan k8s/, the Dockerfile and compose (offline)
	deploy/checks/run.sh

# Some tests read process-wide counters (what the workers handled), which only nextest's one
# process per test keeps to one test: `cargo test` would run them side by side, so it is no
# fallback.
require-nextest:
	@if ! cargo nextest --version >/dev/null 2>&1; then
		echo "make test needs cargo-nextest (it runs each test in a process of its own)." >&2
		echo "Install it with: cargo install cargo-nextest --locked   (.ci/run does)" >&2
		exit 1
	fi

test: require-nextest deploy-check ## Run every test with cargo-nextest (starts the local infrastructure first)
	$(INFRA) install
	$(INFRA) start
	$(LOCAL_ENV)
	cargo nextest run --workspace --no-fail-fast

lint: ## Check formatting and run clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	cargo fmt --all

migrate: ## Apply the database migrations to the local database
	$(LOCAL_ENV)
	cargo build --bin scimctl
	$(SCIMCTL) migrate

logs: ## Follow the service logs
	$(SERVICES) logs
