#!/usr/bin/env bash
# make run: starts the whole system on this machine. With no DATABASE_URL it starts a throwaway
# PostgreSQL under .data/pg-dev (scripts/devdb.sh), migrates it, creates a demo org once (kept in
# .data/demo-org.json) and prints its API key, then runs the four binaries until Ctrl-C. Ctrl-C
# stops the binaries only: the local PostgreSQL keeps running (scripts/devdb.sh stop dev).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# DATABASE_URL is the owner (migrations, worker, scheduler); APP_DATABASE_URL is the role that
# row-level security binds (api, intake-gateway). Without DATABASE_URL both come from devdb.
local_pg=0
if [[ -z "${DATABASE_URL:-}" ]]; then
	local_pg=1
	DATABASE_URL="$(scripts/devdb.sh start dev)"
	APP_DATABASE_URL="${APP_DATABASE_URL:-$(scripts/devdb.sh appurl dev)}"
fi
APP_DATABASE_URL="${APP_DATABASE_URL:-$DATABASE_URL}"
export DATABASE_URL
export LOG_FORMAT="${LOG_FORMAT:-console}"
# No load balancer locally: Ctrl-C stops at once instead of draining (SHUTDOWN_DRAIN_MS).
export SHUTDOWN_DRAIN_MS="${SHUTDOWN_DRAIN_MS:-0}"

for b in api intake-gateway worker scheduler; do
	[[ -x "bin/$b" ]] || { echo "bin/$b is missing: run 'make build' (make run does it)" >&2; exit 1; }
done

bin/api migrate up >/dev/null

# One demo org per database, reused across runs while it exists.
demo=.data/demo-org.json
mkdir -p .data
# The marker ties the demo org to this database and to the API key format (v2: the key names its
# org), so a stale file from another database or an older build is replaced.
marker="v2:$(printf '%s' "$DATABASE_URL" | sha256sum | cut -c1-16)"
if [[ -f "$demo" ]] && [[ "$(cat "$demo.db" 2>/dev/null)" == "$marker" ]]; then
	:
else
	bin/api org create --name "Demo org" >"$demo"
	echo "$marker" >"$demo.db"
fi
org_id="$(sed -E 's/.*"orgId":"([^"]+)".*/\1/' "$demo")"
api_key="$(sed -E 's/.*"apiKey":"([^"]+)".*/\1/' "$demo")"

pids=()
stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping..."
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait || true
	if ((local_pg)); then
		echo "the local PostgreSQL (.data/pg-dev) is still running: scripts/devdb.sh stop dev stops it"
	fi
}
trap stop INT TERM EXIT

api_addr="${API_ADDR:-:3000}" intake_addr="${INTAKE_ADDR:-:3001}"
worker_addr="${WORKER_ADDR:-:3002}" scheduler_addr="${SCHEDULER_ADDR:-:3003}"
# url_of turns a listen address (":3000", "127.0.0.1:3000") into a URL to call it by.
url_of() { if [[ "$1" == :* ]]; then echo "http://localhost$1"; else echo "http://$1"; fi; }

DATABASE_URL="$APP_DATABASE_URL" HTTP_ADDR="$api_addr" bin/api serve & pids+=($!)
DATABASE_URL="$APP_DATABASE_URL" HTTP_ADDR="$intake_addr" bin/intake-gateway serve & pids+=($!)
# The worker's runtime settings of docker-compose.yml (README "Docker"), unless the caller set them.
GOMAXPROCS="${GOMAXPROCS:-1}" GOGC="${GOGC:-400}" HTTP_ADDR="$worker_addr" bin/worker serve & pids+=($!)
HTTP_ADDR="$scheduler_addr" bin/scheduler serve & pids+=($!)

if ((local_pg)); then
	pg_note="
  Ctrl-C stops the four services but leaves the local PostgreSQL running, with its data, so that
  the next 'make run' starts at once. Stop it with: scripts/devdb.sh stop dev
  Delete it and its data with:                    scripts/devdb.sh destroy dev
"
else
	pg_note=""
fi

cat <<INFO

  Personal CRM is running (Ctrl-C stops it).
    database        $DATABASE_URL
    api             $(url_of "$api_addr")   (docs: /api/docs, health: /healthz, metrics: /metrics)
    intake-gateway  $(url_of "$intake_addr")
    worker          $(url_of "$worker_addr")/metrics
    scheduler       $(url_of "$scheduler_addr")/metrics
    demo org        $org_id
    demo API key    $api_key   (shown again from $demo)

  Enqueue a noop job and watch the worker run it:
    DATABASE_URL='$DATABASE_URL' bin/worker enqueue --org $org_id --type noop --payload '{"sleepMs":100}'

  Feed leads in: README, "Feeding leads in".
$pg_note
INFO

# Any binary that exits brings the others down.
wait -n "${pids[@]}" || true
