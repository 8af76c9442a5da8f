# Personal CRM — the two commands are `make run` and `make test`. `make` alone lists the targets.
.DEFAULT_GOAL := help
SHELL := /usr/bin/env bash

SERVICES := api intake-gateway worker scheduler
MODULES  := pkg migrations tools $(addprefix services/,$(SERVICES)) deploy
PKGS     := example.com/crm/...
GO       ?= go

# The Go every target builds with. go.work and each go.mod name the same version on their `go`
# line; a machine whose environment says GOTOOLCHAIN=local would refuse them, so the version is
# named here and the go command fetches that toolchain from the module proxy once.
GO_VERSION := 1.27.3
export GOTOOLCHAIN := go$(GO_VERSION)
GOFMT = $(shell GOTOOLCHAIN=$(GOTOOLCHAIN) $(GO) env GOROOT)/bin/gofmt

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
lint: vet tools/golangci-lint ## go vet, gofmt, golangci-lint (.golangci.yml) over all eight modules, the module checks
	@out=$$($(GOFMT) -l $(MODULES)); if [ -n "$$out" ]; then echo "not gofmt-ed:"; echo "$$out"; exit 1; fi
	bin/golangci-lint run --allow-serial-runners $(addsuffix /...,$(addprefix ./,$(MODULES)))
	@$(MAKE) --no-print-directory check/modules

.PHONY: vuln
# govulncheck starts from a module directory; from pkg/ the workspace pattern reaches all eight modules.
vuln: tools/govulncheck ## govulncheck every module, offline, against the pinned golang.org/x/vulndb module's OSV files
	@db=$$($(GO) mod download -json $(VULNDB_MODULE) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	[ -d "$$db/data/osv" ] || { echo "cannot download $(VULNDB_MODULE)" >&2; exit 1; }; \
	bin/govulncheck -C pkg -db "file://$$db/data/osv" $(PKGS)

# Redocly CLI, pinned; services/api/internal/httpapi/openapi_lint_test.go names the same version.
REDOCLY       := @redocly/cli@2.77.0
OPENAPI_DOCS  := $(wildcard services/*/internal/httpapi/openapi.yaml)

.PHONY: lint/openapi
lint/openapi: ## lint the OpenAPI documents with Redocly CLI (needs npx; skipped where it is absent)
	@if ! command -v npx >/dev/null 2>&1; then echo "lint/openapi: skipped, npx not found (install Node.js to lint the OpenAPI documents)"; exit 0; fi; \
	npx --yes $(REDOCLY) lint $(OPENAPI_DOCS)

.PHONY: vet
vet: ## go vet every package
	$(GO) vet $(PKGS)

.PHONY: fmt
fmt: ## gofmt every module
	$(GOFMT) -w $(MODULES)

.PHONY: check/modules
check/modules: ## build each module on its own (GOWORK=off), so no module leans on go.work; one go line everywhere
	@for f in go.work $(addsuffix /go.mod,$(MODULES)); do v=$$(sed -n 's/^go //p' $$f); [ "$$v" = "$(GO_VERSION)" ] || { echo "$$f says go $$v, the Makefile's GO_VERSION is $(GO_VERSION)"; exit 1; }; done
	@for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) build ./... ) || { echo "module $$m does not build alone"; exit 1; }; done

.PHONY: tidy
tidy: ## go mod tidy in every module, then go work sync
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy) || exit 1; done
	$(GO) work sync

# Pinned tools, installed into bin/ from the Go module proxy and built by GO_VERSION: a linter
# built by an older Go cannot type-check code whose go line is newer. The vulnerability data is
# the golang.org/x/vulndb module (its data/osv holds one OSV file per advisory, which govulncheck
# reads as a local database), so `make vuln` needs no network beyond the module proxy.
GOLANGCI_LINT_VERSION := v2.15.0
GOVULNCHECK_VERSION   := v1.9.0
VULNDB_MODULE         := golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018

# $(call tool,BINARY,MODULE,PACKAGE,VERSION): (re)install bin/BINARY unless it is MODULE@VERSION
# built by go$(GO_VERSION); fails when it cannot be installed.
define tool
	@if ! { $(GO) version -m bin/$(1) 2>/dev/null | awk -v v="go$(GO_VERSION)" 'NR==1 && $$2 != v {exit 1} $$1=="mod" && $$2=="$(2)" && $$3=="$(4)" {ok=1} END {exit !ok}'; }; then \
		echo "installing $(3)@$(4) into bin/ (go$(GO_VERSION))"; \
		GOBIN=$(CURDIR)/bin $(GO) install $(3)@$(4) || { echo "cannot install $(3)@$(4)" >&2; exit 1; }; \
	fi
endef

.PHONY: tools tools/golangci-lint tools/govulncheck
tools: tools/golangci-lint tools/govulncheck ## install the pinned golangci-lint and govulncheck into bin/
tools/golangci-lint:
	$(call tool,golangci-lint,github.com/golangci/golangci-lint/v2,github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))
tools/govulncheck:
	$(call tool,govulncheck,golang.org/x/vuln,golang.org/x/vuln/cmd/govulncheck,$(GOVULNCHECK_VERSION))

.PHONY: db/stop
db/stop: ## stop the local PostgreSQL clusters under .data/
	@scripts/devdb.sh stop dev; scripts/devdb.sh stop test

.PHONY: clean
clean: ## remove bin/ (keeps .data/; `scripts/devdb.sh destroy dev` drops the local database)
	rm -rf bin

.PHONY: ci
ci: lint test ## what CI runs, and more
