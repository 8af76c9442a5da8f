package intake

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
)

// TestProcessStatementsProbeByKey proves the set-based statements of processing reach the
// batch's raw rows by key alone: locking and reading them (lockRawIntakesSQL) and marking their
// outcomes (markRawsSQL). The org has 5,000 raw rows and the table no statistics yet, as in a new
// install's first minute of intake. Each statement, for 8 rows, must stay within a few buffers
// per row, in both the custom and the generic plan, run as the worker's role (the owner, under
// the row-level security of lead_intake_raw) in a tenant transaction.
func TestProcessStatementsProbeByKey(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	_, err := super.Pool.Exec(ctx, `INSERT INTO lead_intake_raw (org_id, delivery_key, content_type, body, status)
SELECT $1, 'd' || g, 'application/json', convert_to('{"email": "r' || g || '@acme.example", "notes": "' || repeat('n', 1000) || '"}', 'UTF8'),
    CASE WHEN g <= 8 THEN 'pending' ELSE 'processed' END
FROM generate_series(1, 5000) g`, orgID)
	require.NoError(t, err)
	rows, err := super.Pool.Query(ctx, `SELECT id FROM lead_intake_raw WHERE org_id = $1 AND status = 'pending'`, orgID)
	require.NoError(t, err)
	rawIDs, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	require.NoError(t, err)
	require.Len(t, rawIDs, 8)
	keys := make([]string, len(rawIDs))
	marks := make([]mark, len(rawIDs))
	for i, id := range rawIDs {
		reason := "rejected by the test"
		keys[i], marks[i] = id.String(), mark{id: id, status: SubmissionRejected, reason: &reason}
	}

	// For each of the 8 rows a primary-key probe and its heap page, and the org's row for the
	// policy; marking writes the index entries of 8 new row versions too. Reading the org's rows
	// takes hundreds.
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{
		{Name: "lock raw rows", SQL: lockRawIntakesSQL, Args: []any{orgID.String(), keys}, Limit: 8 * 10},
		{Name: "mark raw rows", SQL: markRawsSQL, Args: markRawsArgs(orgID, marks), Limit: 8 * 6 * 10},
	})
}
