# Personal CRM — the two commands are `make run` and `make test`. `make` alone lists the targets.
.DEFAULT_GOAL := help
SHELL := /usr/bin/env bash

SERVICES := api intake-gateway worker scheduler
MODULES  := pkg migrations $(addprefix services/,$(SERVICES))
PKGS     := example.com/crm/...
GO       ?= go

# The Go every target builds with. go.work and each go.mod name the same version on their `go`
# line; a machine whose environment says GOTOOLCHAIN=local would refuse them, so the version is
# named here and the go command fetches that toolchain from the module proxy once.
GO_VERSION := 1.27.3
export GOTOOLCHAIN := go$(GO_VERSION)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z/_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  \033[36m%-16s\033[0m %s\n",$$1,$$2}'

.PHONY: build
build: ## build the four binaries into bin/
	@mkdir -p bin
	@for s in $(SERVICES); do $(GO) build -trimpath -o bin/$$s ./services/$$s || exit 1; done
	@echo "built: $(addprefix bin/,$(SERVICES))"

.PHONY: run
run: build ## start the whole system (a local PostgreSQL under .data/ when DATABASE_URL is unset)
	@scripts/run.sh

.PHONY: test
test: ## run every test with -race against a real PostgreSQL (started under .data/ when none is set)
	@scripts/test.sh

.PHONY: bench
bench: build ## run the benchmarks and write their figures to BENCHMARKS.md
	@scripts/bench.sh

.PHONY: migrate
migrate: build ## migrate DATABASE_URL (or the local dev database) up; `make migrate CMD=down|version`
	@scripts/migrate.sh $(or $(CMD),up)

.PHONY: lint
lint: vet ## go vet, gofmt and the module checks (golangci-lint too when installed: make tools)
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "not gofmt-ed:"; echo "$$out"; exit 1; fi
	@if [ -x bin/golangci-lint ]; then for m in $(MODULES); do (cd $$m && $(CURDIR)/bin/golangci-lint run ./...) || exit 1; done; fi
	@$(MAKE) --no-print-directory check/modules

.PHONY: vet
vet: ## go vet every package
	$(GO) vet $(PKGS)

.PHONY: fmt
fmt: ## gofmt every module
	gofmt -w $(MODULES)

.PHONY: check/modules
check/modules: ## build each module on its own (GOWORK=off), so no module leans on go.work; one go line everywhere
	@for f in go.work $(addsuffix /go.mod,$(MODULES)); do v=$$(sed -n 's/^go //p' $$f); [ "$$v" = "$(GO_VERSION)" ] || { echo "$$f says go $$v, the Makefile's GO_VERSION is $(GO_VERSION)"; exit 1; }; done
	@for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) build ./... ) || { echo "module $$m does not build alone"; exit 1; }; done

.PHONY: tidy
tidy: ## go mod tidy in every module, then go work sync
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy) || exit 1; done
	$(GO) work sync

.PHONY: tools
tools: ## install the pinned golangci-lint into bin/
	GOBIN=$(CURDIR)/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

.PHONY: db/stop
db/stop: ## stop the local PostgreSQL clusters under .data/
	@scripts/devdb.sh stop dev; scripts/devdb.sh stop test

.PHONY: clean
clean: ## remove bin/ (keeps .data/; `scripts/devdb.sh destroy dev` drops the local database)
	rm -rf bin

.PHONY: ci
ci: lint test ## what CI runs, and more
