package integrity

// The statements of the integrity package, in PostgreSQL's placeholders (pkg/db). Each names
// its org itself; row-level security is the second guard. The check run's are in
// check_queries.go.

// alertColumns are the columns scanAlert reads, in its order.
const alertColumns = `org_id, id, check_name, severity, entity_type, entity_id, detail, detected_at, resolved_at`

const (
	// listAlertsSQL starts a page of alerts; listAlerts adds the filters and the keyset's tail.
	listAlertsSQL   = `SELECT ` + alertColumns + ` FROM integrity_alerts WHERE org_id = `
	openOnlySQL     = ` AND resolved_at IS NULL`
	resolvedOnlySQL = ` AND resolved_at IS NOT NULL`
	severitySQL     = ` AND severity = `
	checkNameSQL    = ` AND check_name = `
)
