package deal_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/migrations"
	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// totalsRow is one (org, stage, currency) group of the open pipeline, its sums as numeric text.
type totalsRow struct {
	Org      uuid.UUID
	Stage    string
	Currency string
	Count    int64
	Value    string
	Weighted string
}

// scanTotals runs q (which returns totalsRow columns) on the superuser handle, which row-level
// security does not bind.
func scanTotals(t *testing.T, super *db.DB, q string, args ...any) []totalsRow {
	t.Helper()
	rows, err := super.Pool.Query(t.Context(), q, args...)
	require.NoError(t, err)
	defer rows.Close()
	out := []totalsRow{}
	for rows.Next() {
		var r totalsRow
		require.NoError(t, rows.Scan(&r.Org, &r.Stage, &r.Currency, &r.Count, &r.Value, &r.Weighted))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// storedTotals is deal_pipeline_totals as the pipeline reads it: each group's sums over its
// shards, groups with deals only (emptied groups stay with count 0 by design).
func storedTotals(t *testing.T, super *db.DB) []totalsRow {
	t.Helper()
	const sums = `SELECT org_id, stage, currency, sum(deal_count)::bigint AS n, sum(value_sum)::text AS v, sum(weighted_sum)::text AS w
FROM deal_pipeline_totals GROUP BY org_id, stage, currency`
	for _, r := range scanTotals(t, super, `SELECT * FROM (`+sums+`) s WHERE n = 0`) {
		require.Equal(t, "0", r.Value, "an emptied group has no value left: %+v", r)
		require.Equal(t, "0", r.Weighted, "an emptied group has no weighted value left: %+v", r)
	}
	return scanTotals(t, super, `SELECT * FROM (`+sums+`) s WHERE n <> 0 ORDER BY org_id, stage, currency`)
}

// insertDeals inserts n open deals of org (USD, the stages in turn, values 1 to n) in one
// transaction as the superuser.
func insertDeals(t *testing.T, b *bundle, org uuid.UUID, n int) {
	t.Helper()
	ctx := t.Context()
	lead := b.newLead(t, org, "converted")
	tx, err := b.super.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage, probability)
SELECT $1, $2, 'Deal', g, 'USD', (ARRAY['discovery', 'proposal', 'negotiation'])[1 + g % 3], 0.5
FROM generate_series(1, $3) g`, org, lead, n)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
}

// freshTotals aggregates the deals table now, every stage (000033), with the arithmetic of the
// pipeline's scan (pipelineSQL).
func freshTotals(t *testing.T, super *db.DB) []totalsRow {
	t.Helper()
	return scanTotals(t, super, `SELECT org_id, stage, currency, count(*), sum(deal_value)::text,
	sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000)::text
FROM deals
GROUP BY org_id, stage, currency ORDER BY org_id, stage, currency`)
}

// freshOpenTotals is freshTotals of the open stages only, what the table held before 000033.
func freshOpenTotals(t *testing.T, super *db.DB) []totalsRow {
	t.Helper()
	return scanTotals(t, super, `SELECT org_id, stage, currency, count(*), sum(deal_value)::text,
	sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000)::text
FROM deals WHERE stage IN ('discovery', 'proposal', 'negotiation')
GROUP BY org_id, stage, currency ORDER BY org_id, stage, currency`)
}

// requireTotalsExact requires the maintained totals to equal a fresh aggregate of the deals, and
// the pipeline read from them to equal the pipeline scanned over all time, for every org.
func requireTotalsExact(t *testing.T, super *db.DB, svc *deal.Service, orgs ...uuid.UUID) {
	t.Helper()
	require.Equal(t, freshTotals(t, super), storedTotals(t, super))
	from, to := time.Now().Add(-24*time.Hour), time.Now().Add(24*time.Hour)
	for _, org := range orgs {
		fast, err := svc.Pipeline(t.Context(), org, deal.PipelineFilter{})
		require.NoError(t, err)
		scan, err := svc.Pipeline(t.Context(), org, deal.PipelineFilter{From: &from, To: &to})
		require.NoError(t, err)
		scan.From, scan.To = nil, nil
		require.Equal(t, scan, fast, "org %s: the totals and the scan disagree", org)
	}
}

// appService is the deal service as the api runs it: on the login role of crm_app, which
// row-level security binds, so every trigger write below happens under the policy too.
func appService(t *testing.T, url string) (*db.DB, *deal.Service) {
	t.Helper()
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 8, AppName: "deal_totals_test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	em := events.NewEmitter(jobs.New(app, jobs.Config{}), catalog.New().EventJobs)
	return app, deal.NewService(app, em, lead.NewService(app, em))
}

// TestPipelineTotalsProperty drives many random deal operations through the service, as the api
// role and from several goroutines at once (creates in several currencies with default and
// explicit probabilities, patches of value, probability, currency and title, stage moves within
// the open stages and to won and lost, including racing moves of one deal), and requires after
// each round that deal_pipeline_totals equals a fresh aggregate of the deals computed with the
// scan's formula, and that the pipeline read from it equals the scanned one. Concurrent
// transactions add to whichever row of a group no other holds, so the groups end up spread over
// several rows, deals counted in one subtracted in another.
func TestPipelineTotalsProperty(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	_, svc := appService(t, b.super.Pool.Config().ConnString())
	orgs := []uuid.UUID{b.org, dbtest.NewOrg(t, b.d, "globex")}
	currencies := []string{"EUR", "USD", "GBP", "JPY"}
	leads := map[uuid.UUID][]uuid.UUID{}
	for _, org := range orgs {
		for range 4 {
			leads[org] = append(leads[org], b.newLead(t, org, "converted"))
		}
	}
	type ref struct{ org, id uuid.UUID }
	var mu sync.Mutex
	var deals []ref
	pick := func(rng *rand.Rand) (ref, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(deals) == 0 {
			return ref{}, false
		}
		return deals[rng.IntN(len(deals))], true
	}
	value := func(rng *rand.Rand) int64 {
		switch rng.IntN(4) {
		case 0:
			return deal.MaxValue - rng.Int64N(1000)
		case 1:
			return int64(rng.IntN(100)) * 5_000 // exact halves
		default:
			return rng.Int64N(1_000_000_000)
		}
	}
	prob := func(rng *rand.Rand) *deal.Probability {
		if rng.IntN(3) == 0 {
			return nil // the stage's default
		}
		p := deal.Probability(rng.IntN(int(deal.ProbabilityOne) + 1))
		return &p
	}
	op := func(rng *rand.Rand) error {
		org := orgs[rng.IntN(len(orgs))]
		r, ok := pick(rng)
		n := rng.IntN(10)
		if !ok || n < 3 {
			d, err := svc.Create(ctx, org, "test", deal.NewDeal{LeadID: leads[org][rng.IntN(4)], Title: "Deal",
				DealValue: value(rng), Currency: currencies[rng.IntN(len(currencies))],
				Stage: deal.OpenStages[rng.IntN(3)], Probability: prob(rng)})
			if err != nil {
				return err
			}
			mu.Lock()
			deals = append(deals, ref{org, d.ID})
			mu.Unlock()
			return nil
		}
		var err error
		switch {
		case n < 6:
			var p deal.Patch
			if rng.IntN(2) == 0 {
				v := value(rng)
				p.DealValue = &v
			}
			if rng.IntN(2) == 0 {
				p.Probability = prob(rng)
			}
			if rng.IntN(4) == 0 {
				c := currencies[rng.IntN(len(currencies))]
				p.Currency = &c
			}
			if rng.IntN(4) == 0 {
				title := fmt.Sprintf("Deal %d", rng.IntN(100))
				p.Title = &title
			}
			_, err = svc.Update(ctx, r.org, "test", r.id, p)
		default:
			to := deal.Stages[rng.IntN(len(deal.Stages))]
			reason := ""
			if to == deal.StageLost {
				reason = "budget"
			}
			_, err = svc.ChangeStage(ctx, r.org, "test", r.id, to, reason)
		}
		if apperr.Is(err, apperr.Conflict) {
			return nil // a final deal, or a move to the same stage: refused, nothing written
		}
		return err
	}
	const workers, rounds, perRound = 6, 4, 40
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, workers*perRound)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for range perRound {
					if err := op(rng); err != nil {
						errs <- err
					}
				}
			}()
		}
		// Racing moves of one deal: of those into a final stage, at most one wins.
		if r, ok := pick(rand.New(rand.NewPCG(uint64(round), 99))); ok {
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := svc.ChangeStage(ctx, r.org, "test", r.id, []deal.Stage{deal.StageWon, deal.StageLost,
						deal.StageProposal, deal.StageNegotiation}[i], map[bool]string{true: "gone"}[i == 1])
					if err != nil && !apperr.Is(err, apperr.Conflict) {
						errs <- err
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		requireTotalsExact(t, b.super, svc, orgs...)
	}
	require.Positive(t, b.count(t, `SELECT count(*) FROM deals WHERE stage IN ('won', 'lost')`))
	require.Positive(t, b.count(t, `SELECT count(DISTINCT currency) FROM deals WHERE stage = 'negotiation'`))

	// Writes outside the service: a bulk insert, update and delete in one statement each (an
	// import, a correction), as the owner in a tenant transaction.
	require.NoError(t, b.d.Tx(ctx, b.org, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage, probability)
SELECT ?, ?, 'Bulk', g * 7919, CASE WHEN g % 2 = 0 THEN 'EUR' ELSE 'CHF' END,
	(ARRAY['discovery', 'proposal', 'negotiation'])[1 + g % 3], (g % 10001)::numeric / 10000
FROM generate_series(1, 500) g`, b.org, leads[b.org][0]).Error; err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE deals SET deal_value = deal_value + 3, currency = 'CHF' WHERE org_id = ? AND deal_value % 3 = 0`,
			b.org).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM deals WHERE org_id = ? AND title = 'Bulk' AND deal_value % 2 = 0`, b.org).Error
	}))
	requireTotalsExact(t, b.super, svc, orgs...)
}

// TestPipelineTotalsOrgDeleteCascades proves that deleting an org takes its totals with it
// (and its deals, whose delete trigger then has nothing to subtract from or runs before), while
// another org's stay exact. When the cascade has removed the totals before the deals' delete
// trigger runs, the trigger finds no row to subtract from and must not insert one for the
// vanishing org (whose foreign key would fail the deletion).
func TestPipelineTotalsOrgDeleteCascades(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.dealAt(t, deal.StageProposal, 1_000)
	b.dealAt(t, deal.StageDiscovery, 2_000)
	b.dealAt(t, deal.StageWon, 3_000)
	// A second org with deals but no events (an org with history cannot be deleted: events is
	// append-only), as the bench seeds them.
	gone := dbtest.NewOrg(t, b.d, "gone")
	insertDeals(t, b, gone, 300)
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM deal_pipeline_totals WHERE org_id = $1`, gone))

	// As the owner, in the org's tenant transaction (orgs FORCEs row-level security).
	tx, _ := dbtest.BeginTenant(t, b.d.Pool, gone, dbtest.AnyResidue)
	_, err := tx.Exec(ctx, `DELETE FROM orgs WHERE id = $1`, gone)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	require.Zero(t, b.count(t, `SELECT count(*) FROM deal_pipeline_totals WHERE org_id = $1`, gone))
	require.Zero(t, b.count(t, `SELECT count(*) FROM deals WHERE org_id = $1`, gone))
	require.Equal(t, 3, b.count(t, `SELECT count(DISTINCT (stage, currency)) FROM deal_pipeline_totals WHERE org_id = $1`, b.org))
	requireTotalsExact(t, b.super, b.svc, b.org)
}

// TestPipelineTotalsConcurrentMovesDoNotWait proves that two transactions moving deals of one
// org, stage and currency do not wait for each other: the first moves its deal from proposal to
// negotiation and stays open, and the second's move of another deal, in a transaction whose id is
// congruent to the first's modulo 16, completes under a lock_timeout (one row per group, or a row
// per transaction id modulo 16, would make it wait for the first's row lock until
// lock_not_available). Every row of both groups is held by the first, so the second adds rows of
// its own: its proposal row is -1 and its negotiation row +1, and the groups' sums stay exact.
func TestPipelineTotalsConcurrentMovesDoNotWait(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	app, svc := appService(t, b.super.Pool.Config().ConnString())
	insertDeals(t, b, b.org, 5) // discovery 3, proposal 1 and 4, negotiation 2 and 5
	rows, err := b.super.Pool.Query(ctx, `SELECT id FROM deals WHERE org_id = $1 AND stage = 'proposal'`, b.org)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	require.NoError(t, err)
	require.Len(t, ids, 2)
	move := `UPDATE deals SET stage = 'negotiation', stage_changed_at = now() WHERE id = $1`

	first, firstXid := dbtest.BeginTenant(t, app.Pool, b.org, dbtest.AnyResidue)
	_, err = first.Exec(ctx, move, ids[0])
	require.NoError(t, err)

	second, secondXid := dbtest.BeginTenant(t, app.Pool, b.org, firstXid%16)
	_, err = second.Exec(ctx, `SET LOCAL lock_timeout = '3s'`)
	require.NoError(t, err)
	_, err = second.Exec(ctx, move, ids[1])
	require.NoError(t, err, "the second move waited for the first transaction (%s)", db.PgCode(err))
	require.NoError(t, second.Commit(ctx))
	require.NoError(t, first.Commit(ctx))

	require.Equal(t, -1, b.count(t, `SELECT deal_count FROM deal_pipeline_totals
WHERE org_id = $1 AND stage = 'proposal' AND currency = 'USD' AND shard = $2`, b.org, secondXid))
	require.Equal(t, 1, b.count(t, `SELECT deal_count FROM deal_pipeline_totals
WHERE org_id = $1 AND stage = 'negotiation' AND currency = 'USD' AND shard = $2`, b.org, secondXid))
	requireTotalsExact(t, b.super, svc, b.org)
	p, err := svc.Pipeline(ctx, b.org, deal.PipelineFilter{})
	require.NoError(t, err)
	require.Equal(t, []int64{1, 0, 4}, []int64{p.Stages[0].Count, p.Stages[1].Count, p.Stages[2].Count})
}

// TestPipelineTotalsRLS proves the totals are under the tenant policy like the deals: the api
// role sees only its org's rows in a tenant transaction and none outside one, cannot write
// another org's, and another org's pipeline shows none of them; the owner, bound too (FORCE),
// sees nothing outside a tenant transaction.
func TestPipelineTotalsRLS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	app, svc := appService(t, b.super.Pool.Config().ConnString())
	other := dbtest.NewOrg(t, b.d, "other")
	b.dealAt(t, deal.StageProposal, 1_000)
	b.dealAt(t, deal.StageNegotiation, 5_000)
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM deal_pipeline_totals WHERE org_id = $1`, b.org))

	visible := func(g *gorm.DB) []uuid.UUID {
		rows, err := g.Raw(`SELECT org_id FROM deal_pipeline_totals`).Rows()
		require.NoError(t, err)
		defer func() { _ = rows.Close() }()
		orgs := []uuid.UUID{}
		for rows.Next() {
			var org uuid.UUID
			require.NoError(t, rows.Scan(&org))
			orgs = append(orgs, org)
		}
		require.NoError(t, rows.Err())
		return orgs
	}
	require.Empty(t, visible(app.Gorm.WithContext(ctx)), "the api role outside a tenant transaction")
	require.Empty(t, visible(b.d.Gorm.WithContext(ctx)), "the owner outside a tenant transaction (FORCE)")
	require.NoError(t, app.Tx(ctx, other, func(tx *gorm.DB) error {
		require.Empty(t, visible(tx), "another org's tenant transaction")
		return nil
	}))
	err := app.Tx(ctx, other, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO deal_pipeline_totals (org_id, stage, currency, deal_count) VALUES (?, 'proposal', 'EUR', 1)`,
			b.org).Error
	})
	require.Error(t, err)
	require.Equal(t, db.CodeInsufficientPriv, db.PgCode(err), "%v", err)
	require.NoError(t, app.Tx(ctx, b.org, func(tx *gorm.DB) error {
		require.Equal(t, []uuid.UUID{b.org, b.org}, visible(tx), "its own org's tenant transaction")
		return nil
	}))
	p, err := svc.Pipeline(ctx, other, deal.PipelineFilter{})
	require.NoError(t, err)
	for _, st := range p.Stages {
		require.Zero(t, st.Count)
		require.Empty(t, st.Currencies)
	}
	p, err = svc.Pipeline(ctx, b.org, deal.PipelineFilter{})
	require.NoError(t, err)
	require.Equal(t, int64(1), p.Stages[1].Count)
	require.Equal(t, int64(1), p.Stages[2].Count)
}

// TestPipelineTotalsBackfill proves migrations 000011, 000025, 000033 and 000036 keep the counts
// of the deals that exist when they run (000037, which reshapes the lead projections only, is
// undone first and redone last): over deals of two orgs spread over several rows per group,
// 000036's down migration folds each group into one row of shard 0, 000025's down migration
// keeps one row per group, 000011's down and up migrations rebuild the table, 000025's up
// migration converts its rows to shard 0, and 000033's and 000036's up migrations add the closed
// deals and fold the rows again, all as the owner (whom the FORCEd policies bind); the totals
// equal a fresh aggregate throughout, and the triggers keep them so.
func TestPipelineTotalsBackfill(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	for i := range 30 {
		b.dealAt(t, deal.Stages[i%len(deal.Stages)], int64(i)*12_345)
	}
	other := dbtest.NewOrg(t, b.d, "other")
	_, err := b.super.Pool.Exec(ctx, `INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage, probability)
SELECT $1, $2, 'Deal', g * 99991, 'GBP', (ARRAY['discovery', 'proposal', 'negotiation'])[1 + g % 3], 0.3333
FROM generate_series(1, 50) g`, other, b.newLead(t, other, "converted"))
	require.NoError(t, err)
	require.Equal(t, freshTotals(t, b.super), storedTotals(t, b.super))

	run := func(name string) {
		t.Helper()
		sql, err := migrations.FS.ReadFile(name)
		require.NoError(t, err)
		_, err = b.d.Pool.Exec(ctx, string(sql))
		require.NoError(t, err, name)
	}
	run("000037_lead_qualified_days.down.sql")
	run("000036_counters_never_wait.down.sql")
	require.Equal(t, freshTotals(t, b.super), storedTotals(t, b.super))
	require.Zero(t, b.count(t, `SELECT count(*) FROM deal_pipeline_totals WHERE shard <> 0`), "one row of shard 0 per group")
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM pg_class
WHERE relname IN ('deals', 'deal_pipeline_totals') AND relforcerowsecurity`), "both FORCE row-level security again")
	for i := range 12 {
		b.dealAt(t, deal.OpenStages[i%len(deal.OpenStages)], int64(i)*555) // 000025's shards
	}
	require.Equal(t, freshTotals(t, b.super), storedTotals(t, b.super))
	// Back to the open stages only, as before 000033.
	run("000033_analytics.down.sql")
	want := freshOpenTotals(t, b.super)
	require.Len(t, want, 6)
	require.Equal(t, want, storedTotals(t, b.super))
	require.Greater(t, b.count(t, `SELECT count(DISTINCT shard) FROM deal_pipeline_totals`), 1)
	run("000025_pipeline_totals_shards.down.sql")
	require.Equal(t, want, storedTotals(t, b.super))
	require.Equal(t, 6, b.count(t, `SELECT count(*) FROM deal_pipeline_totals`), "one row per group")
	run("000011_deal_pipeline_totals.down.sql")
	run("000011_deal_pipeline_totals.up.sql")
	require.Equal(t, want, storedTotals(t, b.super))
	run("000025_pipeline_totals_shards.up.sql")
	require.Equal(t, want, storedTotals(t, b.super))
	require.Equal(t, 6, b.count(t, `SELECT count(*) FROM deal_pipeline_totals WHERE shard = 0`), "the rows became shard 0")
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM pg_class
WHERE relname IN ('deals', 'deal_pipeline_totals') AND relforcerowsecurity`), "both FORCE row-level security again")
	// 000033 adds the won and lost deals that exist.
	run("000033_analytics.up.sql")
	require.Equal(t, freshTotals(t, b.super), storedTotals(t, b.super))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM pg_class
WHERE relname IN ('deals', 'deal_pipeline_totals') AND relforcerowsecurity`), "both FORCE row-level security again")
	run("000036_counters_never_wait.up.sql")
	run("000037_lead_qualified_days.up.sql")
	require.Equal(t, freshTotals(t, b.super), storedTotals(t, b.super))
	require.Zero(t, b.count(t, `SELECT count(*) FROM deal_pipeline_totals WHERE shard <> 0`), "one row of shard 0 per group")
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM pg_class
WHERE relname IN ('deals', 'deal_pipeline_totals') AND relforcerowsecurity`), "both FORCE row-level security again")
	requireTotalsExact(t, b.super, b.svc, b.org, other)

	for i := range 12 {
		b.dealAt(t, deal.OpenStages[i%len(deal.OpenStages)], int64(i)*777)
	}
	requireTotalsExact(t, b.super, b.svc, b.org, other)
}
