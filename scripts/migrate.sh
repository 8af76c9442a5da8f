#!/usr/bin/env bash
# make migrate: runs `api migrate $1` against DATABASE_URL, or the local dev cluster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -z "${DATABASE_URL:-}" ]]; then
	DATABASE_URL="$(scripts/devdb.sh start dev)"
	export DATABASE_URL
fi
exec bin/api migrate "${1:-up}"
