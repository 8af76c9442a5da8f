package lead

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/proctest"
)

// TestSweepStatementsReadTheirChunk proves each chunk statement of the sweeps reads its chunk by
// key, not the org: with 20,000 leads (half of them contacted) and tables without statistics
// (but for the auto-priority chunk, see below), a chunk of 50 stays within a few buffers per lead
// in both the custom and the generic plan, where reading the org's leads takes about two
// thousand; a write of every lead of the chunk stays within the buffers of 50 updates, each
// touching the lead's page and its dozen indexes (about 35 a lead), where a plan that reads the
// org on top of them would touch about twice as many.
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
	now, later := time.Now().UTC(), time.Now().UTC().Add(14*24*time.Hour)
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{
		{Name: "ghost risk chunk, none due", SQL: ghostRiskChunkSQL, Args: []any{orgID.String(), uuid.Nil.String(), "50",
			now.Format(time.RFC3339), "7"}, Limit: 50 * 10},
		{Name: "ghost risk chunk, all due", SQL: ghostRiskChunkSQL, Args: []any{orgID.String(), uuid.Nil.String(), "50",
			later.Format(time.RFC3339), "7"}, Limit: 50 * 50},
	})
	// The auto-priority chunk reads its leads in one range scan of the primary key once the table
	// has statistics; without them the planner may read the org's leads and sort them, which is
	// cheap while the table is young, and the nightly sweep never meets it at scale. Its deals are
	// the range of the chunk's leads: with two open deals on every lead (40,000, some 500 pages),
	// reading them all would pass the limits on their own. Every lead has an open deal, so the
	// table makes each high: first every lead of the chunk differs and is written (its read, the
	// probe of its events for the hold, its new version; reading the org's leads on top, as a
	// hash join of the write with a scan of leads did, takes 1,100 buffers more), then, with the
	// priorities the table's, none is (the range scan and the deals' range: 156 buffers, where a
	// probe per lead took 307).
	_, err = super.Pool.Exec(ctx, `INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage)
SELECT org_id, id, 'Licence', 1000, 'EUR', s FROM leads, unnest(ARRAY['discovery', 'proposal']) s WHERE org_id = $1`, orgID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `ANALYZE leads, deals`)
	require.NoError(t, err)
	r := DefaultPriorityRules()
	priority := func(name string, limit int) dbtest.PlanCheck {
		return dbtest.PlanCheck{Name: name, SQL: autoPriorityChunkSQL, Args: []any{orgID.String(), uuid.Nil.String(), "50",
			fmt.Sprint(r.HotScore), fmt.Sprint(r.WarmScore), fmt.Sprint(r.ColdGhostRisk), fmt.Sprint(r.LargeDealValue),
			now.Add(-r.Hold).Format(time.RFC3339)}, Limit: limit}
	}
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{priority("auto priority chunk, all differ", 50*20)})
	_, err = super.Pool.Exec(ctx, `UPDATE leads SET priority = 'high' WHERE org_id = $1`, orgID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `VACUUM ANALYZE leads`)
	require.NoError(t, err)
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{priority("auto priority chunk, none differ", 50*5)})

	// The walk by the table's pages reads the leads of its pages alone (a TID range scan) and
	// probes the deals of each: the first five pages and their leads' deals stay within 150
	// buffers, where reading the org takes over a thousand.
	var onPages int
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT count(*) FROM leads WHERE ctid < '(5,0)'::tid`).Scan(&onPages))
	require.Positive(t, onPages)
	pages := priority("auto priority pages, none differ", 150)
	pages.SQL, pages.Args[1], pages.Args[2] = autoPriorityPagesSQL, "(0,0)", "(5,0)"
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{pages})
}

// TestAutoPriorityChunkLeavesAConcurrentChange proves the auto-priority chunk leaves a lead
// alone when it changed after the statement read it: a client's change that commits while the
// chunk waits for the lead's row lock is never overwritten with a priority computed from before
// it, and the next run gives the lead the table's priority of its new data.
func TestAutoPriorityChunkLeavesAConcurrentChange(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	var id uuid.UUID
	require.NoError(t, super.Pool.QueryRow(ctx, `INSERT INTO leads (org_id, email, fingerprint, version, stage, score)
VALUES ($1, 'a@acme.example', 'a', 3, 'qualified', 10) RETURNING id`, orgID).Scan(&id))
	r := DefaultPriorityRules()
	chunk := func() int {
		type row struct {
			ID *uuid.UUID `gorm:"column:id"`
		}
		var n int
		require.NoError(t, owner.Tx(ctx, orgID, func(tx *gorm.DB) error {
			out, err := db.Select[row](ctx, tx, autoPriorityChunkSQL, orgID, uuid.Nil, 10,
				r.HotScore, r.WarmScore, r.ColdGhostRisk, r.LargeDealValue, time.Now().Add(-r.Hold))
			for _, o := range out {
				if o.ID != nil {
					n++
				}
			}
			return err
		}))
		return n
	}
	state := func() (string, int) {
		var p string
		var version int
		require.NoError(t, super.Pool.QueryRow(ctx, `SELECT priority, version FROM leads WHERE id = $1`, id).Scan(&p, &version))
		return p, version
	}

	// A client rescores the lead (cold, low, becomes hot, high) and holds its row lock until the
	// chunk, which read the lead as cold, waits for it.
	client, err := super.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = client.Rollback(ctx) }()
	_, err = client.Exec(ctx, `UPDATE leads SET score = 90, version = version + 1 WHERE id = $1`, id)
	require.NoError(t, err)
	done := make(chan int, 1)
	go func() { done <- chunk() }()
	proctest.Eventually(t, 10*time.Second, "the chunk waiting for the lead's row lock", func() bool {
		var waiting bool
		require.NoError(t, super.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%WITH chunk AS MATERIALIZED%')`).Scan(&waiting))
		return waiting
	})
	require.NoError(t, client.Commit(ctx))
	require.Zero(t, <-done, "a lead changed while the chunk waited")
	p, version := state()
	require.Equal(t, string(PriorityNormal), p)
	require.Equal(t, 4, version)

	require.Equal(t, 1, chunk(), "the next run sees the change")
	p, version = state()
	require.Equal(t, string(PriorityHigh), p)
	require.Equal(t, 5, version)
	require.Zero(t, chunk(), "the priority is already the table's")
}

// TestAutoPriorityHoldIsAProbePerLead proves the hold of the auto-priority chunk statements stays
// a probe of a lead's own events for each lead that differs, in the custom and the generic plan,
// for a chunk as large as the pace allows: an org whose 20,000 leads all have an edit among its
// events (lead.updated, not of the priority) would otherwise be answered with one scan of all
// those events hashed by lead (the "hashed SubPlan" of EXISTS turned into ANY), a scan that grows
// with the org's history and that the api's edits add to all the time.
func TestAutoPriorityHoldIsAProbePerLead(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	_, err := super.Pool.Exec(ctx, `INSERT INTO leads (org_id, email, fingerprint, score)
SELECT $1, 'h' || g || '@acme.example', 'email:h' || g, g % 100 FROM generate_series(1, 20000) g`, orgID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key)
SELECT org_id, 'lead.updated', 'lead', id, '{"changes": {"notes": {"from": "a", "to": "b"}}}', 'edit:' || id FROM leads WHERE org_id = $1`, orgID)
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `ANALYZE leads, events`)
	require.NoError(t, err)
	r := DefaultPriorityRules()
	thresholds := []any{fmt.Sprint(r.HotScore), fmt.Sprint(r.WarmScore), fmt.Sprint(r.ColdGhostRisk), fmt.Sprint(r.LargeDealValue),
		time.Now().Add(-r.Hold).Format(time.RFC3339)}
	var pages int64
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT pg_relation_size('leads') / current_setting('block_size')::bigint`).Scan(&pages))
	checks := map[string][]any{
		autoPriorityChunkSQL: append([]any{orgID.String(), uuid.Nil.String(), "10000"}, thresholds...),
		autoPriorityPagesSQL: append([]any{orgID.String(), "(0,0)", tidOf(pages)}, thresholds...),
	}
	for sql, args := range checks {
		for mode, plan := range dbtest.PlanTexts(t, owner, orgID, sql, args) {
			require.NotContains(t, plan, "hashed SubPlan", "%s:\n%s", mode, plan)
			require.Contains(t, plan, "Index Cond: ((e.org_id = ", "%s:\n%s", mode, plan)
		}
	}
}
