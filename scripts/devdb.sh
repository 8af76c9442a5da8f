#!/usr/bin/env bash
# devdb.sh — a throwaway local PostgreSQL for `make run`, `make test` and CI,
# used when no DATABASE_URL is given. Runs from the machine's PostgreSQL
# binaries (installs Debian's `postgresql` package if there are none).
#
#   scripts/devdb.sh start    [NAME]  start (initdb once) and print the owner DATABASE_URL
#   scripts/devdb.sh url      [NAME]  print the owner URL if running (exit 1 otherwise)
#   scripts/devdb.sh superurl [NAME]  print the superuser URL if running (exit 1 otherwise)
#   scripts/devdb.sh appurl   [NAME]  print the app-role URL (crm_api, bound by row-level security)
#   scripts/devdb.sh stop     [NAME]  stop the server (no error if not running)
#   scripts/devdb.sh destroy  [NAME]  stop and delete .data/pg-NAME
#
# NAME defaults to "dev" (tests use "test"). Layout under the repo root:
#   .data/pg-NAME/data/        PGDATA
#   .data/pg-NAME/run/         unix socket dir
#   .data/pg-NAME/port         TCP port (127.0.0.1 only)
#   .data/pg-NAME/server.log   server log
# Only the URL goes to stdout; everything else goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DATA_ROOT="$ROOT/.data"
BASE_PORT=55432

# The caller's libpq/server environment must not redirect anything we do.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' || true)

log() { printf 'devdb: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	echo "usage: $0 {start|url|superurl|appurl|stop|destroy} [NAME]" >&2
	exit 2
}

CMD="${1:-}"
NAME="${2:-dev}"
[[ -n "$CMD" ]] || usage
[[ "$NAME" =~ ^[A-Za-z0-9_-]+$ ]] || die "invalid NAME '$NAME' (letters, digits, _ and - only)"

DIR="$DATA_ROOT/pg-$NAME"
PGDATA_DIR="$DIR/data"
RUN_DIR="$DIR/run"
PORT_FILE="$DIR/port"
LOG_FILE="$DIR/server.log"

IS_ROOT=0
[[ "$(id -u)" == 0 ]] && IS_ROOT=1

# ---------------------------------------------------------------- binaries ---

BIN=""

# find_bin sets BIN to a directory holding initdb/pg_ctl/postgres. Prefers the
# major version an existing data dir was created with, then the newest
# /usr/lib/postgresql/*/bin, then whatever is on PATH / pg_config.
find_bin() {
	local v d
	if [[ -f "$PGDATA_DIR/PG_VERSION" ]]; then
		v="$(cat "$PGDATA_DIR/PG_VERSION")"
		if [[ -x "/usr/lib/postgresql/$v/bin/initdb" ]]; then
			BIN="/usr/lib/postgresql/$v/bin"
			return 0
		fi
	fi
	d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5V | while read -r d; do
		[[ -x "$d/initdb" ]] && echo "$d"
	done | tail -n1)"
	if [[ -n "$d" ]]; then
		BIN="$d"
		return 0
	fi
	if command -v pg_config >/dev/null 2>&1; then
		d="$(pg_config --bindir 2>/dev/null || true)"
		if [[ -n "$d" && -x "$d/initdb" ]]; then
			BIN="$d"
			return 0
		fi
	fi
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		BIN="$(dirname "$(command -v initdb)")"
		return 0
	fi
	return 1
}

ensure_bin() {
	find_bin && return 0
	if [[ $IS_ROOT == 1 ]] && command -v apt-get >/dev/null 2>&1; then
		log "no PostgreSQL server binaries found; installing Debian's postgresql package"
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
		find_bin && return 0
	fi
	die "no PostgreSQL server binaries (initdb) found; install PostgreSQL or set DATABASE_URL"
}

# Client tools: prefer the server's bin dir, fall back to PATH (for url/stop
# on a machine whose server binaries vanished).
tool() {
	if [[ -n "$BIN" && -x "$BIN/$1" ]]; then
		echo "$BIN/$1"
	elif command -v "$1" >/dev/null 2>&1; then
		command -v "$1"
	else
		die "$1 not found"
	fi
}

# ------------------------------------------------------------------- users ---

RUNUSER=""
if [[ $IS_ROOT == 1 ]]; then
	for c in runuser /usr/sbin/runuser /sbin/runuser; do
		if command -v "$c" >/dev/null 2>&1; then RUNUSER="$(command -v "$c")"; break; fi
	done
fi

# as_pg runs a command as the postgres OS user when we are root, else as us.
# It runs from $DIR (or /) so the server tools never sit in an unreadable cwd.
as_pg() {
	local cwd=/
	[[ -d "$DIR" ]] && cwd="$DIR"
	# fd 9 is the flock; the postmaster must not inherit (and keep) it.
	if [[ $IS_ROOT == 0 ]]; then
		"$@" 9>&-
	elif [[ -n "$RUNUSER" ]]; then
		(cd "$cwd" && "$RUNUSER" -u postgres -- "$@" 9>&-)
	else
		(cd "$cwd" && su postgres -s /bin/sh -c "$(printf '%q ' "$@")" 9>&-)
	fi
}

ensure_pg_user() {
	[[ $IS_ROOT == 1 ]] || return 0
	id postgres >/dev/null 2>&1 && return 0
	log "creating system user postgres"
	useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres \
		|| die "could not create the postgres OS user"
}

# ---------------------------------------------------------------- process ---

# server_pid prints the postmaster's pid if one is alive for this data dir.
server_pid() {
	local pidfile="$PGDATA_DIR/postmaster.pid" pid
	[[ -f "$pidfile" ]] || return 1
	pid="$(head -n1 "$pidfile" 2>/dev/null || true)"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# Guard against pid reuse: the postmaster's cwd is its data dir.
	if [[ -e "/proc/$pid" ]]; then
		[[ "/proc/$pid/cwd" -ef "$PGDATA_DIR" ]] || return 1
	fi
	echo "$pid"
}

# running_port prints the port the live postmaster listens on (from its pid file).
running_port() {
	local port
	port="$(sed -n 4p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)"
	[[ "$port" =~ ^[0-9]+$ ]] || return 1
	echo "$port"
}

is_ready() { # port
	"$(tool pg_isready)" -q -h 127.0.0.1 -p "$1" -U postgres -d postgres -t 2 >/dev/null 2>&1
}

# leftover_pids prints processes still running inside this data dir (e.g.
# backends orphaned by a kill -9 of the postmaster, which keep the shared
# memory attached and make a new postmaster refuse to start).
leftover_pids() {
	local p
	[[ -d /proc/self ]] || return 0
	for p in /proc/[0-9]*; do
		if [[ "$p/cwd" -ef "$PGDATA_DIR" ]]; then echo "${p#/proc/}"; fi
	done 2>/dev/null
	return 0
}

reap_leftovers() {
	local i pids
	for i in $(seq 1 25); do
		pids="$(leftover_pids)"
		[[ -z "$pids" ]] && return 0
		sleep 0.2
	done
	log "killing leftover server processes of a dead postmaster: $(echo $pids)"
	# shellcheck disable=SC2086
	kill -9 $pids 2>/dev/null || true
	sleep 0.5
}

# clear_stale_locks removes the lock files of a postmaster that is gone. The
# server does this itself unless the old pid still exists, which happens when
# a kill -9'd postmaster is a zombie not yet reaped (slow or absent init in
# containers) or its pid was reused. Only done when /proc proves nothing runs
# in the data dir any more.
clear_stale_locks() {
	[[ -d /proc/self ]] || return 0
	[[ -f "$PGDATA_DIR/postmaster.pid" ]] || return 0
	server_pid >/dev/null && return 0
	[[ -z "$(leftover_pids)" ]] || return 0
	log "removing stale postmaster.pid (server was not shut down cleanly)"
	rm -f "$PGDATA_DIR/postmaster.pid" "$RUN_DIR"/.s.PGSQL.*
}

# ------------------------------------------------------------------- ports ---

port_free() { # port
	if command -v python3 >/dev/null 2>&1 && python3 -c 'import socket' >/dev/null 2>&1; then
		python3 - "$1" <<'EOF' >/dev/null 2>&1
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
finally:
    s.close()
EOF
	else
		# Something answering means taken; a refused connection means free.
		! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

pick_port() { # [avoid]
	local p
	if [[ -f "$PORT_FILE" ]]; then
		p="$(cat "$PORT_FILE" 2>/dev/null || true)"
		if [[ "$p" =~ ^[0-9]+$ && "$p" != "${1:-}" ]] && port_free "$p"; then
			echo "$p"
			return 0
		fi
	fi
	for ((p = BASE_PORT; p < BASE_PORT + 2000; p++)); do
		[[ "$p" == "${1:-}" ]] && continue
		if port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	die "no free TCP port found in $BASE_PORT..$((BASE_PORT + 1999))"
}

# ------------------------------------------------------------------- start ---

conf_quote() { printf "'%s'" "${1//\'/\'\'}"; }

prepare_dirs() {
	mkdir -p "$DATA_ROOT" "$DIR" "$RUN_DIR"
	chmod 755 "$DATA_ROOT"
	chmod 700 "$DIR" "$RUN_DIR"
	# A data dir copied or restored without its modes is refused by the server: mend them.
	[[ -d "$PGDATA_DIR" ]] && chmod 700 "$PGDATA_DIR"
	if [[ $IS_ROOT == 1 ]]; then
		chown postgres:postgres "$DATA_ROOT"
		chown -R postgres:postgres "$DIR"
		as_pg test -x "$DATA_ROOT" -a -w "$DIR" \
			|| die "the postgres OS user cannot reach $DIR (check permissions of its parent directories)"
	fi
}

init_cluster() {
	[[ -f "$PGDATA_DIR/PG_VERSION" ]] && return 0
	rm -rf "$PGDATA_DIR"
	local loc=(--no-locale)
	if command -v locale >/dev/null 2>&1 && locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
		loc=(--locale=C.UTF-8)
	fi
	log "initdb $PGDATA_DIR ($("$BIN/initdb" --version 2>/dev/null || echo initdb))"
	if ! as_pg "$BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust --encoding=UTF8 "${loc[@]}" \
		>"$DIR/initdb.log" 2>&1; then
		if [[ "${loc[0]}" != --no-locale ]]; then
			log "initdb with C.UTF-8 failed; retrying with --no-locale"
			rm -rf "$PGDATA_DIR"
			as_pg "$BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust --encoding=UTF8 --no-locale \
				>"$DIR/initdb.log" 2>&1 || { tail -n 30 "$DIR/initdb.log" >&2; die "initdb failed"; }
		else
			tail -n 30 "$DIR/initdb.log" >&2
			die "initdb failed"
		fi
	fi
	echo "include_if_exists = 'devdb.conf'	# written by scripts/devdb.sh on every start" \
		>>"$PGDATA_DIR/postgresql.conf"
}

# wal_compression_conf prints the setting that compresses full-page images with lz4, where the
# server takes it (PostgreSQL 15 and later, built with lz4 as Debian's is): half the WAL of a
# large sweep, which the commits of the api's writes beside it wait on (README, "Production
# notes"). Elsewhere it prints a comment, and the server keeps its default.
wal_compression_conf() {
	if as_pg "$BIN/postgres" -C wal_compression -c wal_compression=lz4 -D "$PGDATA_DIR" >/dev/null 2>&1; then
		echo "wal_compression = lz4"
	else
		echo "# wal_compression: this server does not take lz4"
	fi
}

write_conf() { # port
	local sockdirs
	sockdirs="$(conf_quote "$RUN_DIR")"
	if (( ${#RUN_DIR} + 16 > 103 )); then
		log "warning: $RUN_DIR is too long for a unix socket path; TCP only"
		sockdirs="''"
	fi
	cat >"$PGDATA_DIR/devdb.conf" <<EOF
# Written by scripts/devdb.sh on every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = $sockdirs
max_connections = 300
shared_buffers = 256MB
fsync = on
synchronous_commit = on
max_locks_per_transaction = 256
$(wal_compression_conf)
log_min_messages = warning
EOF
	echo "$1" >"$PORT_FILE"
	if [[ $IS_ROOT == 1 ]]; then
		chown postgres:postgres "$PGDATA_DIR/devdb.conf" "$PORT_FILE"
	fi
}

# start_server starts the postmaster, retrying on a new port if the chosen one
# was taken in the meantime. Prints the port.
start_server() {
	local attempt port="" avoid="" offset
	for attempt in 1 2 3 4 5; do
		port="$(pick_port "$avoid")"
		write_conf "$port"
		if [[ ! -f "$LOG_FILE" ]]; then
			: >"$LOG_FILE"
			if [[ $IS_ROOT == 1 ]]; then chown postgres:postgres "$LOG_FILE"; fi
		fi
		offset=$(($(wc -c <"$LOG_FILE") + 1))
		log "starting PostgreSQL '$NAME' on 127.0.0.1:$port (log: ${LOG_FILE#"$ROOT"/})"
		if as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -l "$LOG_FILE" -w -t 30 start >&2; then
			echo "$port"
			return 0
		fi
		if tail -c +"$offset" "$LOG_FILE" | grep -q 'Address already in use'; then
			log "port $port was taken; retrying on another port"
			avoid="$port"
			continue
		fi
		if [[ $attempt == 1 ]] && tail -c +"$offset" "$LOG_FILE" | grep -q 'shared memory block'; then
			log "shared memory still attached by old processes; retrying"
			reap_leftovers
			continue
		fi
		break
	done
	log "server.log (tail):"
	tail -n 30 "$LOG_FILE" >&2 || true
	die "PostgreSQL '$NAME' did not start within 30 s"
}

wait_ready() { # port
	local i
	for i in $(seq 1 60); do
		is_ready "$1" && return 0
		server_pid >/dev/null || break
		sleep 0.5
	done
	log "server.log (tail):"
	tail -n 30 "$LOG_FILE" >&2 || true
	die "PostgreSQL '$NAME' is not answering on 127.0.0.1:$1 after 30 s"
}

ensure_app_db() { # port
	"$(tool psql)" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres >/dev/null <<'SQL' \
		|| die "could not create role/database crm"
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'crm') THEN
    CREATE ROLE crm LOGIN PASSWORD 'crm' CREATEDB CREATEROLE NOSUPERUSER;
  ELSE
    ALTER ROLE crm LOGIN PASSWORD 'crm' CREATEDB CREATEROLE NOSUPERUSER;
  END IF;
END
$$;
-- The api and the intake-gateway log in as crm_api, a member of crm_app (no owner rights, no
-- BYPASSRLS), so that row-level security binds them (migration 000003).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'crm_app') THEN
    CREATE ROLE crm_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'crm_api') THEN
    CREATE ROLE crm_api LOGIN PASSWORD 'crm_api' NOSUPERUSER NOBYPASSRLS IN ROLE crm_app;
  END IF;
END
$$;
SELECT 'CREATE DATABASE crm OWNER crm'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'crm')
\gexec
SQL
}

owner_url() { echo "postgres://crm:crm@127.0.0.1:$1/crm?sslmode=disable"; }
app_url() { echo "postgres://crm_api:crm_api@127.0.0.1:$1/crm?sslmode=disable"; }
super_url() { echo "postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable"; }

# Serialise start/stop/destroy of one NAME (e.g. `make run` and `make test`
# racing, or two CI steps).
take_lock() {
	command -v flock >/dev/null 2>&1 || return 0
	mkdir -p "$DATA_ROOT"
	exec 9>"$DATA_ROOT/.pg-$NAME.lock"
	flock -w 120 9 || die "timed out waiting for the lock on $DATA_ROOT/.pg-$NAME.lock"
}

cmd_start() {
	take_lock
	ensure_bin
	ensure_pg_user
	local port
	if server_pid >/dev/null && port="$(running_port)"; then
		# Already running (perhaps still starting or recovering): wait for it.
		wait_ready "$port"
	else
		reap_leftovers
		clear_stale_locks
		prepare_dirs
		init_cluster
		port="$(start_server)"
		wait_ready "$port"
	fi
	ensure_app_db "$port"
	owner_url "$port"
}

running_port_or_fail() {
	find_bin || true
	local port
	server_pid >/dev/null && port="$(running_port)" && is_ready "$port" \
		|| { log "PostgreSQL '$NAME' is not running (start it with: scripts/devdb.sh start $NAME)"; exit 1; }
	echo "$port"
}

cmd_stop() {
	[[ -d "$PGDATA_DIR" ]] || return 0
	find_bin || true
	if server_pid >/dev/null; then
		log "stopping PostgreSQL '$NAME'"
		as_pg "$(tool pg_ctl)" -D "$PGDATA_DIR" -m fast -w -t 60 stop >&2 \
			|| as_pg "$(tool pg_ctl)" -D "$PGDATA_DIR" -m immediate -w -t 30 stop >&2 \
			|| die "could not stop PostgreSQL '$NAME'"
	fi
}

case "$CMD" in
start) cmd_start ;;
url)
	port="$(running_port_or_fail)"
	owner_url "$port"
	;;
superurl)
	port="$(running_port_or_fail)"
	super_url "$port"
	;;
appurl)
	port="$(running_port_or_fail)"
	app_url "$port"
	;;
stop)
	take_lock
	cmd_stop
	;;
destroy)
	take_lock
	cmd_stop
	reap_leftovers
	rm -rf "$DIR"
	log "destroyed ${DIR#"$ROOT"/}"
	;;
*) usage ;;
esac
