package lead

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
)

// TestSweepStatementsReadTheirChunk proves each chunk statement of the sweeps reads its chunk by
// key, not the org: with 20,000 leads (half of them contacted) and tables without statistics
// (but for the priority chunk's read, see below), a
// chunk of 50 stays within a few buffers per lead in both the custom and the generic plan, where
// reading the org's leads takes about two thousand; a write of every lead of the chunk stays
// within the buffers of 50 updates, each touching the lead's page and its dozen indexes (about
// 35 a lead), where a plan that reads the org on top of them would touch about twice as many.
func TestSweepStatementsReadTheirChunk(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	_, err := super.Pool.Exec(ctx, `INSERT INTO leads (org_id, email, fingerprint, stage, score, notes, last_activity_at)
SELECT $1, 'p' || g || '@acme.example', 'email:p' || g, CASE WHEN g % 2 = 0 THEN 'contacted' ELSE 'qualified' END, g % 100,
    repeat('n', 200), now()
FROM generate_series(1, 20000) g`, orgID)
	require.NoError(t, err)
	rows, err := super.Pool.Query(ctx, `SELECT id::text, version FROM leads WHERE org_id = $1 ORDER BY id LIMIT 50`, orgID)
	require.NoError(t, err)
	var ids []string
	var versions []int32
	var lows []string
	for rows.Next() {
		var id string
		var version int32
		require.NoError(t, rows.Scan(&id, &version))
		ids, versions, lows = append(ids, id), append(versions, version), append(lows, string(PriorityLow))
	}
	require.NoError(t, rows.Err())
	// Nothing is due as of now (every lead was active just now); as of two weeks ahead every
	// contacted lead of the chunk is, and each is written with its event-free update: a
	// primary-key probe, its heap page and the index entries of its new version. (The generic
	// plan's runs also step over the row versions the custom plan's rolled-back writes left.)
	now, later := time.Now().UTC(), time.Now().UTC().Add(14*24*time.Hour)
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{
		{Name: "ghost risk chunk, none due", SQL: ghostRiskChunkSQL, Args: []any{orgID.String(), uuid.Nil.String(), "50",
			now.Format(time.RFC3339), "7"}, Limit: 50 * 10},
		{Name: "ghost risk chunk, all due", SQL: ghostRiskChunkSQL, Args: []any{orgID.String(), uuid.Nil.String(), "50",
			later.Format(time.RFC3339), "7"}, Limit: 50 * 50},
		{Name: "priority writes", SQL: priorityWritesSQL, Args: []any{orgID.String(), ids, versions, lows, now.Format(time.RFC3339)},
			Limit: 50 * 50},
	})
	// The chunk read of the auto-priority sweep walks the primary key in order once the table has
	// statistics; without them the planner may read the org's leads and sort them, which is cheap
	// while the table is young, and the nightly sweep never meets it at scale. Its deals are the
	// range of the chunk's leads: with two deals on every lead (40,000, some 500 pages), reading
	// them all would pass the limit on its own.
	_, err = super.Pool.Exec(ctx, `INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage)
SELECT org_id, id, 'Licence', 1000, 'EUR', s FROM leads, unnest(ARRAY['discovery', 'proposal']) s WHERE org_id = $1`, orgID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `ANALYZE leads, deals`)
	require.NoError(t, err)
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{
		// The ids' index-only scan also visits the row versions the writes above left (rolled back).
		{Name: "priority chunk", SQL: priorityChunkSQL, Args: []any{orgID.String(), uuid.Nil.String(), "50"}, Limit: 50 * 15},
	})
}

// TestPriorityWritesCheckTheVersion proves the auto-priority write leaves a lead alone when its
// version moved since the chunk read it: a client's change between the read and the write is
// never overwritten with a priority computed from before it.
func TestPriorityWritesCheckTheVersion(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	var id uuid.UUID
	require.NoError(t, super.Pool.QueryRow(ctx, `INSERT INTO leads (org_id, email, fingerprint, version)
VALUES ($1, 'a@acme.example', 'a', 3) RETURNING id`, orgID).Scan(&id))
	write := func(version int32) int {
		var n int
		require.NoError(t, owner.Tx(ctx, orgID, func(tx *gorm.DB) error {
			out, err := db.Select[uuid.UUID](ctx, tx, `WITH u AS (`+priorityWritesSQL+`) SELECT id FROM u`,
				orgID, []string{id.String()}, []int32{version}, []string{string(PriorityLow)}, time.Now())
			n = len(out)
			return err
		}))
		return n
	}
	require.Zero(t, write(2), "a stale version")
	require.Equal(t, 1, write(3))
	require.Zero(t, write(4), "the priority is already the table's")
}
