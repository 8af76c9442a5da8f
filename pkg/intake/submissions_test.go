package intake_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestSubmissionIndexesLeaveForeignKeyChecksToPrimaryKey proves the indexes of the submissions
// list (migration 000018) cannot take over the foreign-key check that every new lead makes on
// its raw row (leads.intake_id): PostgreSQL checks it with "org_id = $1 AND id = $2" and keeps
// the generic plan it first made, and on a nearly empty table a plain index leading with org_id
// costs the same as the primary key and was chosen, which walks the whole org per check once
// the table has grown. The list's indexes are partial on status, which the check never names.
func TestSubmissionIndexesLeaveForeignKeyChecksToPrimaryKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.exec(t, `INSERT INTO lead_intake_raw (org_id, delivery_key, content_type, body, status)
VALUES ($1, 'k1', 'application/json', '{}', 'processed'), ($1, 'k2', 'application/json', '{}', 'pending')`, b.org)
	conn, err := b.super.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `PREPARE fk_check(uuid, uuid) AS
SELECT 1 FROM ONLY lead_intake_raw x WHERE org_id = $1 AND id = $2 FOR KEY SHARE OF x`)
	require.NoError(t, err)
	rows, err := conn.Query(ctx, "EXPLAIN EXECUTE fk_check(NULL, NULL)")
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	plan := strings.Join(lines, "\n")
	require.Contains(t, plan, "using lead_intake_raw_pkey", "the check must use the primary key:\n%s", plan)
}
