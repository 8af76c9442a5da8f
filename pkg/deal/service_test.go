package deal_test

import (
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/page"
)

// bundle is a fresh database with the deal service on the owner's handle, one org, and a
// superuser handle for the tests' own reads and fixtures.
type bundle struct {
	d     *db.DB
	svc   *deal.Service
	super *db.DB
	org   uuid.UUID
}

func setup(t *testing.T) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	return &bundle{d: d, svc: deal.NewService(d, em, lead.NewService(d, em)), super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme")}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

// newLead inserts a lead of org in stage.
func (b *bundle) newLead(t *testing.T, org uuid.UUID, stage string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO leads (org_id, id, email, fingerprint, stage) VALUES ($1, $2, $3, $4, $5)`,
		org, id, id.String()+"@example.com", "fp:"+id.String(), stage)
	require.NoError(t, err)
	return id
}

// dealAt inserts a deal of a converted lead in stage, as if it had got there.
func (b *bundle) dealAt(t *testing.T, stage deal.Stage, value int64) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage,
	probability, stage_changed_at, won_at, lost_at, lost_reason)
VALUES ($1, $2, $3, 'Deal', $4, 'EUR', $5, $6::numeric / 10000, now() - interval '30 days',
	CASE WHEN $5 = 'won' THEN now() END, CASE WHEN $5 = 'lost' THEN now() END, CASE WHEN $5 = 'lost' THEN 'gone' END)`,
		b.org, id, b.newLead(t, b.org, "converted"), value, string(stage), int32(deal.DefaultProbability(stage)))
	require.NoError(t, err)
	return id
}

// state is what the tests compare to prove "nothing written".
func (b *bundle) state(t *testing.T) [4]int {
	t.Helper()
	return [4]int{
		b.count(t, `SELECT count(*) FROM deals`),
		b.count(t, `SELECT count(*) FROM events`),
		b.count(t, `SELECT count(*) FROM jobs`),
		b.count(t, `SELECT count(*) FROM leads WHERE stage = 'converted'`),
	}
}

// TestCreateConvertsTheLead proves a deal converts its call_booked lead through the lead stage
// machine in the deal's transaction (lead.stage_changed, then deal.created), that the deal
// takes its stage's default probability and shows its weighted value, and that a converted
// lead may get a further deal without moving.
func TestCreateConvertsTheLead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	leadID := b.newLead(t, b.org, "call_booked")
	date := "2026-03-31"
	d, err := b.svc.Create(ctx, b.org, "apikey:test", deal.NewDeal{LeadID: leadID, Title: "  Licence ", DealValue: 1_250_005,
		Currency: "EUR", Stage: deal.StageProposal, ExpectedCloseDate: &date})
	require.NoError(t, err)
	require.Equal(t, "Licence", d.Title)
	require.Equal(t, deal.StageProposal, d.Stage)
	require.Equal(t, deal.Probability(3000), d.Probability)
	require.Equal(t, int64(375_002), d.WeightedValue, "1,250,005 × 0.3 = 375,001.5, half away from zero")
	require.Equal(t, &date, d.ExpectedCloseDate)
	require.Equal(t, 1, d.Version)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND stage = 'converted'`, leadID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.stage_changed'
		AND payload->>'to' = 'converted' AND payload->>'reason' LIKE '%' || $2 || '%'`, leadID, d.ID.String()))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'deal.created'
		AND entity_type = 'deal' AND (payload->>'leadConverted')::bool`, d.ID))
	got, err := b.svc.Get(ctx, b.org, d.ID)
	require.NoError(t, err)
	require.Equal(t, d, got)

	p := deal.Probability(3333)
	again, err := b.svc.Create(ctx, b.org, "apikey:test", deal.NewDeal{LeadID: leadID, Title: "Upsell", DealValue: 3,
		Currency: "USD", Probability: &p})
	require.NoError(t, err)
	require.Equal(t, deal.StageDiscovery, again.Stage)
	require.Equal(t, p, again.Probability)
	require.Equal(t, int64(1), again.WeightedValue, "3 × 0.3333 = 0.9999")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.stage_changed'`, leadID),
		"a converted lead stays converted")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'deal.created'
		AND NOT (payload->>'leadConverted')::bool`, again.ID))
}

// TestCreateRefusesBadInput proves every bad input is refused with its code and writes nothing:
// no deal, event or job, and the lead keeps its stage.
func TestCreateRefusesBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	good := b.newLead(t, b.org, "call_booked")
	fresh := b.newLead(t, b.org, "new")
	lost := b.newLead(t, b.org, "lost")
	deleted := b.newLead(t, b.org, "call_booked")
	_, err := b.super.Pool.Exec(ctx, `UPDATE leads SET deleted_at = now() WHERE id = $1`, deleted)
	require.NoError(t, err)
	other := b.newLead(t, dbtest.NewOrg(t, b.d, "other"), "call_booked")
	big, neg := deal.Probability(10001), deal.Probability(-1)
	badDate, okDate := "2026-02-30", "2026-02-28"

	base := func(f func(in *deal.NewDeal)) deal.NewDeal {
		in := deal.NewDeal{LeadID: good, Title: "Deal", DealValue: 100, Currency: "EUR", ExpectedCloseDate: &okDate}
		f(&in)
		return in
	}
	before := b.state(t)
	for _, c := range []struct {
		name  string
		in    deal.NewDeal
		code  apperr.Code
		field string
	}{
		{"negative value", base(func(in *deal.NewDeal) { in.DealValue = -1 }), apperr.Invalid, "dealValue"},
		{"absurd value", base(func(in *deal.NewDeal) { in.DealValue = deal.MaxValue + 1 }), apperr.Invalid, "dealValue"},
		{"unknown currency", base(func(in *deal.NewDeal) { in.Currency = "XYZ" }), apperr.Invalid, "currency"},
		{"lower-case currency", base(func(in *deal.NewDeal) { in.Currency = "eur" }), apperr.Invalid, "currency"},
		{"probability above 1", base(func(in *deal.NewDeal) { in.Probability = &big }), apperr.Invalid, "probability"},
		{"probability below 0", base(func(in *deal.NewDeal) { in.Probability = &neg }), apperr.Invalid, "probability"},
		{"closed stage", base(func(in *deal.NewDeal) { in.Stage = deal.StageWon }), apperr.Invalid, "stage"},
		{"unknown stage", base(func(in *deal.NewDeal) { in.Stage = "closing" }), apperr.Invalid, "stage"},
		{"blank title", base(func(in *deal.NewDeal) { in.Title = "  " }), apperr.Invalid, "title"},
		{"bad date", base(func(in *deal.NewDeal) { in.ExpectedCloseDate = &badDate }), apperr.Invalid, "expectedCloseDate"},
		{"no lead", base(func(in *deal.NewDeal) { in.LeadID = uuid.Nil }), apperr.Invalid, "leadId"},
		{"missing lead", base(func(in *deal.NewDeal) { in.LeadID = uuid.New() }), apperr.NotFound, "leadId"},
		{"deleted lead", base(func(in *deal.NewDeal) { in.LeadID = deleted }), apperr.NotFound, "leadId"},
		{"another org's lead", base(func(in *deal.NewDeal) { in.LeadID = other }), apperr.NotFound, "leadId"},
		{"lead that cannot convert", base(func(in *deal.NewDeal) { in.LeadID = fresh }), apperr.Conflict, ""},
		{"lost lead", base(func(in *deal.NewDeal) { in.LeadID = lost }), apperr.Conflict, ""},
	} {
		_, err := b.svc.Create(ctx, b.org, "apikey:test", c.in)
		require.Equal(t, c.code, apperr.CodeOf(err), "%s: %v", c.name, err)
		e, _ := apperr.As(err)
		if c.field != "" {
			require.Len(t, e.Fields, 1, c.name)
			require.Equal(t, c.field, e.Fields[0].Field, c.name)
		} else {
			require.NotNil(t, e.Extra["currentStage"], c.name)
			require.NotNil(t, e.Extra["allowed"], c.name)
		}
		require.Equal(t, before, b.state(t), "%s wrote something", c.name)
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND stage = 'new'`, fresh))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND stage = 'call_booked'`, other))
}

// TestChangeStageEveryPair moves a deal from every stage to every stage: an allowed move sets
// the stage, its default probability, stage_changed_at and the version, and emits
// deal.stage_changed plus deal.won (which enqueues exactly create_invoice and generate_contract) or
// deal.lost; a refused one is a conflict naming the allowed stages, and writes nothing.
func TestChangeStageEveryPair(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	for _, from := range deal.Stages {
		for _, to := range deal.Stages {
			id := b.dealAt(t, from, 1_000_001)
			reason := ""
			if to == deal.StageLost {
				reason = "budget cut"
			}
			before := b.state(t)
			got, err := b.svc.ChangeStage(ctx, b.org, "apikey:test", id, to, reason)
			if !deal.CanMove(from, to) {
				require.Equal(t, apperr.Conflict, apperr.CodeOf(err), "%s -> %s: %v", from, to, err)
				e, _ := apperr.As(err)
				require.Equal(t, from, e.Extra["currentStage"])
				require.Equal(t, deal.Allowed(from), e.Extra["allowed"])
				require.Equal(t, before, b.state(t), "%s -> %s wrote something", from, to)
				continue
			}
			require.NoError(t, err, "%s -> %s", from, to)
			require.Equal(t, to, got.Stage)
			require.Equal(t, deal.DefaultProbability(to), got.Probability)
			require.Equal(t, deal.WeightedValue(1_000_001, deal.DefaultProbability(to)), got.WeightedValue)
			require.Equal(t, 2, got.Version)
			require.WithinDuration(t, time.Now(), got.StageChangedAt, time.Minute, "stage_changed_at moves")
			require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'deal.stage_changed'
				AND payload->>'from' = $2 AND payload->>'to' = $3`, id, string(from), string(to)))
			won, lost := 0, 0
			switch to {
			case deal.StageWon:
				won = 1
				require.NotNil(t, got.WonAt)
			case deal.StageLost:
				lost = 1
				require.Equal(t, &reason, got.LostReason)
				require.NotNil(t, got.LostAt)
			}
			require.Equal(t, won, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'deal.won'`, id))
			require.Equal(t, lost, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'deal.lost'
				AND payload->>'lostReason' = 'budget cut'`, id))
			require.Equal(t, won, b.count(t, `SELECT count(*) FROM jobs j JOIN events e ON e.id = j.event_id
				WHERE e.entity_id = $1 AND e.type = 'deal.won' AND j.job_type = 'create_invoice'`, id), "deal.won enqueues create_invoice")
			require.Equal(t, won, b.count(t, `SELECT count(*) FROM jobs j JOIN events e ON e.id = j.event_id
				WHERE e.entity_id = $1 AND e.type = 'deal.won' AND j.job_type = 'generate_contract'`, id), "and generate_contract")
			require.Zero(t, b.count(t, `SELECT count(*) FROM jobs j JOIN events e ON e.id = j.event_id
				WHERE e.entity_id = $1 AND e.type = 'deal.won' AND j.job_type NOT IN ('create_invoice', 'generate_contract')`, id), "and nothing else")
		}
	}
}

// TestLostReason proves lost needs its reason and the other stages refuse one.
func TestLostReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.dealAt(t, deal.StageProposal, 10)
	before := b.state(t)
	_, err := b.svc.ChangeStage(t.Context(), b.org, "apikey:test", id, deal.StageLost, "  ")
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err))
	_, err = b.svc.ChangeStage(t.Context(), b.org, "apikey:test", id, deal.StageWon, "why not")
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err))
	_, err = b.svc.ChangeStage(t.Context(), b.org, "apikey:test", uuid.New(), deal.StageWon, "")
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
	require.Equal(t, before, b.state(t))
}

// TestConcurrentStageChanges races two closes of one open deal, many times: exactly one wins,
// the other is a conflict, and the deal has exactly one closing event.
func TestConcurrentStageChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 10 {
		id := b.dealAt(t, deal.StageNegotiation, 500)
		targets := []deal.Stage{deal.StageWon, deal.StageLost}
		if i%2 == 1 {
			targets = []deal.Stage{deal.StageWon, deal.StageWon}
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g, to := range targets {
			wg.Go(func() {
				<-start
				reason := ""
				if to == deal.StageLost {
					reason = "lost the race"
				}
				_, errs[g] = b.svc.ChangeStage(t.Context(), b.org, "apikey:test", id, to, reason)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.Equal(t, apperr.Conflict, apperr.CodeOf(err), "%v", err)
		}
		require.Equal(t, 1, ok, "exactly one of two concurrent closes wins: %v", errs)
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type IN ('deal.won', 'deal.lost')`, id))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'deal.stage_changed'`, id))
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM deals WHERE id = $1 AND version = 2`, id))
	}
}

// TestUpdate proves a patch of an open deal (probability override included), the version
// check, that an empty patch writes nothing, and that won and lost deals are final.
func TestUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	id := b.dealAt(t, deal.StageProposal, 1000)
	p := deal.Probability(4500)
	v, cur := int64(2000), "USD"
	got, err := b.svc.Update(ctx, b.org, "apikey:test", id, deal.Patch{Probability: &p, DealValue: &v, Currency: &cur})
	require.NoError(t, err)
	require.Equal(t, p, got.Probability)
	require.Equal(t, int64(900), got.WeightedValue)
	require.Equal(t, 2, got.Version)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'deal.updated'
		AND payload->'changes' ?& array['probability', 'dealValue', 'currency']`, id))
	before := b.state(t)
	same, err := b.svc.Update(ctx, b.org, "apikey:test", id, deal.Patch{Probability: &p})
	require.NoError(t, err)
	require.Equal(t, got, same)
	stale := 1
	_, err = b.svc.Update(ctx, b.org, "apikey:test", id, deal.Patch{DealValue: &v, Version: &stale})
	require.Equal(t, apperr.Conflict, apperr.CodeOf(err))
	bad := "usd"
	_, err = b.svc.Update(ctx, b.org, "apikey:test", id, deal.Patch{Currency: &bad})
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err))
	require.Equal(t, before, b.state(t))

	// The next stage change sets the stage's default again.
	moved, err := b.svc.ChangeStage(ctx, b.org, "apikey:test", id, deal.StageNegotiation, "")
	require.NoError(t, err)
	require.Equal(t, deal.Probability(6000), moved.Probability)

	for _, st := range []deal.Stage{deal.StageWon, deal.StageLost} {
		closed := b.dealAt(t, st, 10)
		before := b.state(t)
		title := "rename"
		_, err := b.svc.Update(ctx, b.org, "apikey:test", closed, deal.Patch{Title: &title})
		require.Equal(t, apperr.Conflict, apperr.CodeOf(err), st)
		require.Equal(t, before, b.state(t))
	}
}

// TestListAndPipeline proves the list's filters, order and pages, and that the pipeline's
// sums, computed in SQL, are exactly the sums of the deals' weighted values computed in Go.
func TestListAndPipeline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	values := []int64{5, 15, 25, 3, 1_250_005, deal.MaxValue, 0, 7, 999}
	var ids []uuid.UUID
	for i, v := range values {
		st := deal.OpenStages[i%3]
		ids = append(ids, b.dealAt(t, st, v))
	}
	b.dealAt(t, deal.StageWon, 100)
	b.dealAt(t, deal.StageLost, 100)

	// Every page of 2, newest first, covers every deal once.
	seen := map[uuid.UUID]bool{}
	f := deal.ListFilter{Page: pageOf(2)}
	for {
		pg, err := b.svc.List(ctx, b.org, f)
		require.NoError(t, err)
		for _, d := range pg.Data {
			require.False(t, seen[d.ID])
			seen[d.ID] = true
			require.Equal(t, deal.WeightedValue(d.DealValue, d.Probability), d.WeightedValue)
		}
		if pg.NextCursor == nil {
			break
		}
		f.Page.Cursor = *pg.NextCursor
	}
	require.Len(t, seen, len(values)+2)

	minV := int64(999)
	pg, err := b.svc.List(ctx, b.org, deal.ListFilter{Page: pageOf(50), Sort: deal.SortValueDesc, MinValue: &minV, Stage: deal.StageDiscovery})
	require.NoError(t, err)
	for i, d := range pg.Data {
		require.Equal(t, deal.StageDiscovery, d.Stage)
		require.GreaterOrEqual(t, d.DealValue, minV)
		if i > 0 {
			require.LessOrEqual(t, d.DealValue, pg.Data[i-1].DealValue)
		}
	}
	_, err = b.svc.List(ctx, b.org, deal.ListFilter{Page: pageOf(50), Sort: "title"})
	require.Equal(t, apperr.BadRequest, apperr.CodeOf(err))
	_, err = b.svc.List(ctx, b.org, deal.ListFilter{Page: page.Request{Limit: 2, Cursor: "bm9wZQ"}})
	require.Equal(t, apperr.BadRequest, apperr.CodeOf(err))

	p, err := b.svc.Pipeline(ctx, b.org, deal.PipelineFilter{})
	require.NoError(t, err)
	require.Len(t, p.Stages, 3)
	for i, st := range p.Stages {
		require.Equal(t, deal.OpenStages[i], st.Stage)
		var n, sum, weighted int64
		for j, v := range values {
			if j%3 == i {
				n++
				sum += v
				weighted += deal.WeightedValue(v, deal.DefaultProbability(st.Stage))
			}
		}
		require.Equal(t, n, st.Count)
		require.Len(t, st.Currencies, 1)
		require.Equal(t, "EUR", st.Currencies[0].Currency)
		require.Equal(t, num(sum), st.Currencies[0].DealValue, st.Stage)
		require.Equal(t, num(weighted), st.Currencies[0].WeightedValue, st.Stage)
	}
	future := time.Now().Add(time.Hour)
	p, err = b.svc.Pipeline(ctx, b.org, deal.PipelineFilter{From: &future})
	require.NoError(t, err)
	for _, st := range p.Stages {
		require.Zero(t, st.Count)
		require.Empty(t, st.Currencies)
	}
	past := time.Now().Add(-time.Hour)
	_, err = b.svc.Pipeline(ctx, b.org, deal.PipelineFilter{From: &future, To: &past})
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err))
	p, err = b.svc.Pipeline(ctx, b.org, deal.PipelineFilter{From: &past, To: &past})
	require.NoError(t, err, "an empty window is no mistake")
	require.Zero(t, p.Won.Count)
	_ = ids
}

// TestNudgeOncePerStall proves Nudge adds one nudge and one priority step per stall however
// often it runs, again after the deal changes stage (a new stall), and nothing for a closed deal
// or a stall that is over.
func TestNudgeOncePerStall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	id := b.dealAt(t, deal.StageProposal, 100)
	var leadID uuid.UUID
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT lead_id FROM deals WHERE id = $1`, id).Scan(&leadID))
	nudge := func(since *time.Time) deal.NudgeResult {
		var res []deal.NudgeResult
		require.NoError(t, b.d.Tx(ctx, b.org, func(tx *gorm.DB) error {
			var err error
			res, err = b.svc.Nudge(ctx, tx, b.org, []deal.Stall{{DealID: id, Since: since}})
			return err
		}))
		return res[0]
	}
	priority := func() string {
		var p string
		require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT priority FROM leads WHERE id = $1`, leadID).Scan(&p))
		return p
	}
	first := nudge(nil)
	require.True(t, first.Nudged)
	require.Equal(t, "high", priority())
	second := nudge(nil)
	require.False(t, second.Nudged)
	require.Empty(t, second.Skipped)
	require.Equal(t, "high", priority())
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'nudge'`, leadID))

	var since time.Time
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT stage_changed_at FROM deals WHERE id = $1`, id).Scan(&since))
	_, err := b.svc.ChangeStage(ctx, b.org, "apikey:test", id, deal.StageNegotiation, "")
	require.NoError(t, err)
	require.Equal(t, "deal changed stage since it stalled", nudge(&since).Skipped)
	require.True(t, nudge(nil).Nudged, "a new stall is nudged again")
	require.Equal(t, "urgent", priority())
	require.True(t, !nudge(nil).Nudged)
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'nudge'`, leadID))

	_, err = b.svc.ChangeStage(ctx, b.org, "apikey:test", id, deal.StageWon, "")
	require.NoError(t, err)
	require.Equal(t, "deal is won", nudge(nil).Skipped)
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'nudge'`, leadID))
}

// TestNudgeMany proves that Nudge takes many stalls as it takes one: each result is in the order
// of the stalls, a missing deal and a closed one are skipped, and every open deal nudges its
// own lead.
func TestNudgeMany(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	open1, open2, won := b.dealAt(t, deal.StageProposal, 100), b.dealAt(t, deal.StageDiscovery, 200), b.dealAt(t, deal.StageWon, 300)
	var res []deal.NudgeResult
	require.NoError(t, b.d.Tx(ctx, b.org, func(tx *gorm.DB) error {
		var err error
		res, err = b.svc.Nudge(ctx, tx, b.org, []deal.Stall{{DealID: open2}, {DealID: uuid.New()}, {DealID: won}, {DealID: open1}})
		return err
	}))
	require.Len(t, res, 4)
	require.True(t, res[0].Nudged)
	require.Equal(t, "deal not found", res[1].Skipped)
	require.Equal(t, "deal is won", res[2].Skipped)
	require.True(t, res[3].Nudged)
	for _, id := range []uuid.UUID{open1, open2} {
		require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities a JOIN deals d ON d.lead_id = a.lead_id
			WHERE d.id = $1 AND a.kind = 'nudge'`, id))
	}
}

// TestPipelineRoundingMatchesGo proves the pipeline's SQL arithmetic rounds every deal exactly as
// WeightedValue does, over random values up to the maximum and random probabilities, halves
// included.
func TestPipelineRoundingMatchesGo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	leadID := b.newLead(t, b.org, "converted")
	rng := rand.New(rand.NewPCG(5, 6))
	var values []int64
	var bps []int32
	var sum, weighted big.Int
	for i := range 3000 {
		v := rng.Int64N(deal.MaxValue + 1)
		switch i % 3 {
		case 1:
			v = rng.Int64N(20_000)
		case 2:
			v = int64(rng.IntN(100)) * 5_000 // many exact halves
		}
		p := int32(rng.IntN(int(deal.ProbabilityOne) + 1))
		values, bps = append(values, v), append(bps, p)
		sum.Add(&sum, big.NewInt(v))
		weighted.Add(&weighted, big.NewInt(deal.WeightedValue(v, deal.Probability(p))))
	}
	_, err := b.super.Pool.Exec(ctx, `INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage, probability)
SELECT $1, $2, 'Deal', v, 'EUR', 'proposal', p::numeric / 10000 FROM unnest($3::int8[], $4::int4[]) AS x(v, p)`,
		b.org, leadID, values, bps)
	require.NoError(t, err)
	p, err := b.svc.Pipeline(ctx, b.org, deal.PipelineFilter{})
	require.NoError(t, err)
	st := p.Stages[1]
	require.Equal(t, deal.StageProposal, st.Stage)
	require.Equal(t, int64(len(values)), st.Count)
	require.Equal(t, sum.String(), st.Currencies[0].DealValue.String())
	require.Equal(t, weighted.String(), st.Currencies[0].WeightedValue.String())
}
