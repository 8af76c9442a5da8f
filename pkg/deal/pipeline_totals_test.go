package deal_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
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

// storedTotals is deal_pipeline_totals as stored (groups with deals only: emptied groups stay
// with count 0 by design).
func storedTotals(t *testing.T, super *db.DB) []totalsRow {
	t.Helper()
	for _, r := range scanTotals(t, super, `SELECT org_id, stage, currency, deal_count, value_sum::text, weighted_sum::text
FROM deal_pipeline_totals WHERE deal_count = 0`) {
		require.Equal(t, "0", r.Value, "an emptied group has no value left: %+v", r)
		require.Equal(t, "0", r.Weighted, "an emptied group has no weighted value left: %+v", r)
	}
	return scanTotals(t, super, `SELECT org_id, stage, currency, deal_count, value_sum::text, weighted_sum::text
FROM deal_pipeline_totals WHERE deal_count <> 0 ORDER BY org_id, stage, currency`)
}

// freshTotals aggregates the deals table now, with the arithmetic of the pipeline's scan
// (pipelineSQL).
func freshTotals(t *testing.T, super *db.DB) []totalsRow {
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
// scan's formula, and that the pipeline read from it equals the scanned one.
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
// another org's stay exact.
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
	lead := b.newLead(t, gone, "converted")
	_, err := b.super.Pool.Exec(ctx, `INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage, probability)
SELECT $1, $2, 'Deal', g, 'USD', (ARRAY['discovery', 'proposal', 'negotiation'])[1 + g % 3], 0.5
FROM generate_series(1, 300) g`, gone, lead)
	require.NoError(t, err)
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM deal_pipeline_totals WHERE org_id = $1`, gone))

	// As the owner, in the org's tenant transaction (orgs FORCEs row-level security).
	require.NoError(t, b.d.Tx(ctx, gone, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM orgs WHERE id = ?`, gone).Error
	}))
	require.Zero(t, b.count(t, `SELECT count(*) FROM deal_pipeline_totals WHERE org_id = $1`, gone))
	require.Zero(t, b.count(t, `SELECT count(*) FROM deals WHERE org_id = $1`, gone))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM deal_pipeline_totals WHERE org_id = $1`, b.org))
	requireTotalsExact(t, b.super, b.svc, b.org)
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

// TestPipelineTotalsBackfill proves migration 000011 counts the deals that exist when it runs:
// its down and up migrations run again as the owner (whom deals' FORCEd policy binds), over
// deals of two orgs, and the rebuilt totals equal a fresh aggregate.
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
	want := freshTotals(t, b.super)
	require.Equal(t, want, storedTotals(t, b.super))

	for _, name := range []string{"000011_deal_pipeline_totals.down.sql", "000011_deal_pipeline_totals.up.sql"} {
		sql, err := migrations.FS.ReadFile(name)
		require.NoError(t, err)
		_, err = b.d.Pool.Exec(ctx, string(sql))
		require.NoError(t, err, name)
	}
	require.Len(t, want, 6)
	require.Equal(t, want, storedTotals(t, b.super))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM pg_class WHERE relname = 'deals' AND relforcerowsecurity`),
		"deals FORCEs row-level security again")
	requireTotalsExact(t, b.super, b.svc, b.org, other)
}
