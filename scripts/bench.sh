#!/usr/bin/env bash
# make bench: the job-queue benchmarks (services/worker/cmd/jobbench), whose report replaces the
# generated part of the "## Job queue" section of BENCHMARKS.md.
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

exec bin/jobbench -worker bin/worker -out BENCHMARKS.md "$@"
