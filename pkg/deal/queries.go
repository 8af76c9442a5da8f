package deal

// The statements of the deal domain, in PostgreSQL's placeholders (pkg/db). Each filters org_id
// itself; row-level security is the second guard.

// dealColumns are the columns of a Deal, in dealScan order. The probability is read as whole
// basis points (probability_bp, generated from the numeric(5,4) column: exact) and the date as
// its ISO text.
const dealColumns = `id, lead_id, title, deal_value, currency, stage, probability_bp,
	to_char(expected_close_date, 'YYYY-MM-DD'), lost_reason, stage_changed_at, won_at, lost_at, version,
	created_at, updated_at`

const (
	// getDealSQL reads the org's deal by its primary key: the read of GET /deals/{id}.
	getDealSQL = `SELECT ` + dealColumns + ` FROM deals WHERE org_id = $1 AND id = $2`
	// lockDealSQL is getDealSQL with the row locked until the transaction ends.
	lockDealSQL = getDealSQL + ` FOR UPDATE`
	// lockDealsSQL locks the org's deals of the ids $2 in the order of their ids (uuid order is
	// byte order), so that two transactions locking overlapping sets wait instead of deadlocking.
	lockDealsSQL = `SELECT ` + dealColumns + ` FROM deals WHERE org_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE`

	// insertDealSQL takes the probability in basis points ($8) and the date as ISO text ($9).
	insertDealSQL = `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage,
	probability, expected_close_date)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::numeric / 10000, $9::date)
RETURNING ` + dealColumns

	updateDealSQL = `UPDATE deals SET title = $3, deal_value = $4, currency = $5,
	probability = $6::numeric / 10000, expected_close_date = $7::date, version = version + 1
WHERE org_id = $1 AND id = $2
RETURNING ` + dealColumns

	// setStageSQL moves a deal to stage $3 with probability $4 (basis points) and lost reason
	// $5, stamping the time it closed when it does.
	setStageSQL = `UPDATE deals SET stage = $3, probability = $4::numeric / 10000,
	stage_changed_at = now(), lost_reason = $5, version = version + 1,
	won_at = CASE WHEN $3 = 'won' THEN now() ELSE won_at END,
	lost_at = CASE WHEN $3 = 'lost' THEN now() ELSE lost_at END
WHERE org_id = $1 AND id = $2
RETURNING ` + dealColumns
)

// The fragments of a page of deals (listDeals): the statement up to its org's placeholder, then
// one condition per filter, each followed by its placeholder; the keyset adds the rest.
const (
	listDealsSQL = `SELECT ` + dealColumns + ` FROM deals WHERE org_id = `
	stageIsSQL   = ` AND stage = `
	leadIsSQL    = ` AND lead_id = `
	minValueSQL  = ` AND deal_value >= `
)

// pipelineSQL sums the org's open deals per stage and currency. Each deal's weighted value is
// rounded as WeightedValue rounds it, in the same bigint arithmetic on the generated
// probability_bp (migration 000009): value = q × 10,000 + r, weighted = q × bp +
// (r × bp + 5,000) / 10,000, exact for every value (no term exceeds 10^15) and halves rounded
// up, i.e. away from zero for the non-negative values deals have. sum(bigint) is numeric, so the
// sums are exact however large they grow.
const pipelineSQL = `SELECT stage, currency, count(*), sum(deal_value)::text,
	sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000)::text
FROM deals
WHERE org_id = $1 AND stage IN ('discovery', 'proposal', 'negotiation')
	AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at < $3)
GROUP BY stage, currency
ORDER BY currency`

// closedPipelineSQL is pipelineSQL of the won and lost deals, on their covering index (000033).
const closedPipelineSQL = `SELECT stage, currency, count(*), sum(deal_value)::text,
	sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000)::text
FROM deals
WHERE org_id = $1 AND stage IN ('won', 'lost')
	AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at < $3)
GROUP BY stage, currency
ORDER BY currency`

// pipelinePlanSQL steers the scan (pipelineSQL, the pipeline with a from/to window) to the
// covering index of the open deals (migration 000009): the planner, seeing that most of an org's
// deals are open, prefers a sequential scan of the heap, which is slower (the rows
// are wide and the stage has to be compared on each); and it runs without parallel workers,
// which cost more than they save when many requests run at once. Both settings end with the
// transaction. The unfiltered pipeline (pipelineTotalsSQL) does not need them.
const pipelinePlanSQL = `SELECT set_config('enable_seqscan', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)`

// pipelineTotalsSQL reads the org's pipeline without a window from deal_pipeline_totals
// (migrations 000011, 000025 and 000033, which added the won and lost deals): per stage and currency the count and the two sums, kept by
// triggers on deals in the transaction of every change, each deal's weighted value rounded as in
// pipelineSQL. Each group is kept in a few rows (a writing transaction adds to one that no other
// transaction holds, or inserts its own: migration 000036, so concurrent writers of one org never
// queue on a row); a group's figures are the sums over its rows, a single row's may be negative.
// It reads a few rows per stage and currency the org has used, however many deals it has,
// instead of every open deal. Groups whose count sums to 0 are kept by the triggers and skipped here, so the answer is
// the scan's: a group appears when it has deals.
const pipelineTotalsSQL = `SELECT stage, currency, sum(deal_count)::bigint, sum(value_sum)::text, sum(weighted_sum)::text
FROM deal_pipeline_totals
WHERE org_id = $1
GROUP BY stage, currency
HAVING sum(deal_count) > 0
ORDER BY currency, stage`

// lockWonDealsSQL locks the org's deals of the ids $2 in the order of their ids (LockWon) and
// reads each with what its lead's records need; the lock clause (a Lock) follows.
const lockWonDealsSQL = `SELECT d.id, d.lead_id, d.title, d.deal_value, d.currency, d.stage,
	coalesce(l.company, '') AS company, coalesce(l.name, '') AS name, coalesce(l.email, '') AS email
FROM deals d LEFT JOIN leads l ON l.org_id = d.org_id AND l.id = d.lead_id
WHERE d.org_id = $1 AND d.id = ANY($2::uuid[])
ORDER BY d.id
`

// The statements of check_deal_decay (DecaySweep). A chunk is a range of the org's deals in
// primary-key order, (after, upper] (db.DB.KeyRanges finds upper by an index-only walk of
// deals_pkey), and decayStalledSQL reads the range through the same index, so every chunk reads
// at most chunk-size deals whatever their stages.
const (
	// decayStalledSQL reads the deals of (after $2, upper $3] that rest in an open stage of the
	// rules ($4 stages, $5 their days, $6 their cutoffs: the slot less the days) since at or
	// before their stage's cutoff. A deal's clock starts at its last stage change or at the last
	// activity people logged on its lead (a loggable kind, $7), whichever is later: the
	// activities jobs write (nudges, escalations, system notes) do not reset it, so a deal's own
	// nudge never hides its stall.
	//
	// The range is read first, on its own (MATERIALIZED), so that it is always the primary-key
	// range scan of one chunk: were the stage and time conditions planned with it, an index on
	// (org_id, stage, stage_changed_at) would serve them over every old deal of the org, in every
	// chunk. The activity is then the newest of the deal's lead by
	// lead_activities_org_id_lead_id_occurred_at_id_idx, looked up only for deals whose stage
	// change is old enough (the first condition filters the range before the lateral join). Nothing is locked.
	decayStalledSQL = `WITH page AS MATERIALIZED (
    SELECT id, lead_id, stage, stage_changed_at FROM deals
    WHERE org_id = $1 AND id > $2 AND id <= $3
)
SELECT d.id, d.stage, r.days, d.stage_changed_at, a.occurred_at,
    greatest(d.stage_changed_at, a.occurred_at) AS since
FROM page d
JOIN unnest($4::text[], $5::int[], $6::timestamptz[]) AS r(stage, days, cutoff) ON r.stage = d.stage
LEFT JOIN LATERAL (
    SELECT la.occurred_at FROM lead_activities la
    WHERE la.org_id = $1 AND la.lead_id = d.lead_id AND la.kind = ANY($7::text[])
    ORDER BY la.occurred_at DESC
    LIMIT 1
) a ON true
WHERE d.stage_changed_at <= r.cutoff AND greatest(d.stage_changed_at, a.occurred_at) <= r.cutoff
ORDER BY d.id`
)
