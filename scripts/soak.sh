#!/usr/bin/env bash
# soak.sh: a long run of the system `make run` starts, for what the scheduler must hold ("a day of
# `make run` produces no dead letter from any seeded task"), compressed. Start `make run` in
# another terminal first, then:
#
#   scripts/soak.sh [MINUTES]     (default 120; Ctrl-C ends it early)
#
# While it runs it
#   - sets the demo org's seven seeded cron tasks to fire every minute, so two hours are 120 slots
#     of each (five days of the hourly ones);
#   - sends a trickle of API writes through the whole lifecycle, one round every 10 s: a lead; a
#     call booked on the lead before, a deal on it, won or lost; calls completed (with a
#     transcript) or missed; issued invoices paid; onboarding tasks done;
#   - every 15 rounds writes backdated rows straight into the database, so that every check has
#     work: leads silent for 40 days, a lead whose deal has rotted in discovery for 20 days or
#     was won two days ago with nothing invoiced, clients renewing within 30 days;
#   - every 10 minutes prints the jobs by type and status and the dead letters.
# At the end it prints them once more, puts the tasks' schedules back, and exits 1 when any job
# failed or was dead-lettered.
#
# Needs curl, jq and psql. The API is API_URL (default http://localhost:3000), the org the demo
# org of .data/demo-org.json; the backdated rows and the report need a superuser of the database
# (SOAK_SUPER_URL, default: the superuser of make run's local PostgreSQL, scripts/devdb.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

minutes="${1:-120}"
api_url="${API_URL:-http://localhost:3000}"
for c in curl jq psql; do command -v "$c" >/dev/null || { echo "soak.sh: $c is required" >&2; exit 2; }; done
[[ -f .data/demo-org.json ]] || { echo "soak.sh: no .data/demo-org.json: start 'make run' first" >&2; exit 2; }
org="$(jq -r .orgId .data/demo-org.json)"
key="$(jq -r .apiKey .data/demo-org.json)"
super="${SOAK_SUPER_URL:-}"
if [[ -z $super ]]; then
	# devdb's superuser URL names the maintenance database; make run's is the owner URL's.
	db_name="$(scripts/devdb.sh url dev | sed -E 's#.*/([^/?]+)\?.*#\1#')"
	super="$(scripts/devdb.sh superurl dev | sed -E "s#/[^/?]+\?#/$db_name?#")"
fi
out="$(mktemp)"
hdr=(-H "Authorization: Bearer $key" -H "X-Org-Id: $org" -H 'Content-Type: application/json')

# api METHOD PATH [BODY]: the status code; the body is in $out.
api() { curl -s -o "$out" -w '%{http_code}' -X "$1" "${hdr[@]}" "$api_url$2" ${3:+-d "$3"}; }
log() { echo "$(date -u +%T) $*"; }
# expect CODE...: logs the request's answer unless its status is one of CODE.
expect() {
	local code=$1 what=$2
	shift 2
	for ok in "$@"; do [[ $code == "$ok" ]] && return 0; done
	log "$what: $code $(head -c 300 "$out")"
	return 1
}
sql() { psql "$super" -X -q -v ON_ERROR_STOP=1 "$@"; }

[[ "$(api GET /cron-tasks)" == 200 ]] || { echo "soak.sh: GET /cron-tasks failed: $(cat "$out")" >&2; exit 2; }
saved="$(jq -c '[.data[] | {id, cronExpr}]' "$out")"
restore() {
	while IFS=$'\t' read -r id expr; do
		api PATCH "/cron-tasks/$id" "{\"cronExpr\":$expr}" >/dev/null || true
	done < <(jq -r '.[] | [.id, (.cronExpr | tojson)] | @tsv' <<<"$saved")
}
for id in $(jq -r '.[].id' <<<"$saved"); do
	expect "$(api PATCH "/cron-tasks/$id" '{"cronExpr":"* * * * *"}')" "schedule $id" 200
done
log "the seven tasks of org $org fire every minute for $minutes minutes"

report() {
	sql -c "SELECT job_type, status, count(*) AS jobs, max(attempts) AS most_attempts FROM jobs WHERE org_id = '$org' GROUP BY 1, 2 ORDER BY 1, 2" \
		-c "SELECT count(*) AS dead_letters FROM dead_letter_jobs WHERE org_id = '$org'"
}
finish() {
	trap - INT TERM EXIT
	restore
	report
	bad="$(psql "$super" -X -A -t -c "SELECT (SELECT count(*) FROM jobs WHERE org_id = '$org' AND status = 'failed') + (SELECT count(*) FROM dead_letter_jobs WHERE org_id = '$org')")"
	rm -f "$out"
	log "schedules restored; failed or dead-lettered jobs: $bad"
	[[ $bad == 0 ]]
}
trap finish INT TERM EXIT

end=$((SECONDS + minutes * 60)) next_report=$((SECONDS + 600)) i=0 prev=""
while ((SECONDS < end)); do
	i=$((i + 1))
	expect "$(api POST /leads "{\"name\":\"Soak $i\",\"email\":\"soak-$i-$RANDOM$RANDOM@example.com\",\"company\":\"Acme $i\"}")" lead 201 || true
	lead="$(jq -r '.id // empty' "$out" 2>/dev/null || true)"
	if ((i % 3 == 0)) && [[ -n $prev ]]; then
		# The lead before has been qualified by now: to a call booked, then a deal, won or lost.
		expect "$(api POST "/leads/$prev/stage" '{"stage":"contacted"}')" contacted 200 409 || true
		expect "$(api POST /calls "{\"leadId\":\"$prev\",\"scheduledAt\":\"$(date -u -d '+1 hour' +%FT%TZ)\"}")" book 201 409 || true
		if expect "$(api POST /deals "{\"leadId\":\"$prev\",\"title\":\"Deal $i\",\"dealValue\":$((1000 + RANDOM)),\"currency\":\"EUR\"}")" deal 201; then
			deal="$(jq -r '.id // empty' "$out" 2>/dev/null || true)"
			if ((i % 6 == 0)); then
				expect "$(api POST "/deals/$deal/stage" '{"stage":"won"}')" won 200 || true
			elif ((i % 9 == 0)); then
				expect "$(api POST "/deals/$deal/stage" '{"stage":"lost","lostReason":"price"}')" lost 200 || true
			fi
		fi
	fi
	if ((i % 4 == 0)) && [[ -n $lead ]] &&
		expect "$(api POST /calls "{\"leadId\":\"$lead\",\"scheduledAt\":\"$(date -u -d '+1 hour' +%FT%TZ)\"}")" call 201 409; then
		call="$(jq -r '.id // empty' "$out" 2>/dev/null || true)"
		if [[ -n $call ]] && ((i % 8 == 0)); then
			expect "$(api POST "/calls/$call/complete" '{"transcript":"Budget approved, we need it by next month; send the proposal."}')" complete 200 202 || true
		elif [[ -n $call ]]; then
			expect "$(api POST "/calls/$call/no-show")" no-show 200 || true
		fi
	fi
	if [[ "$(api GET '/invoices?status=issued')" == 200 ]]; then
		for inv in $(jq -r '.data[].id' "$out" | head -3); do
			expect "$(api POST "/invoices/$inv/pay" '{"reference":"soak"}')" pay 200 409 || true
		done
	fi
	if ((i % 5 == 0)) && [[ "$(api GET '/clients?status=onboarding')" == 200 ]]; then
		for c in $(jq -r '.data[].id' "$out" | head -2); do
			[[ "$(api GET "/clients/$c/onboarding")" == 200 ]] || continue
			for task in $(jq -r '.data[] | select(.status == "pending") | .id' "$out" | head -2); do
				expect "$(api POST "/clients/$c/onboarding/$task" '{"status":"done"}')" task 200 || true
			done
		done
	fi
	if ((i % 15 == 1)); then
		sql -v org="$org" -v i="$i" <<'SQL' || log "backdated rows: failed"
INSERT INTO leads (org_id, id, email, fingerprint, stage, created_at, last_activity_at, stage_changed_at)
SELECT :'org', gen_random_uuid(), format('old-%s-%s-%s@example.com', :'i', g, extract(epoch FROM now())),
       format('soak:old:%s:%s:%s', :'i', g, extract(epoch FROM now())),
       (ARRAY['new', 'contacted', 'call_booked', 'qualified'])[1 + g % 4],
       now() - interval '40 days', now() - interval '40 days', now() - interval '40 days'
FROM generate_series(1, 5) g;
WITH l AS (
    INSERT INTO leads (org_id, id, email, fingerprint, stage, created_at, stage_changed_at)
    VALUES (:'org', gen_random_uuid(), format('deal-%s-%s@example.com', :'i', extract(epoch FROM now())),
            format('soak:deal:%s:%s', :'i', extract(epoch FROM now())), 'call_booked',
            now() - interval '30 days', now() - interval '30 days')
    RETURNING id
)
INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability, stage_changed_at, created_at, won_at)
SELECT :'org', gen_random_uuid(), l.id, 'Old deal ' || :'i', 500, 'EUR', w.stage, w.probability,
       now() - interval '20 days', now() - interval '20 days', w.won_at
FROM l, (SELECT CASE WHEN :i % 6 = 1 THEN 'won' ELSE 'discovery' END AS stage,
                CASE WHEN :i % 6 = 1 THEN 1 ELSE 0.1 END AS probability,
                CASE WHEN :i % 6 = 1 THEN now() - interval '2 days' END AS won_at) w;
UPDATE clients SET renewal_date = current_date + 20 WHERE org_id = :'org' AND random() < 0.3;
SQL
	fi
	prev="$lead"
	if ((SECONDS >= next_report)); then
		report
		next_report=$((SECONDS + 600))
	fi
	sleep 10
done
