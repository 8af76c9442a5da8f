#!/usr/bin/env bash
# make bench: the intake gateway and the lead pipeline (services/intake-gateway/cmd/gatewaybench,
# "## Intake gateway"), the job queue and the won deals' invoices and contracts
# (services/worker/cmd/jobbench, "## Job queue" and "## Money"), then the API, the deal reads and
# the invoice documents (services/api/cmd/apibench, "## API", "## Deals API" and "## Documents
# API"), the scheduled sweeps over one large org (apibench -sweeps-only, "## Scheduled sweeps"),
# the analytics routes over one large org (apibench -analytics-only, "## Analytics API"),
# then the scheduler at scale (services/scheduler/cmd/schedbench, "## Scheduler"); each replaces
# the generated parts of its sections of BENCHMARKS.md.
#
# BENCH_DATABASE_URL names the PostgreSQL server: a role that may create and drop databases
# (bench_* databases, dropped afterwards). Without it the devdb test cluster under .data/pg-test
# is started and its superuser is used. Takes about 25 minutes on 2 cores; run it on an otherwise
# idle machine, since PostgreSQL, the workers and the load generator share the cores. Each step
# builds its binaries from the working tree when it starts, so leave the tree alone while it runs
# (or run it from a separate `git worktree`). Arguments
# go to jobbench (go run ./services/worker/cmd/jobbench -h lists them), e.g.
#
#   scripts/bench.sh -scenarios latency -out ''
#
# BENCH_STEPS names the steps to run (default: gateway jobs api sweeps analytics scheduler), e.g. only the
# money benchmark, only the documents benchmark and only the sweeps:
#
#   BENCH_STEPS=jobs scripts/bench.sh -money-only
#   BENCH_STEPS=api APIBENCH_FLAGS=-documents-only scripts/bench.sh
#   BENCH_STEPS=sweeps scripts/bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The Go that go.work names (the Makefile's GO_VERSION); GOTOOLCHAIN=local would refuse it.
export GOTOOLCHAIN=go1.27.3

steps=" ${BENCH_STEPS:-gateway jobs api sweeps analytics scheduler} "
step() { [[ "$steps" == *" $1 "* ]]; }

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
if step gateway; then
	# shellcheck disable=SC2086 # GATEWAYBENCH_FLAGS is a list of flags
	go build -o bin/intake-gateway ./services/intake-gateway && go run ./services/intake-gateway/cmd/gatewaybench -gateway bin/intake-gateway -worker bin/worker -out BENCHMARKS.md ${GATEWAYBENCH_FLAGS:-}
fi
# The job queue, and the money scenario: 10,000 deals of one org won through the deal service
# while two bin/worker processes invoice them and draw up their contracts (section "## Money";
# -money-only runs it alone).
if step jobs; then
	bin/jobbench -worker bin/worker -out BENCHMARKS.md "$@"
fi

# The API benchmarks (services/api/cmd/apibench): 1,000,000 leads in a bench_api database (dropped
# afterwards), the real bin/api against a floor handler, into the "## API" section; then 100,000
# deals of one org (GET /deals, GET /analytics/pipeline) into the "## Deals API" section, and
# invoices with stored PDFs (GET /invoices/{id}/document beside GET /leads/{id}) into the
# "## Documents API" section. About 5-6 minutes; APIBENCH_FLAGS passes flags to it (go run
# ./services/api/cmd/apibench -h lists them), e.g. APIBENCH_FLAGS=-deals-only or -documents-only.
if step api; then
	go build -o bin/api ./services/api
	go build -o bin/apibench ./services/api/cmd/apibench
	# shellcheck disable=SC2086 # APIBENCH_FLAGS is a list of flags
	bin/apibench -api bin/api -out BENCHMARKS.md ${APIBENCH_FLAGS:-}
fi

# The scheduled sweeps (apibench -sweeps-only, section "## Scheduled sweeps"): one org with
# 1,000,000 leads and 100,000 deals, each of the seven cron checks run in apibench's process
# (the auto-priority one twice: the backfill of random priorities, and the recurring sweep after a
# day's changes) beside a PATCH /leads/{id} load on that org through bin/api: wall time, longest
# transaction, PATCH p99 idle and during. SWEEPBENCH_FLAGS passes more flags, e.g.
# SWEEPBENCH_FLAGS='-sweep-max 10m' to stop a sweep that runs longer and report it unfinished, or
# SWEEPBENCH_FLAGS='-sweeps recalc_auto_priority_backfill,recalc_ghost_risk,recalc_auto_priority'
# for the lead sweeps alone.
if step sweeps; then
	go build -o bin/api ./services/api
	go build -o bin/apibench ./services/api/cmd/apibench
	# shellcheck disable=SC2086 # SWEEPBENCH_FLAGS is a list of flags
	bin/apibench -sweeps-only -api bin/api -out BENCHMARKS.md ${SWEEPBENCH_FLAGS:-}
fi

# The analytics routes (apibench -analytics-only, section "## Analytics API"): one org with
# 1,000,000 leads and 100,000 deals beside three smaller orgs; funnel, velocity, dashboard and
# pipeline of that org, the timeline and asOf of a lead with 1,000 events, and GET /leads/{id},
# through bin/api. ANALYTICSBENCH_FLAGS passes more flags, e.g. ANALYTICSBENCH_FLAGS='-duration 5s'.
if step analytics; then
	go build -o bin/api ./services/api
	go build -o bin/apibench ./services/api/cmd/apibench
	# shellcheck disable=SC2086 # ANALYTICSBENCH_FLAGS is a list of flags
	bin/apibench -analytics-only -db bench_analytics -api bin/api -out BENCHMARKS.md ${ANALYTICSBENCH_FLAGS:-}
fi

# The scheduler at scale (services/scheduler/cmd/schedbench, section "## Scheduler"): 10,000
# per-minute noop cron tasks (1,000 orgs × 10) and two bin/scheduler processes; the fire lag of
# three minute slots and the CPU spent. About 4-5 minutes; SCHEDBENCH_FLAGS passes flags to it
# (go run ./services/scheduler/cmd/schedbench -h lists them), e.g. SCHEDBENCH_FLAGS='-orgs 100'.
if step scheduler; then
	go build -o bin/scheduler ./services/scheduler
	go build -o bin/schedbench ./services/scheduler/cmd/schedbench
	# shellcheck disable=SC2086 # SCHEDBENCH_FLAGS is a list of flags
	bin/schedbench -scheduler bin/scheduler -out BENCHMARKS.md ${SCHEDBENCH_FLAGS:-}
fi
