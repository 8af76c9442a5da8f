package integrity

import "example.com/crm/pkg/jobs"

// The statements of a check run (Service.Check). Every one names its org ($1) itself; row-level
// security is the second guard. A check's findings are rows of (check_name, severity,
// entity_type, entity_id, detail), the columns of integrity_alerts; an alert is opened for a
// finding by an INSERT ... ON CONFLICT DO NOTHING on integrity_alerts_open_key (one open alert per
// org, check and entity, NULLs not distinct), so a finding that has its open alert already opens
// nothing, whatever the number of runs or replicas.

// returningSQL returns the columns of alertRow of the written alerts, named by alias. A statement
// hands the alerts it opened or resolved back as a jsonb array of these rows (aggSQL).
func returningSQL(alias string) string {
	return `RETURNING ` + alias + `.id, ` + alias + `.check_name, ` + alias + `.severity, ` + alias + `.entity_type, ` +
		alias + `.entity_id, ` + alias + `.detail, ` + alias + `.detected_at`
}

// insertFoundSQL opens an alert for each row of the CTE found that has no open alert yet, in key
// order, so that two runs at once wait for each other's alerts in the same order (no deadlock).
var insertFoundSQL = `INSERT INTO integrity_alerts AS n (org_id, check_name, severity, entity_type, entity_id, detail)
SELECT $1, f.check_name, f.severity, f.entity_type, f.entity_id, f.detail FROM found f
ORDER BY f.check_name, f.entity_type, f.entity_id
ON CONFLICT (org_id, check_name, entity_type, entity_id) WHERE resolved_at IS NULL DO NOTHING
` + returningSQL("n")

// aggSQL is the jsonb array of the rows of the CTE named cte ([] for none).
func aggSQL(cte string) string {
	return `coalesce((SELECT jsonb_agg(to_jsonb(x)) FROM ` + cte + ` x), '[]'::jsonb)`
}

// scanSQL is the statement of one chunk of a scan: chunk selects the next rows of the scanned
// table after the key $2 (their id, in id order, at most $3), found the findings among them
// (grace $4 seconds), and the statement opens their alerts. It returns the chunk's last id, its
// size, and the alerts opened.
func scanSQL(chunk, found string) string {
	return `WITH chunk AS (` + chunk + `), found AS (` + found + `), opened AS (` + insertFoundSQL + `)
SELECT (SELECT id FROM chunk ORDER BY id DESC LIMIT 1), (SELECT count(*) FROM chunk), ` + aggSQL("opened")
}

// graceSQL is true of a time column past the grace period ($4 seconds).
func graceSQL(column string) string {
	return column + ` <= now() - make_interval(secs => $4::float8)`
}

// lastEventSQL is the id of the latest event of type typ about the entity of entityType whose
// id is idExpr (events_entity_idx), NULL when there is none.
func lastEventSQL(entityType, typ, idExpr string) string {
	return `(SELECT e.id FROM events e WHERE e.org_id = $1 AND e.entity_type = '` + entityType + `' AND e.entity_id = ` + idExpr +
		` AND e.type = '` + typ + `' ORDER BY e.id DESC LIMIT 1)`
}

// jobOfSQL joins, as j, the job of kind jobType that the event ev.id enqueued (its key
// jobs.EventKey, unique per org and kind), when there is one.
func jobOfSQL(jobType string) string {
	return ` LEFT JOIN jobs j ON j.org_id = $1 AND j.job_type = ` + jobType + ` AND j.idempotency_key = ` + jobs.EventKeySQL("ev.id")
}

// jobDetailSQL are the detail fields naming the job j.
const jobDetailSQL = `'jobId', j.id, 'jobStatus', j.status, 'jobLastError', j.last_error`

// The scans: each reads one table in chunks and finds what is wrong with its rows.
var (
	// scanWonDealsSQL finds the won deals past the grace since their win without an invoice
	// (create_invoice's work) or without a contract (generate_contract's), naming the deal.won
	// event and the job it enqueued for the missing record.
	scanWonDealsSQL = scanSQL(`SELECT d.id, d.lead_id, d.won_at FROM deals d
    WHERE d.org_id = $1 AND d.stage = 'won' AND d.id > $2 ORDER BY d.id LIMIT $3`, `
    SELECT x.check_name, x.severity, 'deal'::text AS entity_type, c.id AS entity_id,
        jsonb_build_object('dealId', c.id, 'leadId', c.lead_id, 'wonAt', c.won_at, 'graceSeconds', $4::float8,
            'wonEventId', ev.id, 'jobType', x.job_type, `+jobDetailSQL+`) AS detail
    FROM chunk c
    CROSS JOIN (VALUES ('`+CheckWonWithoutInvoice+`', '`+SeverityCritical+`', 'create_invoice'),
                       ('`+CheckWonWithoutContract+`', '`+SeverityWarning+`', 'generate_contract')) AS x(check_name, severity, job_type)
    CROSS JOIN LATERAL (SELECT `+lastEventSQL("deal", "deal.won", "c.id")+` AS id) ev`+jobOfSQL("x.job_type")+`
    WHERE `+graceSQL("c.won_at")+`
      AND CASE x.job_type
          WHEN 'create_invoice' THEN NOT EXISTS (SELECT 1 FROM invoices i WHERE i.org_id = $1 AND i.deal_id = c.id)
          ELSE NOT EXISTS (SELECT 1 FROM contracts k WHERE k.org_id = $1 AND k.deal_id = c.id)
      END`)

	// scanPaidInvoicesSQL finds the invoices paid longer than the grace ago without a client
	// (create_client's work), naming the invoice.paid event and its create_client job.
	scanPaidInvoicesSQL = scanSQL(`SELECT i.id, i.deal_id, i.number, i.paid_at FROM invoices i
    WHERE i.org_id = $1 AND i.status = 'paid' AND i.id > $2 ORDER BY i.id LIMIT $3`, `
    SELECT '`+CheckPaidWithoutClient+`'::text AS check_name, '`+SeverityCritical+`'::text AS severity,
        'invoice'::text AS entity_type, c.id AS entity_id,
        jsonb_build_object('invoiceId', c.id, 'dealId', c.deal_id, 'number', c.number, 'paidAt', c.paid_at,
            'graceSeconds', $4::float8, 'paidEventId', ev.id, 'jobType', 'create_client', `+jobDetailSQL+`) AS detail
    FROM chunk c
    CROSS JOIN LATERAL (SELECT `+lastEventSQL("invoice", "invoice.paid", "c.id")+` AS id) ev`+jobOfSQL("'create_client'")+`
    WHERE `+graceSQL("c.paid_at")+`
      AND NOT EXISTS (SELECT 1 FROM clients k WHERE k.org_id = $1 AND k.invoice_id = c.id)`)

	// scanClientsSQL finds the clients created longer than the grace ago without onboarding tasks
	// (start_onboarding's work), naming the client.created event, its start_onboarding job and
	// the invoice.paid event that caused the client.
	scanClientsSQL = scanSQL(`SELECT c.id, c.invoice_id, c.created_at, c.causation_event_id FROM clients c
    WHERE c.org_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3`, `
    SELECT '`+CheckClientWithoutOnboarding+`'::text AS check_name, '`+SeverityWarning+`'::text AS severity,
        'client'::text AS entity_type, c.id AS entity_id,
        jsonb_build_object('clientId', c.id, 'invoiceId', c.invoice_id, 'createdAt', c.created_at, 'graceSeconds', $4::float8,
            'paidEventId', c.causation_event_id, 'createdEventId', ev.id, 'jobType', 'start_onboarding', `+jobDetailSQL+`) AS detail
    FROM chunk c
    CROSS JOIN LATERAL (SELECT `+lastEventSQL("client", "client.created", "c.id")+` AS id) ev`+jobOfSQL("'start_onboarding'")+`
    WHERE `+graceSQL("c.created_at")+`
      AND NOT EXISTS (SELECT 1 FROM onboarding_tasks t WHERE t.org_id = $1 AND t.client_id = c.id)`)
)

// resolveSQL is the statement of one chunk of the open alerts of a check about single entities:
// the next $5 open alerts of check $2 on entities of type $3 after the entity id $4 (in the order
// of integrity_alerts_open_key), of which it resolves those whose entity (b.entity_id) no longer
// breaks the invariant, holds. It returns the chunk's last entity id, its size and the alerts
// resolved.
func resolveSQL(holds string) string {
	return `WITH batch AS (
    SELECT a.id, a.entity_id FROM integrity_alerts a
    WHERE a.org_id = $1 AND a.check_name = $2 AND a.entity_type = $3 AND a.resolved_at IS NULL AND a.entity_id > $4
    ORDER BY a.entity_id LIMIT $5
), fixed AS (
    UPDATE integrity_alerts u SET resolved_at = now()
    FROM batch b
    WHERE u.org_id = $1 AND u.id = b.id AND u.resolved_at IS NULL AND NOT (` + holds + `)
    ` + returningSQL("u") + `
)
SELECT (SELECT entity_id FROM batch ORDER BY entity_id DESC LIMIT 1), (SELECT count(*) FROM batch), ` + aggSQL("fixed")
}

// The conditions under which an open alert of each entity check still holds.
const (
	wonWithoutInvoiceHolds = `EXISTS (SELECT 1 FROM deals d WHERE d.org_id = $1 AND d.id = b.entity_id AND d.stage = 'won')
        AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.org_id = $1 AND i.deal_id = b.entity_id)`
	wonWithoutContractHolds = `EXISTS (SELECT 1 FROM deals d WHERE d.org_id = $1 AND d.id = b.entity_id AND d.stage = 'won')
        AND NOT EXISTS (SELECT 1 FROM contracts k WHERE k.org_id = $1 AND k.deal_id = b.entity_id)`
	paidWithoutClientHolds = `EXISTS (SELECT 1 FROM invoices i WHERE i.org_id = $1 AND i.id = b.entity_id AND i.status = 'paid')
        AND NOT EXISTS (SELECT 1 FROM clients k WHERE k.org_id = $1 AND k.invoice_id = b.entity_id)`
	clientWithoutOnboardingHolds = `EXISTS (SELECT 1 FROM clients c WHERE c.org_id = $1 AND c.id = b.entity_id)
        AND NOT EXISTS (SELECT 1 FROM onboarding_tasks t WHERE t.org_id = $1 AND t.client_id = b.entity_id)`
)

// reconcileSQL is the statement of a check over few rows, run whole in one statement (one
// snapshot): found is every finding of check $2 in the org now; the statement resolves the
// check's open alerts whose entity is not among them and opens an alert for each finding without
// one. It returns the alerts opened and the alerts resolved.
func reconcileSQL(found string) string {
	return `WITH found AS (` + found + `), gone AS (
    UPDATE integrity_alerts a SET resolved_at = now()
    WHERE a.org_id = $1 AND a.check_name = $2 AND a.resolved_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM found f
                      WHERE f.entity_type IS NOT DISTINCT FROM a.entity_type AND f.entity_id IS NOT DISTINCT FROM a.entity_id)
    ` + returningSQL("a") + `
), opened AS (` + insertFoundSQL + `)
SELECT ` + aggSQL("opened") + `, ` + aggSQL("gone")
}

// invoiceYearSQL is true of the invoices i issued in the calendar year (UTC) of the counter row k:
// the year whose counter numbered them (pkg/invoice Create).
const invoiceYearSQL = `i.org_id = $1 AND i.issued_at >= make_timestamptz(k.year, 1, 1, 0, 0, 0, 'UTC')
              AND i.issued_at < make_timestamptz(k.year + 1, 1, 1, 0, 0, 0, 'UTC')`

// invoiceSeqSQL is the sequence number of invoice i: the digits that end its number
// ("<prefix><year>-<n>"), NULL when it does not end in digits.
const invoiceSeqSQL = `substring(i.number FROM '([0-9]+)$')::bigint`

// gapSQL finds, per counter row of the org's invoice series $3 (one per calendar year), the
// numbers 1..last that no invoice of that year holds and the numbers above last that one holds:
// the counter and the invoices are written in one transaction, so in one snapshot they agree
// unless a number was lost or made up. The entity is the counter row, named by a UUID made of
// its series and year (md5 of "invoice_counter:<series>:<year>"); the detail names the first 20
// missing ranges [first, last].
var gapSQL = reconcileSQL(`
    SELECT $2::text AS check_name, '` + SeverityCritical + `'::text AS severity, 'invoice_counter'::text AS entity_type,
        md5('invoice_counter:' || k.series || ':' || k.year)::uuid AS entity_id,
        jsonb_build_object('series', k.series, 'year', k.year, 'counterLast', k.last, 'numbered', s.numbered,
            'missing', k.last - s.numbered, 'beyondCounter', s.beyond, 'missingRanges', g.ranges) AS detail
    FROM invoice_counters k
    CROSS JOIN LATERAL (
        SELECT count(DISTINCT n.n) FILTER (WHERE n.n BETWEEN 1 AND k.last) AS numbered,
            count(*) FILTER (WHERE n.n > k.last) AS beyond
        FROM (SELECT ` + invoiceSeqSQL + ` AS n FROM invoices i WHERE ` + invoiceYearSQL + `) n
    ) s
    CROSS JOIN LATERAL (
        SELECT coalesce(jsonb_agg(jsonb_build_array(r.lo, r.hi) ORDER BY r.lo), '[]'::jsonb) AS ranges
        FROM (
            SELECT w.n + 1 AS lo, w.nxt - 1 AS hi FROM (
                SELECT x.n, lead(x.n) OVER (ORDER BY x.n) AS nxt FROM (
                    SELECT 0::bigint AS n UNION SELECT k.last + 1
                    UNION SELECT ` + invoiceSeqSQL + ` FROM invoices i WHERE ` + invoiceYearSQL + `
                        AND ` + invoiceSeqSQL + ` BETWEEN 1 AND k.last
                ) x
            ) w
            WHERE w.nxt > w.n + 1 ORDER BY w.n LIMIT 20
        ) r
    ) g
    WHERE k.org_id = $1 AND k.series = $3 AND (s.numbered < k.last OR s.beyond > 0)`)

// weightedSQL is a deal's rounded weighted value, as deal_pipeline_totals sums it (000011).
const weightedSQL = `(deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000`

// driftSQL compares, per stage and currency, deal_pipeline_totals summed over its rows
// (000025, 000033) with a fresh aggregate of the deals, in one snapshot (the triggers write both in
// the deal's transaction, so they agree in every snapshot unless the totals drifted). A drift is
// one org-wide finding naming every group that differs.
var driftSQL = reconcileSQL(`
    SELECT $2::text AS check_name, '` + SeverityWarning + `'::text AS severity, NULL::text AS entity_type, NULL::uuid AS entity_id,
        jsonb_build_object('groups', jsonb_agg(jsonb_build_object('stage', g.stage, 'currency', g.currency,
            'stored', jsonb_build_object('count', g.sn, 'value', g.sv, 'weighted', g.sw, 'shards', g.shards),
            'fresh', jsonb_build_object('count', g.fn, 'value', g.fv, 'weighted', g.fw)) ORDER BY g.stage, g.currency)) AS detail
    FROM (
        SELECT coalesce(s.stage, f.stage) AS stage, coalesce(s.currency, f.currency) AS currency,
            coalesce(s.n, 0) AS sn, coalesce(s.v, 0) AS sv, coalesce(s.w, 0) AS sw, coalesce(s.shards, 0) AS shards,
            coalesce(f.n, 0) AS fn, coalesce(f.v, 0) AS fv, coalesce(f.w, 0) AS fw
        FROM (SELECT stage, currency, sum(deal_count) AS n, sum(value_sum) AS v, sum(weighted_sum) AS w, count(*) AS shards
              FROM deal_pipeline_totals WHERE org_id = $1 GROUP BY stage, currency) s
        FULL JOIN (SELECT stage, currency, count(*) AS n, sum(deal_value) AS v, sum(` + weightedSQL + `) AS w
              FROM deals WHERE org_id = $1 GROUP BY stage, currency) f
          ON f.stage = s.stage AND f.currency = s.currency
    ) g
    WHERE g.sn <> g.fn OR g.sv <> g.fv OR g.sw <> g.fw
    HAVING count(*) > 0`)

// resolveAlertSQL resolves the org's open alert $2 by hand and returns it.
const resolveAlertSQL = `UPDATE integrity_alerts SET resolved_at = now()
WHERE org_id = $1 AND id = $2 AND resolved_at IS NULL
RETURNING ` + alertColumns

// alertStateSQL says whether the org's alert $2 is resolved; no row when there is no such alert.
const alertStateSQL = `SELECT resolved_at IS NOT NULL FROM integrity_alerts WHERE org_id = $1 AND id = $2`
