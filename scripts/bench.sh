#!/usr/bin/env bash
# make bench: the intake gateway and the lead pipeline (services/intake-gateway/cmd/gatewaybench,
# "## Intake gateway"), the job queue (services/worker/cmd/jobbench, "## Job queue"), then the
# API and the deal reads (services/api/cmd/apibench, "## API" and "## Deals API"); each replaces
# the generated parts of its sections of BENCHMARKS.md.
#
# BENCH_DATABASE_URL names the PostgreSQL server: a role that may create and drop databases
# (bench_* databases, dropped afterwards). Without it the devdb test cluster under .data/pg-test
# is started and its superuser is used. Takes about 15 minutes on 2 cores; run it on an otherwise
# idle machine, since PostgreSQL, the workers and the load generator share the cores. Each step
# builds its binaries from the working tree when it starts, so leave the tree alone while it runs
# (or run it from a separate `git worktree`). Arguments
# go to jobbench (go run ./services/worker/cmd/jobbench -h lists them), e.g.
#
#   scripts/bench.sh -scenarios latency -out ''
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The Go that go.work names (the Makefile's GO_VERSION); GOTOOLCHAIN=local would refuse it.
export GOTOOLCHAIN=go1.27.3

mkdir -p bin
go build -o bin/worker ./services/worker
go build -o bin/jobbench ./services/worker/cmd/jobbench

if [[ -z "${BENCH_DATABASE_URL:-}" ]]; then
	scripts/devdb.sh start test >/dev/null
	BENCH_DATABASE_URL="$(scripts/devdb.sh superurl test)"
fi
export BENCH_DATABASE_URL

# The intake gateway (services/intake-gateway/cmd/gatewaybench, section "## Intake gateway"):
# signed webhooks, a CSV upload, and the lead pipeline (10,000 webhook leads through the gateway
# and two bin/worker processes to routed). GATEWAYBENCH_FLAGS passes flags to it, e.g.
# GATEWAYBENCH_FLAGS=-pipeline-only.
# shellcheck disable=SC2086 # GATEWAYBENCH_FLAGS is a list of flags
go build -o bin/intake-gateway ./services/intake-gateway && go run ./services/intake-gateway/cmd/gatewaybench -gateway bin/intake-gateway -worker bin/worker -out BENCHMARKS.md ${GATEWAYBENCH_FLAGS:-}
bin/jobbench -worker bin/worker -out BENCHMARKS.md "$@"

# The API benchmarks (services/api/cmd/apibench): 1,000,000 leads in a bench_api database (dropped
# afterwards), the real bin/api against a floor handler, into the "## API" section; then 100,000
# deals of one org (GET /deals, GET /analytics/pipeline) into the "## Deals API" section. About
# 4-5 minutes; APIBENCH_FLAGS passes flags to it (go run ./services/api/cmd/apibench -h lists
# them), e.g. APIBENCH_FLAGS=-deals-only.
go build -o bin/api ./services/api
go build -o bin/apibench ./services/api/cmd/apibench
# shellcheck disable=SC2086 # APIBENCH_FLAGS is a list of flags
bin/apibench -api bin/api -out BENCHMARKS.md ${APIBENCH_FLAGS:-}
