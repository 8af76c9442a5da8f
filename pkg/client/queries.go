package client

// The statements of the client domain, in PostgreSQL's placeholders (pkg/db). Each filters org_id
// itself; row-level security is the second guard.

// clientColumns are the columns of a clientRow, read from clients c.
const clientColumns = `c.id, c.lead_id, c.deal_id, c.invoice_id, c.name, c.email, c.company, c.status,
	to_char(c.renewal_date, 'YYYY-MM-DD') AS renewal_date, c.status_changed_at, c.causation_event_id,
	c.onboarded_at, c.created_at`

// taskColumns are the columns of a taskRow, read from onboarding_tasks t.
const taskColumns = `t.id, t.position, t.title, t.status, t.due_at, t.completed_at, t.causation_event_id`

const (
	// getClientSQL reads the org's client by its primary key.
	getClientSQL = `SELECT ` + clientColumns + ` FROM clients c WHERE c.org_id = $1 AND c.id = $2`
	// lockClientSQL is getClientSQL with the client's row locked until the transaction ends.
	lockClientSQL = getClientSQL + ` FOR UPDATE`

	// setStatusSQL moves the client to status $3 at $4.
	setStatusSQL = `UPDATE clients SET status = $3, status_changed_at = $4 WHERE org_id = $1 AND id = $2`
	// setRenewalSQL sets the client's renewal date.
	setRenewalSQL = `UPDATE clients SET renewal_date = $3::date WHERE org_id = $1 AND id = $2`
	// onboardSQL marks the client onboarded at $3 and, when it is still onboarding, active.
	onboardSQL = `UPDATE clients SET onboarded_at = $3,
	status = CASE WHEN status = 'onboarding' THEN 'active' ELSE status END,
	status_changed_at = CASE WHEN status = 'onboarding' THEN $3 ELSE status_changed_at END
WHERE org_id = $1 AND id = $2 AND onboarded_at IS NULL`
)

// The statements of Create and StartOnboarding.
const (
	// insertClientSQL creates the client of the paid invoice $2, caused by event $3: copied from
	// the lead of the invoice's deal, renewing a year after the payment (UTC date). A repeat (the
	// invoice has its client: unique (org_id, invoice_id)) or an invoice that is missing or not
	// paid inserts nothing and returns no row.
	insertClientSQL = `INSERT INTO clients AS c (org_id, lead_id, deal_id, invoice_id, name, email, company, status,
	renewal_date, status_changed_at, causation_event_id, created_at)
SELECT i.org_id, d.lead_id, d.id, i.id, l.name, l.email, l.company, 'onboarding',
	((i.paid_at AT TIME ZONE 'UTC') + interval '1 year')::date, $4, $3, $4
FROM invoices i
JOIN deals d ON d.org_id = i.org_id AND d.id = i.deal_id
LEFT JOIN leads l ON l.org_id = d.org_id AND l.id = d.lead_id
WHERE i.org_id = $1 AND i.id = $2 AND i.status = 'paid'
ON CONFLICT (org_id, invoice_id) DO NOTHING
RETURNING ` + clientColumns

	// hasTasksSQL says whether the client has onboarding tasks already.
	hasTasksSQL = `SELECT EXISTS (SELECT 1 FROM onboarding_tasks WHERE org_id = $1 AND client_id = $2)`
	// insertTasksSQL inserts the client $2's tasks from the parallel arrays $3..$5, caused by
	// event $6; a position taken already is left alone.
	insertTasksSQL = `INSERT INTO onboarding_tasks (org_id, client_id, position, title, due_at, causation_event_id)
SELECT $1, $2, u.position, u.title, u.due_at, $6
FROM unnest($3::int[], $4::text[], $5::timestamptz[]) AS u(position, title, due_at)
ON CONFLICT (org_id, client_id, position) DO NOTHING`
)

// The tasks.
const (
	// listTasksSQL reads the client's tasks in their order.
	listTasksSQL = `SELECT ` + taskColumns + ` FROM onboarding_tasks t WHERE t.org_id = $1 AND t.client_id = $2 ORDER BY t.position`
	// lockTaskSQL reads and locks the client's task $3.
	lockTaskSQL = `SELECT ` + taskColumns + ` FROM onboarding_tasks t WHERE t.org_id = $1 AND t.client_id = $2 AND t.id = $3 FOR UPDATE`
	// setTaskSQL sets the task's status; done or skipped stamps completed_at at $4 (kept when it
	// was done or skipped already), pending clears it.
	setTaskSQL = `UPDATE onboarding_tasks SET status = $3,
	completed_at = CASE WHEN $3 = 'pending' THEN NULL ELSE coalesce(completed_at, $4) END
WHERE org_id = $1 AND id = $2`
	// taskCountsSQL counts the client's tasks by status.
	taskCountsSQL = `SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
	count(*) FILTER (WHERE status = 'done') AS done, count(*) FILTER (WHERE status = 'skipped') AS skipped
FROM onboarding_tasks WHERE org_id = $1 AND client_id = $2`
)

// The fragments of a page of clients (listClients).
const (
	listClientsSQL = `SELECT ` + clientColumns + ` FROM clients c WHERE c.org_id = `
	statusIsSQL    = ` AND c.status = `
)

// The statements of RemindRenewals.
const (
	// todaySQL is today's date in UTC by the database clock, YYYY-MM-DD.
	todaySQL = `SELECT to_char((now() AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')`
	// renewalsDueSQL reads the next $5 clients of the org that are not churned and renew from
	// $2 (today) to $6 days after it, after the key ($3, $4) in (renewal_date, id) order
	// (clients_org_id_renewal_date_idx), with the days left until the renewal.
	renewalsDueSQL = `SELECT c.id, c.lead_id, c.name, c.company, to_char(c.renewal_date, 'YYYY-MM-DD') AS renewal_date,
	c.renewal_date - $2::date AS days_left
FROM clients c
WHERE c.org_id = $1 AND c.renewal_date BETWEEN $2::date AND $2::date + $6::int
	AND (c.renewal_date, c.id) > ($3::date, $4::uuid) AND c.status <> 'churned'
ORDER BY c.renewal_date, c.id
LIMIT $5`
)
