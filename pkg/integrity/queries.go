package integrity

// The statements of the integrity package, in PostgreSQL's placeholders (pkg/db). Each names
// its org itself; row-level security is the second guard.

const (
	// listAlertsSQL starts a page of alerts; listAlerts adds the filters and the keyset's tail.
	listAlertsSQL = `SELECT org_id, id, check_name, severity, entity_type, entity_id, detail, detected_at, resolved_at
FROM integrity_alerts WHERE org_id = `
	openOnlySQL     = ` AND resolved_at IS NULL`
	resolvedOnlySQL = ` AND resolved_at IS NOT NULL`
	severitySQL     = ` AND severity = `
)
