#!/usr/bin/env bash
# make bench: the job-queue benchmarks (services/worker/cmd/jobbench), whose report replaces the
# generated part of the "## Job queue" section of BENCHMARKS.md, then the API benchmarks
# (services/api/cmd/apibench, section "## API").
#
# BENCH_DATABASE_URL names the PostgreSQL server: a role that may create and drop databases
# (bench_jobs_*, dropped afterwards). Without it the devdb test cluster under .data/pg-test is
# started and its superuser is used. Takes about 3 minutes on 2 cores; run it on an otherwise
# idle machine, since PostgreSQL, the workers and the load generator share the cores. Arguments
# go to jobbench (go run ./services/worker/cmd/jobbench -h lists them), e.g.
#
#   scripts/bench.sh -scenarios latency -out ''
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mkdir -p bin
go build -o bin/worker ./services/worker
go build -o bin/jobbench ./services/worker/cmd/jobbench

if [[ -z "${BENCH_DATABASE_URL:-}" ]]; then
	scripts/devdb.sh start test >/dev/null
	BENCH_DATABASE_URL="$(scripts/devdb.sh superurl test)"
fi
export BENCH_DATABASE_URL

go build -o bin/intake-gateway ./services/intake-gateway && go run ./services/intake-gateway/cmd/gatewaybench -gateway bin/intake-gateway -out BENCHMARKS.md
bin/jobbench -worker bin/worker -out BENCHMARKS.md "$@"

# The API benchmarks (services/api/cmd/apibench): 1,000,000 leads in a bench_api database (dropped
# afterwards), the real bin/api against a floor handler, into the "## API" section. About 3-4
# minutes; APIBENCH_FLAGS passes flags to it (go run ./services/api/cmd/apibench -h lists them).
go build -o bin/api ./services/api
go build -o bin/apibench ./services/api/cmd/apibench
# shellcheck disable=SC2086 # APIBENCH_FLAGS is a list of flags
bin/apibench -api bin/api -out BENCHMARKS.md ${APIBENCH_FLAGS:-}
