package lead

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
)

// TestBatchStatementsProbeByKey proves the set-based statements of the lead store reach the batch's
// rows by key alone: locking and reading leads (lockLiveSQL), storing their writes (storeWritesSQL)
// and inserting the leads of intake submissions (insertIntakeLeadsSQL). The org has 5,000 leads and
// 5,000 raw rows and the tables no statistics yet, as in a new install's first minute of intake,
// the case in which a plan that filters by org reads every lead of the org per batch. Each
// statement, for 8 rows, must stay within a few buffers per row, in both the custom and the generic
// plan, run as the worker's role (the owner, under the row-level security of lead_intake_raw) in a
// tenant transaction. pkg/intake's test does the same for its statements on lead_intake_raw.
func TestBatchStatementsProbeByKey(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	_, err := super.Pool.Exec(ctx, `INSERT INTO leads (org_id, email, source, fingerprint, notes)
SELECT $1, 'p' || g || '@acme.example', 'test', 'email:p' || g || '@acme.example', repeat('n', 200)
FROM generate_series(1, 5000) g`, orgID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `INSERT INTO lead_intake_raw (org_id, delivery_key, content_type, body, status)
SELECT $1, 'd' || g, 'application/json', convert_to('{"email": "r' || g || '@acme.example", "notes": "' || repeat('n', 1000) || '"}', 'UTF8'),
    CASE WHEN g <= 8 THEN 'pending' ELSE 'processed' END
FROM generate_series(1, 5000) g`, orgID)
	require.NoError(t, err)
	firstIDs := func(sql string) []uuid.UUID {
		rows, err := super.Pool.Query(ctx, sql, orgID)
		require.NoError(t, err)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		require.NoError(t, err)
		require.Len(t, ids, 8)
		return ids
	}
	leadIDs := firstIDs(`SELECT id FROM leads WHERE org_id = $1 ORDER BY email DESC LIMIT 8`)
	rawIDs := firstIDs(`SELECT id FROM lead_intake_raw WHERE org_id = $1 AND status = 'pending'`)

	writes := make([]Write, len(leadIDs))
	for i, id := range leadIDs {
		high := PriorityHigh
		writes[i] = Write{ID: id, Priority: &high}
	}
	storeArgs, err := storeWritesArgs(orgID, writes)
	require.NoError(t, err)
	news := make([]intakeLead, len(rawIDs))
	for i, id := range rawIDs {
		email := fmt.Sprintf("new%d@beta.example", i)
		news[i] = intakeLead{lead: Lead{Email: &email, Extra: Doc("{}"), Priority: PriorityNormal, Fingerprint: "email:" + email}, intakeID: id}
	}

	// The buffers each statement may touch: for each of the 8 rows a primary-key probe and its
	// heap page (and the org's row, for the ICP of leads and the policy of raw rows); where it
	// writes, the index entries of 8 new row versions too (10 indexes on leads). Reading the
	// org's rows takes hundreds.
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{
		{Name: "lock leads", SQL: lockLiveSQL, Args: []any{orgID.String(), keyOrder(leadIDs), true}, Limit: 8 * 10},
		{Name: "store leads", SQL: storeWritesSQL, Args: storeArgs, Limit: 8 * 6 * 10},
		{Name: "insert intake leads", SQL: insertIntakeLeadsSQL, Args: insertIntakeLeadsArgs(orgID, news), Limit: 8 * 6 * 10},
	})
}

// TestForeignKeyChecksUsePrimaryKey proves the foreign-key checks that every new lead causes reach
// the referenced row by its key: PostgreSQL checks a foreign key with "SELECT 1 FROM ONLY t x WHERE
// org_id = $1 AND id = $2 FOR KEY SHARE OF x" and keeps the generic plan it first made, and on a
// nearly empty table (a new install's first minute) any other index leading with org_id looks as
// cheap as the key and could be kept, walking the whole org per check. Each table is checked with
// one row in it, in the generic plan: id must be an index condition, not a filter (a filter on
// org_id behind a look-up of the id, as intake_sources's index on id alone gives, is as good).
func TestForeignKeyChecksUsePrimaryKey(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	_, err := super.Pool.Exec(ctx, `INSERT INTO lead_intake_raw (org_id, delivery_key, content_type, body)
VALUES ($1, 'k1', 'application/json', '{}')`, orgID)
	require.NoError(t, err)
	conn, err := super.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan")
	require.NoError(t, err)
	// The tables that the foreign keys of a new lead's rows point at by (org_id, id): the raw row
	// (leads.intake_id), the lead (lead_intake_raw.lead_id, lead_activities.lead_id), the event
	// (jobs.event_id) and the source (lead_intake_raw.source_id, leads.source_id).
	for _, table := range []string{"lead_intake_raw", "leads", "events", "intake_sources"} {
		var idType string
		require.NoError(t, conn.QueryRow(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = $1::regclass AND attname = 'id'`, table).Scan(&idType))
		_, err := conn.Exec(ctx, fmt.Sprintf(`PREPARE fk_check(uuid, %s) AS
SELECT 1 FROM ONLY %s x WHERE org_id = $1 AND id = $2 FOR KEY SHARE OF x`, idType, table))
		require.NoError(t, err, table)
		rows, err := conn.Query(ctx, "EXPLAIN EXECUTE fk_check(NULL, NULL)")
		require.NoError(t, err, table)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, table)
		plan := strings.Join(lines, "\n")
		require.Regexp(t, `Index Cond: .*\bid = \$2\b`, plan, "%s: the check must look the id up:\n%s", table, plan)
		require.NotRegexp(t, `Filter: .*\bid = \$2\b`, plan, "%s:\n%s", table, plan)
		_, err = conn.Exec(ctx, "DEALLOCATE fk_check")
		require.NoError(t, err, table)
	}
}
