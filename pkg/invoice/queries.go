package invoice

// The statements of the invoice domain, in PostgreSQL's placeholders (pkg/db). Each filters org_id
// itself; row-level security is the second guard.

// invoiceColumns are the columns of an invoiceRow, read from invoices i joined to their deal d
// (the lead is the deal's).
const invoiceColumns = `i.id, i.number, i.deal_id, d.lead_id, i.amount, i.currency, i.status, i.issued_at,
	i.due_at, i.paid_at, i.payment_reference, i.voided_at, i.void_reason, i.causation_event_id, i.created_at`

const invoiceFrom = ` FROM invoices i JOIN deals d ON d.org_id = i.org_id AND d.id = i.deal_id `

const (
	// getInvoiceSQL reads the org's invoice by its primary key.
	getInvoiceSQL = `SELECT ` + invoiceColumns + invoiceFrom + `WHERE i.org_id = $1 AND i.id = $2`
	// lockInvoiceSQL is getInvoiceSQL with the invoice's row locked until the transaction ends.
	lockInvoiceSQL = getInvoiceSQL + ` FOR UPDATE OF i`
	// getDocumentSQL reads an invoice's stored document (NULL until rendered); no row when the
	// org has no such invoice.
	getDocumentSQL = `SELECT document FROM invoices WHERE org_id = $1 AND id = $2`

	// payInvoiceSQL marks an issued invoice paid at $3 with reference $4.
	payInvoiceSQL = `UPDATE invoices SET status = 'paid', paid_at = $3, payment_reference = $4
WHERE org_id = $1 AND id = $2 AND status = 'issued'`
	// voidInvoiceSQL voids an issued invoice with reason $3; its number stays.
	voidInvoiceSQL = `UPDATE invoices SET status = 'void', voided_at = now(), void_reason = $3
WHERE org_id = $1 AND id = $2 AND status = 'issued'`
)

// The statements of Create.
const (
	// invoicedDealsSQL lists which of the deals $2 have an invoice already.
	invoicedDealsSQL = `SELECT deal_id FROM invoices WHERE org_id = $1 AND deal_id = ANY($2::uuid[])`

	// takeNumbersSQL takes the next $4 numbers of the org's series $2 in year $3 and returns the
	// last of them: the counter row is created at $4 or moved on by $4, and stays locked until the
	// transaction ends, so concurrent takers of one org and year queue on it and a rollback gives
	// the numbers back (migration 000021).
	takeNumbersSQL = `INSERT INTO invoice_counters AS c (org_id, series, year, last) VALUES ($1, $2, $3, $4)
ON CONFLICT (org_id, series, year) DO UPDATE SET last = c.last + EXCLUDED.last
RETURNING c.last`

	// insertInvoicesSQL inserts one invoice per element of the parallel arrays $2..$7, all issued
	// at $8 and due at $9.
	insertInvoicesSQL = `INSERT INTO invoices (org_id, id, deal_id, number, amount, currency, document,
	causation_event_id, issued_at, due_at, created_at)
SELECT $1, u.id, u.deal_id, u.number, u.amount, u.currency, u.document, u.cause, $8, $9, $8
FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::bigint[], $6::text[], $7::bytea[], $10::bigint[])
	AS u(id, deal_id, number, amount, currency, document, cause)`
)

// The fragments of a page of invoices (listInvoices).
const (
	listInvoicesSQL = `SELECT ` + invoiceColumns + invoiceFrom + `WHERE i.org_id = `
	statusIsSQL     = ` AND i.status = `
	dealIsSQL       = ` AND i.deal_id = `
)
