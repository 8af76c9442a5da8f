package contract

// The statements of the contract domain, in PostgreSQL's placeholders (pkg/db). Each filters
// org_id itself; row-level security is the second guard.

// contractColumns are the columns of a contractRow, read from contracts c joined to their deal d
// (the lead is the deal's).
const contractColumns = `c.id, c.deal_id, d.lead_id, c.status, c.document_sha256, c.generated_at, c.causation_event_id`

const contractFrom = ` FROM contracts c JOIN deals d ON d.org_id = c.org_id AND d.id = c.deal_id `

const (
	// getContractSQL reads the org's contract by its primary key.
	getContractSQL = `SELECT ` + contractColumns + contractFrom + `WHERE c.org_id = $1 AND c.id = $2`
	// lockContractSQL is getContractSQL with the contract's row locked until the transaction ends.
	lockContractSQL = getContractSQL + ` FOR UPDATE OF c`
	// getDocumentSQL reads a contract's stored document (NULL until rendered); no row when the
	// org has no such contract.
	getDocumentSQL = `SELECT document FROM contracts WHERE org_id = $1 AND id = $2`
	// setStatusSQL moves the contract to status $3.
	setStatusSQL = `UPDATE contracts SET status = $3 WHERE org_id = $1 AND id = $2`
)

// The statements of Generate.
const (
	// contractedDealsSQL lists which of the deals $2 have a contract already.
	contractedDealsSQL = `SELECT deal_id FROM contracts WHERE org_id = $1 AND deal_id = ANY($2::uuid[])`
	// insertContractsSQL inserts one contract per element of the parallel arrays $2..$6, all
	// generated at $7.
	insertContractsSQL = `INSERT INTO contracts (org_id, id, deal_id, document, document_sha256, causation_event_id,
	generated_at, created_at)
SELECT $1, u.id, u.deal_id, u.document, u.sha, u.cause, $7, $7
FROM unnest($2::uuid[], $3::uuid[], $4::bytea[], $5::text[], $6::bigint[]) AS u(id, deal_id, document, sha, cause)`
)

// The fragments of a page of contracts (listContracts).
const (
	listContractsSQL = `SELECT ` + contractColumns + contractFrom + `WHERE c.org_id = `
	dealIsSQL        = ` AND c.deal_id = `
)
