package intake

// The statements of the intake package, in PostgreSQL's placeholders (pkg/db). Each filters
// org_id itself, under row-level security as a second guard; the two lookups of the public
// routes go through the SECURITY DEFINER functions of migration 000006 instead, since they run
// before the org is known.

import "example.com/crm/pkg/jobs"

// acceptSQL stores a delivery and enqueues its process_intake job in one statement. The raw row
// is inserted ON CONFLICT DO NOTHING on the table's unique keys, and the job is inserted
// from what that insert returned, so a delivery stored before inserts neither; a delivery
// whose copy is being stored by another transaction waits for it and then inserts neither. The
// job is processIntakeJob: payload ProcessIntakeJob, run at once, $10 attempts (the queue's
// JOB_MAX_ATTEMPTS). It returns the new row's id, or no row for a delivery stored before.
var acceptSQL = `
WITH raw AS (
	INSERT INTO lead_intake_raw (org_id, source_id, batch_id, row_number, delivery_key, content_type, body, headers)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
	ON CONFLICT DO NOTHING
	RETURNING org_id, id
), job AS (` + processIntakeJob("$9", "$10") + `
)
SELECT id FROM raw`

// processIntakeJob inserts the process_intake job (type jobType, maxAttempts attempts) of each
// new raw row of the WITH item raw: payload ProcessIntakeJob, keyed jobs.IntakeKeySQL.
func processIntakeJob(jobType, maxAttempts string) string {
	return jobs.Insert{
		OrgID: "raw.org_id", JobType: jobType, Payload: jobs.PayloadSQL(ProcessIntakeJob{}, "raw"),
		Key: jobs.IntakeKeySQL("raw.id"), MaxAttempts: maxAttempts, From: "raw",
	}.SQL()
}

// acceptGroupSQL stores a group of deliveries of one org ($1) and their process_intake jobs in
// one statement: acceptSQL for many rows. $2..$6 are parallel arrays (source, delivery key,
// content type, body, headers' JSON), one element per delivery; $7 and $8 are the job type and
// its max_attempts. Rows go in in (source, delivery key) order, so two groups that hold copies
// of the same deliveries wait on each other in one order and cannot deadlock. A key stored
// before, or twice in the group, is inserted once (ON CONFLICT DO NOTHING): it returns the new
// rows' ids with their keys.
var acceptGroupSQL = `
WITH raw AS (
	INSERT INTO lead_intake_raw (org_id, source_id, delivery_key, content_type, body, headers)
	SELECT $1, source_id, delivery_key, content_type, body, headers::jsonb
	FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bytea[], $6::text[]) WITH ORDINALITY
		AS i(source_id, delivery_key, content_type, body, headers, ord)
	ORDER BY source_id, delivery_key, ord
	ON CONFLICT DO NOTHING
	RETURNING org_id, id, source_id, delivery_key
), job AS (` + processIntakeJob("$7", "$8") + `
)
SELECT id, source_id, delivery_key FROM raw`

// insertRowsSQL stores the rows of one upload in one statement; a row stored before (its
// (org, batch, row) or delivery key) is skipped.
const insertRowsSQL = `
INSERT INTO lead_intake_raw (org_id, source_id, batch_id, row_number, delivery_key, content_type, body, headers)
SELECT $1::uuid, $2::uuid, $3::uuid, x.row_number, x.delivery_key, $4::text, x.body, x.headers
FROM unnest($5::int[], $6::text[], $7::bytea[], $8::jsonb[]) AS x(row_number, delivery_key, body, headers)
ON CONFLICT DO NOTHING
RETURNING id`

// lockRawIntakesSQL locks and reads raw intake rows of an org ($1) by id ($2), each with its
// source's field mapping, in the order of $2. Each id is looked up on its own (a LATERAL
// subquery, kept apart by OFFSET 0), so the plan is a primary-key probe per row whatever the
// statistics say, and the ids come through a scalar subquery, so that the plan cache keeps the
// generic plan.
const lockRawIntakesSQL = `SELECT r.* FROM unnest((SELECT $2::uuid[])) AS k(id)
CROSS JOIN LATERAL (
    SELECT r.id, r.source_id, r.content_type, r.body, r.status, r.lead_id, r.reject_reason, r.received_at,
        s.field_mapping
    FROM lead_intake_raw r LEFT JOIN intake_sources s ON s.org_id = r.org_id AND s.id = r.source_id
    WHERE r.org_id = $1 AND r.id = k.id
    OFFSET 0
    FOR UPDATE OF r
) r`

// markRawsSQL records the outcomes ($2.. parallel arrays) of the org's ($1) pending raw rows. The
// caller holds the rows' locks (lockRawIntakes) and has seen them pending, so each row is found
// by its own primary-key probe and reached by its tuple id: a status condition would let the
// planner pick the (org_id, status, received_at) index instead, which on a table without
// statistics yet walks every pending row of the org.
const markRawsSQL = `WITH m AS (
    SELECT * FROM unnest((SELECT $2::uuid[]), $3::text[], $4::uuid[], $5::text[], $6::text[])
    AS m(id, status, lead_id, fingerprint, reason)
), k AS (
    SELECT m.*, t.ct FROM m CROSS JOIN LATERAL (
        SELECT ctid AS ct FROM lead_intake_raw WHERE org_id = $1 AND id = m.id OFFSET 0
    ) t
)
UPDATE lead_intake_raw r SET status = k.status, lead_id = k.lead_id, fingerprint = k.fingerprint,
    reject_reason = k.reason, processed_at = now()
FROM k WHERE r.ctid = k.ct`

// sourceColumns are the columns of a sourceRow. allowed_origins is read as JSON (the row type
// scans it from there, as it writes it: see originsSQL); has_previous_secret is judged on the
// database clock.
const sourceColumns = `id, org_id, kind, name, public_token, redirect_url,
	to_jsonb(allowed_origins) AS allowed_origins, field_mapping, rate_limit_per_minute,
	signing_secret, previous_signing_secret, previous_secret_expires_at,
	(previous_signing_secret IS NOT NULL AND previous_secret_expires_at > now()) AS has_previous_secret,
	created_at, updated_at`

// The statements on intake_sources. allowed_origins is written from a JSON array bound as
// jsonb (ARRAY(SELECT jsonb_array_elements_text(...))) and read back as JSON (sourceColumns), so
// that the list goes both ways as JSON.
const (
	insertSourceSQL = `INSERT INTO intake_sources (org_id, kind, name, signing_secret, public_token, redirect_url,
	allowed_origins, field_mapping, rate_limit_per_minute)
VALUES ($1, $2, $3, $4, $5, $6, ARRAY(SELECT jsonb_array_elements_text($7::jsonb)), $8::jsonb, $9)
RETURNING ` + sourceColumns
	getSourceSQL          = `SELECT ` + sourceColumns + ` FROM intake_sources WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL`
	getSourceForUpdateSQL = getSourceSQL + ` FOR UPDATE`
	// listSourcesHead is followed by the kind's filter and the keyset's tail; $1 is the org.
	listSourcesHead   = `SELECT ` + sourceColumns + ` FROM intake_sources WHERE org_id = $1 AND deleted_at IS NULL`
	updateSettingsSQL = `UPDATE intake_sources SET name = $3, redirect_url = $4,
	allowed_origins = ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), field_mapping = $6::jsonb, rate_limit_per_minute = $7
WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL
RETURNING ` + sourceColumns
	// softDeleteSourceSQL forgets the signing secrets too: nothing may verify with them any more.
	softDeleteSourceSQL = `UPDATE intake_sources SET deleted_at = now(), signing_secret = NULL, previous_signing_secret = NULL,
	previous_secret_expires_at = NULL
WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL
RETURNING ` + sourceColumns
	// rotateSecretSQL makes $4 the signing secret; with a grace of $3 seconds above zero the
	// secret it replaces stays accepted until then on the database clock.
	rotateSecretSQL = `UPDATE intake_sources SET
	previous_signing_secret = CASE WHEN $3::bigint > 0 THEN signing_secret END,
	previous_secret_expires_at = CASE WHEN $3::bigint > 0 THEN now() + make_interval(secs => $3::bigint) END,
	signing_secret = $4
WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL AND kind = 'webhook'
RETURNING ` + sourceColumns
	// The lookups of the public routes (migration 000006), outside any tenant transaction.
	webhookSourceOrgSQL = `SELECT intake_webhook_source_org($1)`
	formSourceSQL       = `SELECT org_id, id FROM intake_form_source($1)`
)

const submissionColumns = `id, source_id, batch_id, row_number, status, reject_reason, lead_id, received_at, processed_at`

// The lookups of the row a duplicate delivery conflicted with, one per shape of delivery so that
// each is an index scan of one of the table's unique keys.
const (
	storedBySourceSQL = `SELECT id FROM lead_intake_raw WHERE org_id = $1 AND source_id = $2 AND delivery_key = $3`
	storedNoSourceSQL = `SELECT id FROM lead_intake_raw WHERE org_id = $1 AND source_id IS NULL AND delivery_key = $2`
	storedRowSQL      = `SELECT id FROM lead_intake_raw WHERE org_id = $1 AND batch_id = $2 AND row_number = $3
UNION ALL
SELECT id FROM lead_intake_raw WHERE org_id = $1 AND source_id IS NOT DISTINCT FROM $4 AND delivery_key = $5
LIMIT 1`
)

// getSubmissionSQL reads one submission of the org ($1) by id ($2).
const getSubmissionSQL = `SELECT ` + submissionColumns + ` FROM lead_intake_raw WHERE org_id = $1 AND id = $2`
