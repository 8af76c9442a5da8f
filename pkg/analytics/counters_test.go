package analytics_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/proctest"
)

// counterDB is a test database with one org, the api's role on it and the superuser.
type counterDB struct {
	org   uuid.UUID
	app   *db.DB
	super *db.DB
}

// newCounterDB makes a test database with the org acme and opens the api's role (8 connections)
// and the superuser on it.
func newCounterDB(t *testing.T) counterDB {
	t.Helper()
	owner, url := dbtest.NewDB(t)
	org := dbtest.NewOrg(t, owner, "acme")
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 8, AppName: "analytics_test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	return counterDB{org: org, app: app, super: dbtest.SuperDB(t, url)}
}

func (c counterDB) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	_, err := c.super.Pool.Exec(t.Context(), q, args...)
	require.NoError(t, err)
}

// newLead inserts a live lead of the org in stage new and returns its id.
func (c counterDB) newLead(t *testing.T) uuid.UUID {
	t.Helper()
	id := uuid.New()
	c.exec(t, `INSERT INTO leads (org_id, id, email, fingerprint, source) VALUES ($1, $2, $3, $3, 'web')`,
		c.org, id, id.String()+"@example.com")
	return id
}

// newDeal inserts an open deal (negotiation, USD) of a lead of its own and returns its id.
func (c counterDB) newDeal(t *testing.T) uuid.UUID {
	t.Helper()
	id := uuid.New()
	c.exec(t, `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability)
VALUES ($1, $2, $3, 'Deal', 1000, 'USD', 'negotiation', 0.5)`, c.org, id, c.newLead(t))
	return id
}

// requireExact requires every counter projection of the org to equal a fresh aggregate of the
// rows it counts.
func (c counterDB) requireExact(t *testing.T) {
	t.Helper()
	requireProjectionsExact(t, c.super, c.org, false)
}

// projectionChecks pair each counter projection, summed over its rows, with a fresh aggregate of
// the rows it counts, both as sorted text for org ?.
var projectionChecks = []struct{ stored, fresh string }{
	{`SELECT concat_ws(',', dim, day, key, n) FROM (SELECT dim, day, key, sum(lead_count) AS n FROM lead_funnel_days
WHERE org_id = ? GROUP BY 1, 2, 3 HAVING sum(lead_count) <> 0) x ORDER BY 1`,
		`SELECT concat_ws(',', dim, day, key, n) FROM (SELECT k.dim, k.day, k.key, count(*) AS n FROM lead_funnel f
CROSS JOIN LATERAL lead_funnel_keys(f.created_at, f.source, f.step, f.qualified_at) k WHERE f.org_id = ? AND f.alive GROUP BY 1, 2, 3) x ORDER BY 1`},
	{`SELECT concat_ws(',', stage, n) FROM (SELECT stage, sum(lead_count) AS n FROM lead_stage_totals
WHERE org_id = ? GROUP BY 1 HAVING sum(lead_count) <> 0) x ORDER BY 1`,
		`SELECT concat_ws(',', stage, count(*)) FROM leads WHERE org_id = ? AND deleted_at IS NULL GROUP BY stage ORDER BY 1`},
	{`SELECT concat_ws(',', day, stage, currency, n, v, c) FROM (SELECT day, stage, currency, sum(deal_count) AS n, sum(value_sum) AS v,
    sum(cycle_sum) AS c FROM deal_closed_days WHERE org_id = ? GROUP BY 1, 2, 3 HAVING sum(deal_count) <> 0) x ORDER BY 1`,
		`SELECT concat_ws(',', day, stage, currency, n, v, c) FROM (SELECT (coalesce(won_at, lost_at) AT TIME ZONE 'UTC')::date AS day, stage, currency,
    count(*) AS n, sum(deal_value) AS v, sum(extract(epoch FROM coalesce(won_at, lost_at) - created_at)) AS c
    FROM deals WHERE org_id = ? AND stage IN ('won', 'lost') GROUP BY 1, 2, 3) x ORDER BY 1`},
	{`SELECT concat_ws(',', stage, currency, n, v) FROM (SELECT stage, currency, sum(deal_count) AS n, sum(value_sum) AS v
FROM deal_pipeline_totals WHERE org_id = ? GROUP BY 1, 2 HAVING sum(deal_count) <> 0) x ORDER BY 1`,
		`SELECT concat_ws(',', stage, currency, count(*), sum(deal_value)) FROM deals WHERE org_id = ? GROUP BY stage, currency ORDER BY 1`},
}

// requireProjectionsExact requires each of projectionChecks to hold for org, read through super
// (which row-level security does not bind); with nonEmpty, every fresh aggregate must have rows.
func requireProjectionsExact(t *testing.T, super *db.DB, org uuid.UUID, nonEmpty bool) {
	t.Helper()
	for _, c := range projectionChecks {
		var stored, fresh []string
		require.NoError(t, super.Gorm.Raw(c.stored, org).Scan(&stored).Error)
		require.NoError(t, super.Gorm.Raw(c.fresh, org).Scan(&fresh).Error)
		if nonEmpty {
			require.NotEmpty(t, fresh, c.fresh)
		}
		require.Equal(t, fresh, stored, c.stored)
	}
}

// TestCounterAddsNeverWait proves that a write counted in a projection never waits for another
// transaction that holds the same groups' counter rows: the first transaction writes and stays
// open, the second, in the same residue of its transaction id modulo 16, makes the same kind of
// write under a lock_timeout and commits first (with a wait it would fail lock_not_available).
// Each case touches every counter of its kind: a new lead its stage's lead_stage_totals and its
// day's lead_funnel_days (step and source); a won deal deal_pipeline_totals (out of negotiation,
// into won) and its day's deal_closed_days.
func TestCounterAddsNeverWait(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		prepare func(c counterDB, t *testing.T) []uuid.UUID
		write   string
	}{
		"new leads": {
			prepare: func(_ counterDB, _ *testing.T) []uuid.UUID { return []uuid.UUID{uuid.New(), uuid.New()} },
			write:   `INSERT INTO leads (org_id, id, email, fingerprint, source) VALUES (current_setting('app.org_id')::uuid, $1::uuid, $1::uuid::text || '@example.com', $1::uuid::text, 'web')`,
		},
		"won deals": {
			prepare: func(c counterDB, t *testing.T) []uuid.UUID { return []uuid.UUID{c.newDeal(t), c.newDeal(t)} },
			write:   `UPDATE deals SET stage = 'won', won_at = now() WHERE id = $1`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCounterDB(t)
			ids := tc.prepare(c, t)
			first, xid := dbtest.BeginTenant(t, c.app.Pool, c.org, dbtest.AnyResidue)
			_, err := first.Exec(t.Context(), tc.write, ids[0])
			require.NoError(t, err)

			second, _ := dbtest.BeginTenant(t, c.app.Pool, c.org, xid%16)
			_, err = second.Exec(t.Context(), `SET LOCAL lock_timeout = '2s'`)
			require.NoError(t, err)
			_, err = second.Exec(t.Context(), tc.write, ids[1])
			require.NoError(t, err, "the second write waited for the first transaction (%s)", db.PgCode(err))
			require.NoError(t, second.Commit(t.Context()))
			require.NoError(t, first.Commit(t.Context()))
			c.requireExact(t)
		})
	}
}

// TestIntakeAndStageMoveDoNotDeadlock replays the interleaving of a delivery batch and a batch of
// the lead pipeline that deadlocked while counter rows were keyed by the transaction id modulo
// 16. The pipeline's transaction locks a lead; the intake's, in the same residue, inserts a new
// lead (counted in the stage new) and then waits for that lead, which its delivery repeats; the
// pipeline's moves the lead out of new, which counts it out of the stage new. Both commit, and
// the counts stay exact.
func TestIntakeAndStageMoveDoNotDeadlock(t *testing.T) {
	t.Parallel()
	c := newCounterDB(t)
	repeated := c.newLead(t)
	pipeline, xid := dbtest.BeginTenant(t, c.app.Pool, c.org, dbtest.AnyResidue)
	_, err := pipeline.Exec(t.Context(), `SELECT FROM leads WHERE id = $1 FOR UPDATE`, repeated)
	require.NoError(t, err)

	intake, _ := dbtest.BeginTenant(t, c.app.Pool, c.org, xid%16)
	fresh := uuid.New()
	_, err = intake.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, fingerprint) VALUES ($1, $2::uuid, $2::uuid::text || '@example.com', $2::uuid::text)`, c.org, fresh)
	require.NoError(t, err)
	locked := make(chan error, 1)
	go func() {
		_, err := intake.Exec(context.WithoutCancel(t.Context()), `SELECT FROM leads WHERE id = $1 FOR UPDATE`, repeated)
		locked <- err
	}()
	waitForLockWait(t, c.super.Pool, intake.Conn().PgConn().PID())

	_, err = pipeline.Exec(t.Context(), `SET LOCAL lock_timeout = '2s'`)
	require.NoError(t, err)
	_, err = pipeline.Exec(t.Context(), `UPDATE leads SET stage = 'qualified', qualified_at = now() WHERE id = $1`, repeated)
	require.NoError(t, err, "the stage move waited for the intake (%s)", db.PgCode(err))
	require.NoError(t, pipeline.Commit(t.Context()))
	require.NoError(t, <-locked)
	require.NoError(t, intake.Commit(t.Context()))
	c.requireExact(t)
}

// waitForLockWait returns once the backend pid waits for a lock.
func waitForLockWait(t *testing.T, pool *pgxpool.Pool, pid uint32) {
	t.Helper()
	proctest.Eventually(t, 10*time.Second, "the intake waits for the repeated lead", func() bool {
		var waiting bool
		err := pool.QueryRow(t.Context(), `SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&waiting)
		return err == nil && waiting
	})
}

// TestLeadUpdateTriggerScalesWithItsRows proves the update trigger of leads finds the changed
// leads in time linear in the statement's rows on a connection whose first update of leads
// matched none. PL/pgSQL keeps the plan of a trigger's statement for the session, made with the
// transition tables' sizes of its first call; a join of the two tables first planned empty stays
// a nested loop, and 20,000 rows then compare 400,000,000 pairs (minutes, where a set operation
// takes well under a second). The bound below is that difference, a hundredfold, not a speed.
// Both a statement that changes no counted column and one that moves every lead's stage must
// finish, and the projections stay exact.
func TestLeadUpdateTriggerScalesWithItsRows(t *testing.T) {
	t.Parallel()
	c := newCounterDB(t)
	c.exec(t, `INSERT INTO leads (org_id, email, fingerprint) SELECT $1, 's' || g || '@example.com', 'email:s' || g
FROM generate_series(1, 20000) g`, c.org)
	conn, err := c.super.Pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	for _, q := range []string{
		`SET statement_timeout = '10s'`,
		`UPDATE leads SET notes = 'first' WHERE false`,
		`UPDATE leads SET notes = 'every lead, no counted column'`,
		`UPDATE leads SET stage = 'qualified', qualified_at = now()`,
		`RESET statement_timeout`,
	} {
		_, err := conn.Exec(t.Context(), q)
		require.NoError(t, err, "%s (%s)", q, db.PgCode(err))
	}
	c.requireExact(t)
}

// TestLeadUpdateTriggerGate proves the gate of the update trigger of leads (migration 000039)
// lets every counted change through and nothing else: each counted column changes alone, for one
// lead of a statement that writes four, and lead_funnel, lead_funnel_days and lead_stage_totals
// must then agree with the leads; so must they after a transaction that mixes counted and
// uncounted statements and rolls a counted one back to a savepoint. A statement that changes no
// counted column must not call the row trigger that marks the transaction (the WHEN decides
// before any call), and one that changes one lead calls it once.
//
// The gate saves work and changes no result, so the projections' checks hold with it or without
// it; they fail when the WHEN misses a counted column or the mark is not set, and the marks'
// count fails when the WHEN lets unchanged leads through.
func TestLeadUpdateTriggerGate(t *testing.T) {
	t.Parallel()
	c := newCounterDB(t)
	ids := []uuid.UUID{c.newLead(t), c.newLead(t), c.newLead(t), c.newLead(t)}
	first := ids[0]
	for _, set := range []string{
		`stage = CASE WHEN id = $1 THEN 'contacted' ELSE stage END`,
		`source = CASE WHEN id = $1 THEN 'ads' ELSE source END`,
		`created_at = CASE WHEN id = $1 THEN created_at - interval '3 days' ELSE created_at END`,
		`qualified_at = CASE WHEN id = $1 THEN now() - interval '2 days' ELSE qualified_at END`,
		`deleted_at = CASE WHEN id = $1 THEN now() ELSE deleted_at END`,
		`deleted_at = CASE WHEN id = $1 THEN now() - interval '1 hour' ELSE deleted_at END`,
		`deleted_at = CASE WHEN id = $1 THEN NULL ELSE deleted_at END`,
		`source = CASE WHEN id = $1 THEN NULL ELSE source END`,
	} {
		c.exec(t, `UPDATE leads SET notes = 'gate', `+set+` WHERE org_id = $2 AND id = ANY($3)`, first, c.org, ids)
		c.requireExact(t)
		requireFunnelOfLeads(t, c)
	}

	conn, err := c.super.Pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	marks := func() (n int64) {
		require.NoError(t, conn.QueryRow(t.Context(),
			`SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions WHERE funcname = 'leads_analytics_mark'`).Scan(&n))
		return n
	}
	for _, q := range []string{`SET track_functions = 'pl'`, `BEGIN`,
		`UPDATE leads SET notes = 'uncounted', ghost_risk = ghost_risk + 1, priority = 'high', score = 50, version = version + 1`} {
		_, err := conn.Exec(t.Context(), q)
		require.NoError(t, err, q)
	}
	require.Zero(t, marks(), "an update of no counted column calls the marking trigger")
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE leads SET stage = 'call_booked' WHERE id = $1`, []any{ids[1]}},
		{`UPDATE leads SET notes = 'between'`, nil},
		{`SAVEPOINT s`, nil},
		{`UPDATE leads SET stage = 'lost' WHERE id = $1`, []any{ids[2]}},
		{`ROLLBACK TO SAVEPOINT s`, nil},
		{`UPDATE leads SET notes = 'after the savepoint'`, nil},
		{`UPDATE leads SET stage = 'qualified', qualified_at = now() WHERE id = $1`, []any{ids[3]}},
	} {
		_, err := conn.Exec(t.Context(), q.sql, q.args...)
		require.NoError(t, err, q.sql)
	}
	require.Equal(t, int64(3), marks(), "one call for each lead a statement changed a counted column of (the one rolled back included)")
	for _, q := range []string{`COMMIT`, `RESET track_functions`} {
		_, err := conn.Exec(t.Context(), q)
		require.NoError(t, err, q)
	}
	c.requireExact(t)
	requireFunnelOfLeads(t, c)
}

// requireFunnelOfLeads requires lead_funnel to hold each lead of the org as it is: its source
// (empty for none), creation, whether it is alive, its qualification, and the step of its stage
// (the test's leads have no deal and never move back, so the furthest step is the current one).
func requireFunnelOfLeads(t *testing.T, c counterDB) {
	t.Helper()
	var funnel, fresh []string
	require.NoError(t, c.super.Gorm.Raw(`SELECT concat_ws(',', lead_id, source, created_at, alive, qualified_at, step)
FROM lead_funnel WHERE org_id = ? ORDER BY 1`, c.org).Scan(&funnel).Error)
	require.NoError(t, c.super.Gorm.Raw(`SELECT concat_ws(',', id, coalesce(source, ''), created_at, deleted_at IS NULL, qualified_at,
    lead_funnel_step(stage)) FROM leads WHERE org_id = ? ORDER BY 1`, c.org).Scan(&fresh).Error)
	require.NotEmpty(t, fresh)
	require.Equal(t, fresh, funnel, "lead_funnel against leads")
}
