package report

// The statements of the report package, in PostgreSQL's placeholders (pkg/db). Each names its
// org itself; row-level security is the second guard.

// tallySQL is the Tally (as JSON) of the rows of a grouped subquery with columns currency, n
// (count) and v (summed amount); it is spliced into figuresSQL for each money figure.
func tallySQL(grouped string) string {
	return `(SELECT jsonb_build_object('count', coalesce(sum(t.n), 0),
        'byCurrency', coalesce(jsonb_agg(jsonb_build_object('currency', t.currency, 'count', t.n, 'amount', t.v)
                                         ORDER BY t.currency), '[]'::jsonb))
    FROM (` + grouped + `) t)`
}

// figuresSQL computes the Figures of org $1 over [$2, $3) as one JSON document, in one statement
// (one snapshot): every count and sum is exact (bigint sums are numeric in JSON). The window is
// cut at UTC midnights (splitDays): $4 and $5 are its whole days [$4, $5), $6 the end of the
// partial span [$2, $6) before them and $7 the start of the partial span [$7, $3) after them.
//
// The lead counts do not read the leads: the sweeps update most leads of a large org every day,
// which clears their visibility map, so counting a week's leads from leads (even from an index)
// visits a heap page per lead. They sum the window's whole days from lead_funnel_days
// (migrations 000033 and 000037): the alive leads per UTC day of creation (dim step, summed over
// its at most six keys; each lead counts in one) and per UTC day of qualified_at (dim
// qualified). The partial spans are counted from lead_funnel's indexes on creation and
// qualification (index-only: lead_funnel changes only with a lead's stage, source,
// qualification or deletion), as the analytics funnel does. A report's week is whole UTC days
// (WeekBefore): a few rows per day and shard, whatever the week's leads.
var figuresSQL = `SELECT jsonb_build_object(
  'leads', jsonb_build_object(
    'in', (SELECT coalesce(sum(n), 0)::bigint FROM (
        SELECT lead_count AS n FROM lead_funnel_days WHERE org_id = $1 AND dim = 'step' AND day >= $4::date AND day < $5::date
        UNION ALL
        SELECT count(*) FROM lead_funnel WHERE org_id = $1 AND alive AND created_at >= $2 AND created_at < $6::timestamptz
        UNION ALL
        SELECT count(*) FROM lead_funnel WHERE org_id = $1 AND alive AND created_at >= $7::timestamptz AND created_at < $3) x),
    'qualified', (SELECT coalesce(sum(n), 0)::bigint FROM (
        SELECT lead_count AS n FROM lead_funnel_days WHERE org_id = $1 AND dim = 'qualified' AND day >= $4::date AND day < $5::date
        UNION ALL
        SELECT count(*) FROM lead_funnel WHERE org_id = $1 AND alive AND qualified_at >= $2 AND qualified_at < $6::timestamptz
        UNION ALL
        SELECT count(*) FROM lead_funnel WHERE org_id = $1 AND alive AND qualified_at >= $7::timestamptz AND qualified_at < $3) x)),
  'calls', jsonb_build_object(
    'booked', (SELECT count(*) FROM calls WHERE org_id = $1 AND created_at >= $2 AND created_at < $3),
    'completed', (SELECT count(*) FROM calls WHERE org_id = $1 AND completed_at >= $2 AND completed_at < $3)),
  'deals', jsonb_build_object(
    'won', ` + tallySQL(`SELECT currency, count(*) AS n, sum(deal_value) AS v FROM deals
        WHERE org_id = $1 AND stage = 'won' AND won_at >= $2 AND won_at < $3 GROUP BY currency`) + `,
    'lost', ` + tallySQL(`SELECT currency, count(*) AS n, sum(deal_value) AS v FROM deals
        WHERE org_id = $1 AND stage = 'lost' AND lost_at >= $2 AND lost_at < $3 GROUP BY currency`) + `),
  'money', jsonb_build_object(
    'invoiced', ` + tallySQL(`SELECT currency, count(*) AS n, sum(amount) AS v FROM invoices
        WHERE org_id = $1 AND status <> 'void' AND issued_at >= $2 AND issued_at < $3 GROUP BY currency`) + `,
    'paid', ` + tallySQL(`SELECT currency, count(*) AS n, sum(amount) AS v FROM invoices
        WHERE org_id = $1 AND status = 'paid' AND paid_at >= $2 AND paid_at < $3 GROUP BY currency`) + `),
  'alerts', jsonb_build_object(
    'opened', (SELECT count(*) FROM integrity_alerts WHERE org_id = $1 AND detected_at >= $2 AND detected_at < $3))
)`

// serialReadSQL keeps the figures' read in the one backend that runs it. The lead counts read a
// few rows of the lead projections and the deals won and lost a range of the deals' partial
// indexes on won_at and lost_at (which name the stage, as the statement does), but a long window
// or an org with many calls or invoices is a long range: scans the planner hands to parallel
// workers once they are large, every core of a small database machine while the api's writes
// wait for one. A background report may take longer; the api's requests may not.
const serialReadSQL = `SELECT set_config('max_parallel_workers_per_gather', '0', true)`

// reportColumns are the columns of a reportRow.
const reportColumns = `id, kind, period_start, period_end, model, body, created_at`

const (
	// getReportSQL reads the org's report by its primary key.
	getReportSQL = `SELECT ` + reportColumns + ` FROM reports WHERE org_id = $1 AND id = $2`
	// getDocumentSQL reads a report's stored document; no row when the org has no such report.
	getDocumentSQL = `SELECT document FROM reports WHERE org_id = $1 AND id = $2`
	// reportExistsSQL tells whether the org has the report of kind $2 for the period starting at $3.
	reportExistsSQL = `SELECT EXISTS (SELECT 1 FROM reports WHERE org_id = $1 AND kind = $2 AND period_start = $3)`
	// insertReportSQL stores a report unless the org has one of its kind and period already
	// (the unique key), returning its row only when it was stored.
	insertReportSQL = `INSERT INTO reports (org_id, kind, period_start, period_end, body, model, document)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT ON CONSTRAINT reports_org_id_kind_period_start_key DO NOTHING
RETURNING ` + reportColumns
)

// The fragments of a page of reports (List).
const (
	listReportsSQL = `SELECT ` + reportColumns + ` FROM reports WHERE org_id = `
	kindIsSQL      = ` AND kind = `
)
