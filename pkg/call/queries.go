package call

// The statements of the call domain, in PostgreSQL's placeholders (pkg/db). Each filters org_id
// itself; row-level security is the second guard.

// The columns of a Call, in callScan order, around the transcript: callColumns reads it, and
// listColumns reads NULL in its place, since a page of calls would otherwise carry up to 200
// hours of talk.
const (
	columnsBeforeTranscript = `id, lead_id, status, scheduled_at, duration_minutes, `
	columnsAfterTranscript  = `, notes, summary, buying_signal_score, signal_phrases, objections, next_steps,
	analysis_model, analyzed_at, completed_at, cancelled_at, no_show_at, version, created_at, updated_at`

	callColumns = columnsBeforeTranscript + `transcript` + columnsAfterTranscript
	listColumns = columnsBeforeTranscript + `NULL::text` + columnsAfterTranscript
)

const (
	// getCallSQL reads the org's call by its primary key.
	getCallSQL = `SELECT ` + callColumns + ` FROM calls WHERE org_id = $1 AND id = $2`
	// lockCallSQL is getCallSQL with the row locked until the transaction ends, so that changes
	// of one call serialise.
	lockCallSQL = getCallSQL + ` FOR UPDATE`
	// getCallsSQL reads the org's calls of the ids $2, without their transcripts.
	getCallsSQL = `SELECT ` + listColumns + ` FROM calls WHERE org_id = $1 AND id = ANY($2::uuid[])`

	insertCallSQL = `INSERT INTO calls (org_id, id, lead_id, scheduled_at, duration_minutes) VALUES ($1, $2, $3, $4, $5)
RETURNING ` + callColumns

	// setStatusSQL moves a call to status $3, stamping that status's time column; a
	// completion's transcript ($4) and notes ($5) replace the stored ones when given.
	setStatusSQL = `UPDATE calls SET status = $3, version = version + 1,
	completed_at = CASE WHEN $3 = 'completed' THEN now() ELSE completed_at END,
	no_show_at = CASE WHEN $3 = 'no_show' THEN now() ELSE no_show_at END,
	cancelled_at = CASE WHEN $3 = 'cancelled' THEN now() ELSE cancelled_at END,
	transcript = coalesce($4, transcript), notes = coalesce($5, notes)
WHERE org_id = $1 AND id = $2
RETURNING ` + callColumns

	// storeAnalysisSQL writes an analysis on a call that has none yet; the version stays.
	storeAnalysisSQL = `UPDATE calls SET summary = $3, buying_signal_score = $4, signal_phrases = $5::jsonb,
	objections = $6::jsonb, next_steps = $7::jsonb, analysis_model = $8, analyzed_at = now()
WHERE org_id = $1 AND id = $2 AND analyzed_at IS NULL`
)

// The fragments of a page of calls (listCalls): the statement up to its org's placeholder, then
// one condition per filter, each followed by its placeholder; the keyset adds the rest.
const (
	listCallsSQL       = `SELECT ` + listColumns + ` FROM calls WHERE org_id = `
	leadIsSQL          = ` AND lead_id = `
	statusIsSQL        = ` AND status = `
	scheduledFromSQL   = ` AND scheduled_at >= `
	scheduledBeforeSQL = ` AND scheduled_at < `
	timestamptzCast    = `::timestamptz`
)
