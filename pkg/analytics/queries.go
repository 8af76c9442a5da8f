package analytics

// leadStepsSQL counts the org's alive leads created in a window per funnel step: the whole UTC
// days [$4, $5) from lead_funnel_days (dim step, summed over their rows), the partial spans
// [$2, $3) and [$6, $7) at the window's edges from lead_funnel's index on (org_id, created_at).
// Groups that sum to 0 are left out.
const leadStepsSQL = `SELECT key::smallint, sum(n)::bigint FROM (
    SELECT key, lead_count AS n FROM lead_funnel_days
    WHERE org_id = $1 AND dim = 'step' AND day >= $4::date AND day < $5::date
    UNION ALL
    SELECT step::text, 1 FROM lead_funnel
    WHERE org_id = $1 AND alive AND created_at >= $2 AND created_at < $3
    UNION ALL
    SELECT step::text, 1 FROM lead_funnel
    WHERE org_id = $1 AND alive AND created_at >= $6 AND created_at < $7
) x
GROUP BY key
HAVING sum(n) <> 0`

// leadSourcesSQL is leadStepsSQL per source (the empty string for none; dim source).
const leadSourcesSQL = `SELECT key, sum(n)::bigint FROM (
    SELECT key, lead_count AS n FROM lead_funnel_days
    WHERE org_id = $1 AND dim = 'source' AND day >= $4::date AND day < $5::date
    UNION ALL
    SELECT source, 1 FROM lead_funnel
    WHERE org_id = $1 AND alive AND created_at >= $2 AND created_at < $3
    UNION ALL
    SELECT source, 1 FROM lead_funnel
    WHERE org_id = $1 AND alive AND created_at >= $6 AND created_at < $7
) x
GROUP BY key
HAVING sum(n) <> 0`

// leadStagesSQL counts the org's alive leads per current stage (lead_stage_totals, summed over
// its rows).
const leadStagesSQL = `SELECT stage, sum(lead_count)::bigint FROM lead_stage_totals
WHERE org_id = $1 GROUP BY stage HAVING sum(lead_count) <> 0`

// closedSQL sums the org's deals closed in a window per stage (won, lost), of currency $8 (or
// every currency when null): their count, the sum of their values and of their cycles (closing
// time - created_at) in seconds, exact numeric text. The whole UTC days [$4, $5) come from
// deal_closed_days (summed over rows and currencies), the partial spans [$2, $3) and [$6, $7)
// at the window's edges from the deals' indexes on won_at and lost_at.
const closedSQL = `SELECT stage, sum(n)::bigint, sum(v)::text, sum(c)::text FROM (
    SELECT stage, deal_count AS n, value_sum AS v, cycle_sum AS c FROM deal_closed_days
    WHERE org_id = $1 AND day >= $4::date AND day < $5::date AND ($8::text IS NULL OR currency = $8::char(3))
    UNION ALL
    SELECT 'won', 1, deal_value, extract(epoch FROM won_at - created_at) FROM deals
    WHERE org_id = $1 AND stage = 'won' AND ($8::text IS NULL OR currency = $8::char(3))
        AND ((won_at >= $2 AND won_at < $3) OR (won_at >= $6 AND won_at < $7))
    UNION ALL
    SELECT 'lost', 1, deal_value, extract(epoch FROM lost_at - created_at) FROM deals
    WHERE org_id = $1 AND stage = 'lost' AND ($8::text IS NULL OR currency = $8::char(3))
        AND ((lost_at >= $2 AND lost_at < $3) OR (lost_at >= $6 AND lost_at < $7))
) x
GROUP BY stage`

// openDealsSQL reads the org's open deals now per currency ($2, or every currency when null) from
// deal_pipeline_totals (summed over its rows and open stages): count, value and weighted value.
const openDealsSQL = `SELECT currency, sum(deal_count)::bigint, sum(value_sum)::text, sum(weighted_sum)::text
FROM deal_pipeline_totals
WHERE org_id = $1 AND stage IN ('discovery', 'proposal', 'negotiation') AND ($2::text IS NULL OR currency = $2)
GROUP BY currency
HAVING sum(deal_count) <> 0`

// invoicedSQL sums per currency the org's invoices issued in [$2, $3) that are not void, and of
// them those still unpaid (outstanding).
const invoicedSQL = `SELECT currency, count(*), sum(amount)::text,
    count(*) FILTER (WHERE status = 'issued'), coalesce(sum(amount) FILTER (WHERE status = 'issued'), 0)::text
FROM invoices
WHERE org_id = $1 AND issued_at >= $2 AND issued_at < $3 AND status <> 'void'
GROUP BY currency`

// paidSQL sums per currency the org's invoices paid in [$2, $3).
const paidSQL = `SELECT currency, count(*), sum(amount)::text FROM invoices
WHERE org_id = $1 AND paid_at >= $2 AND paid_at < $3
GROUP BY currency`

// clientStatusesSQL counts the org's clients per status now.
const clientStatusesSQL = `SELECT status, count(*) FROM clients WHERE org_id = $1 GROUP BY status`

// openAlertsSQL counts the org's unresolved integrity alerts.
const openAlertsSQL = `SELECT count(*) FROM integrity_alerts WHERE org_id = $1 AND resolved_at IS NULL`
