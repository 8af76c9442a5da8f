#!/usr/bin/env bash
# make test: every test, with -race and -count=1 (the test cache cannot see database state),
# against a real PostgreSQL. TEST_DATABASE_URL (or DATABASE_URL) must be a role that may create
# databases and roles; with neither set, a throwaway cluster under .data/pg-test is started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The Go that go.work names (the Makefile's GO_VERSION); GOTOOLCHAIN=local would refuse it.
export GOTOOLCHAIN=go1.27.3

if [[ -z "${TEST_DATABASE_URL:-}" && -z "${DATABASE_URL:-}" ]]; then
	scripts/devdb.sh start test >/dev/null
	TEST_DATABASE_URL="$(scripts/devdb.sh superurl test)"
fi
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$DATABASE_URL}"

# The tests read PDFs back (pkg/document/pdftest) with pdftotext (Debian's poppler-utils) and with
# a Go extraction of their own, which also stands in where pdftotext is missing; install
# poppler-utils where it is missing and apt-get is usable as root (as scripts/devdb.sh does for
# PostgreSQL), so CI asserts with both.
if ! command -v pdftotext >/dev/null 2>&1; then
	if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "test.sh: no pdftotext found; installing Debian's poppler-utils" >&2
		# Optional: a failed install (no network) leaves the Go extraction, not a failed run.
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils; } >&2 ||
			echo "test.sh: installing poppler-utils failed; PDFs are read back with the Go extraction only" >&2
	else
		echo "test.sh: no pdftotext (poppler-utils); PDFs are read back with the Go extraction only" >&2
	fi
fi

# Two cores: the e2e packages start real processes, so packages run two at a time.
exec go test -race -count=1 -p 2 -timeout 20m "$@" example.com/crm/...
