package lead_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
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
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
	"example.com/crm/pkg/scoring"
)

// asOfBundle is a fresh database with every service that changes leads and deals.
type asOfBundle struct {
	d      *db.DB
	super  *db.DB
	org    uuid.UUID
	other  uuid.UUID
	leads  *lead.Service
	deals  *deal.Service
	pipe   *pipeline.Pipeline
	router *pipeline.Router
}

func setupAsOf(t *testing.T) *asOfBundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	leads := lead.NewService(d, em)
	return &asOfBundle{
		d: d, super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme"), other: dbtest.NewOrg(t, d, "beta"),
		leads: leads, deals: deal.NewService(d, em, leads),
		pipe: pipeline.New(d, em, enrichment.LocalEnricher{}, scoring.Builtin{}), router: pipeline.NewRouter(em),
	}
}

func (b *asOfBundle) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return b.d.Tx(ctx, b.org, fn)
}

// snapshot is an entity as GET showed it at an instant: its JSON, or nil when GET said 404.
type snapshot struct {
	at     time.Time
	entity string
	id     uuid.UUID
	body   []byte
	step   int
	what   string
}

// asOfSeed is the seed of the random histories: ASOF_SEED when set (to rerun a failure), else
// the clock.
func asOfSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ASOF_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		seed = v
	}
	t.Logf("seed %d (rerun with ASOF_SEED=%d)", seed, seed)
	return seed
}

// TestAsOfRebuildsRandomHistories runs random histories of leads and deals through the services
// that change them (create by hand and by intake, intake re-submissions, patches, stage moves,
// enrichment, qualification, routing, the ghost-risk and auto-priority sweeps, call activities,
// bookings, escalations, nudges, activities, deletes, deals created, patched, moved, won and
// lost), snapshots every entity by GET after each step at the time of its events and at the
// database's clock after the step, and then requires AsOf at each snapshot's instant to answer
// exactly what GET answered then (404 included).
func TestAsOfRebuildsRandomHistories(t *testing.T) {
	t.Parallel()
	steps := 160
	if testing.Short() {
		steps = 40
	}
	b := setupAsOf(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(asOfSeed(t), 7))

	var leadIDs, dealIDs []uuid.UUID
	emails := map[uuid.UUID]string{}
	pick := func(ids []uuid.UUID) uuid.UUID { return ids[rng.IntN(len(ids))] }
	var snaps []snapshot
	lastEvent := map[uuid.UUID]time.Time{}
	born := map[uuid.UUID]time.Time{}
	slot := time.Now().UTC().Truncate(time.Second)

	take := func(step int, what string) {
		type ev struct {
			ID   uuid.UUID `gorm:"column:entity_id"`
			Type string    `gorm:"column:entity_type"`
			At   time.Time `gorm:"column:at"`
		}
		evs, err := db.Select[ev](ctx, b.super.Gorm, `SELECT entity_id, entity_type, max(occurred_at) AS at FROM events
WHERE org_id = $1 AND entity_type IN ('lead', 'deal') GROUP BY entity_id, entity_type`, b.org)
		require.NoError(t, err)
		var now time.Time
		require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now))
		get := func(entity string, id uuid.UUID) []byte {
			var v any
			var err error
			if entity == lead.EntityType {
				v, err = b.leads.Get(ctx, b.org, id)
			} else {
				v, err = b.deals.Get(ctx, b.org, id)
			}
			if apperr.Is(err, apperr.NotFound) {
				return nil
			}
			require.NoError(t, err)
			out, err := json.Marshal(v)
			require.NoError(t, err)
			return out
		}
		for _, e := range evs {
			body := get(e.Type, e.ID)
			if _, ok := born[e.ID]; !ok {
				born[e.ID] = e.At
			}
			if e.At.After(lastEvent[e.ID]) {
				lastEvent[e.ID] = e.At
				snaps = append(snaps, snapshot{at: e.At, entity: e.Type, id: e.ID, body: body, step: step, what: what})
			}
			snaps = append(snaps, snapshot{at: now, entity: e.Type, id: e.ID, body: body, step: step, what: what})
		}
	}
	// ok lets through the refusals a random step may meet (a move the machine forbids, a lead
	// deleted meanwhile, a duplicate contact); anything else fails the test.
	ok := func(err error) {
		t.Helper()
		if err == nil || apperr.Is(err, apperr.Conflict) || apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Invalid) {
			return
		}
		require.NoError(t, err)
	}
	raw := func(email string) uuid.UUID {
		var id uuid.UUID
		require.NoError(t, b.super.Pool.QueryRow(ctx, `INSERT INTO lead_intake_raw (org_id, delivery_key, content_type, body)
VALUES ($1, $2, 'application/json', convert_to($3, 'UTF8')) RETURNING id`, b.org, uuid.NewString(), `{"email":"`+email+`"}`).Scan(&id))
		return id
	}
	companies := []string{"Acme", "Globex", "Initech", "Umbrella", ""}
	titles := []string{"CEO", "CTO", "VP Sales", "Intern", ""}

	for step := range steps {
		op := rng.IntN(21)
		if len(leadIDs) == 0 {
			op = 0
		}
		var what string
		switch op {
		case 0, 1: // create by hand
			email := fmt.Sprintf("p%d@%s.example", step, []string{"acme", "globex", "gmail"}[rng.IntN(3)])
			l, err := b.leads.Create(ctx, b.org, "apikey:test", lead.NewLead{Contact: lead.Contact{
				Email: email, Name: fmt.Sprintf("Person %d", step), Company: companies[rng.IntN(len(companies))],
				Title: titles[rng.IntN(len(titles))], Website: "https://www.acme.example",
			}, Priority: []lead.Priority{"", lead.PriorityLow, lead.PriorityHigh}[rng.IntN(3)]})
			ok(err)
			if err == nil {
				leadIDs, emails[l.ID] = append(leadIDs, l.ID), email
			}
			what = "create"
		case 2: // intake: a new lead, or a re-submission of a known one
			email := fmt.Sprintf("i%d@initech.example", step)
			if rng.IntN(2) == 0 {
				email = emails[pick(leadIDs)]
			}
			var admitted []lead.Admitted
			err := b.tx(ctx, func(tx *gorm.DB) error {
				var err error
				admitted, err = b.leads.Admit(ctx, tx, b.org, "intake", []lead.Submission{{
					Contact: lead.Normalize(lead.Contact{Email: email, Company: "Initech"}), Extra: lead.Doc(`{"via":"form"}`),
					IntakeID: raw(email), ReceivedAt: time.Now().Add(-time.Duration(rng.IntN(100)) * time.Minute),
				}})
				return err
			})
			ok(err)
			if err == nil && admitted[0].Created {
				leadIDs, emails[admitted[0].LeadID] = append(leadIDs, admitted[0].LeadID), email
			}
			what = "admit"
		case 3, 4: // patch
			p := lead.Patch{}
			if rng.IntN(2) == 0 {
				p.Company = &companies[rng.IntN(len(companies))]
			}
			if rng.IntN(2) == 0 {
				p.Title = &titles[rng.IntN(len(titles))]
			}
			if rng.IntN(3) == 0 {
				n := fmt.Sprintf("note %d", step)
				p.Notes = &n
			}
			if rng.IntN(3) == 0 {
				p.Extra = map[string]json.RawMessage{"k": json.RawMessage(strconv.Itoa(step))}
			}
			if rng.IntN(3) == 0 {
				pr := []lead.Priority{lead.PriorityLow, lead.PriorityNormal, lead.PriorityHigh, lead.PriorityUrgent}[rng.IntN(4)]
				p.Priority = &pr
			}
			if rng.IntN(4) == 0 {
				w := fmt.Sprintf("https://w%d.example", step)
				p.Website = &w
			}
			_, err := b.leads.Update(ctx, b.org, "apikey:test", pick(leadIDs), p)
			ok(err)
			what = "patch"
		case 5: // stage move
			id := pick(leadIDs)
			cur, err := b.leads.Get(ctx, b.org, id)
			ok(err)
			if allowed := lead.Allowed(cur.Stage); err == nil && len(allowed) > 0 {
				_, err = b.leads.ChangeStage(ctx, b.org, "apikey:test", id, allowed[rng.IntN(len(allowed))], fmt.Sprintf("step %d", step))
				ok(err)
			}
			what = "stage"
		case 6:
			ok(b.pipe.Enrich(ctx, b.org, []uuid.UUID{pick(leadIDs)}, b.tx))
			what = "enrich"
		case 7:
			ok(b.pipe.Qualify(ctx, b.org, []uuid.UUID{pick(leadIDs)}, b.tx))
			what = "qualify"
		case 8:
			ok(b.tx(ctx, func(tx *gorm.DB) error {
				_, err := b.router.Route(ctx, tx, b.org, []pipeline.RouteInput{{LeadID: pick(leadIDs), EventID: int64(step + 1)}})
				return err
			}))
			what = "route"
		case 9: // the ghost-risk sweep, each run a day further on
			slot = slot.Add(24 * time.Hour)
			_, err := b.leads.RecalcGhostRisk(ctx, b.org, slot, 1)
			ok(err)
			what = "ghost risk"
		case 10:
			_, err := b.leads.RecalcAutoPriority(ctx, b.org, time.Now(), lead.DefaultPriorityRules())
			ok(err)
			what = "auto priority"
		case 11: // a call's activity: touching, raising ghost risk, or both
			ok(b.tx(ctx, func(tx *gorm.DB) error {
				_, err := b.leads.RecordCallActivities(ctx, tx, b.org, "job:test", []lead.CallActivity{{
					LeadID: pick(leadIDs), CallID: uuid.New(), Change: "completed", Subject: "Call",
					OccurredAt: time.Now().Add(-time.Duration(rng.IntN(1000)) * time.Minute), Touch: rng.IntN(2) == 0, RaiseGhostRisk: rng.IntN(2),
				}})
				return err
			}))
			what = "call activity"
		case 12:
			ok(b.tx(ctx, func(tx *gorm.DB) error {
				_, err := b.leads.BookCalls(ctx, tx, b.org, "job:test", []lead.CallBooking{{LeadID: pick(leadIDs), Reason: "booked"}})
				return err
			}))
			what = "book call"
		case 13:
			ok(b.tx(ctx, func(tx *gorm.DB) error {
				_, err := b.leads.Escalate(ctx, tx, b.org, "job:test", []lead.Escalation{{
					LeadID: pick(leadIDs), DedupKey: fmt.Sprintf("esc:%d", step), Subject: "Buying signal"}})
				return err
			}))
			what = "escalate"
		case 14:
			ok(b.tx(ctx, func(tx *gorm.DB) error {
				_, err := b.leads.Nudge(ctx, tx, b.org, []lead.Nudge{{
					LeadID: pick(leadIDs), Subject: "Nudge", DedupKey: fmt.Sprintf("nudge:%d", step), Actor: "job:test"}})
				return err
			}))
			what = "nudge"
		case 15:
			at := time.Now().Add(-time.Duration(rng.IntN(5000)) * time.Minute)
			_, err := b.leads.AddActivity(ctx, b.org, "apikey:test", pick(leadIDs), lead.NewActivity{
				Kind: lead.ActivityNote, Subject: "Note", OccurredAt: &at})
			ok(err)
			what = "activity"
		case 16:
			if rng.IntN(3) == 0 {
				ok(b.leads.Delete(ctx, b.org, "apikey:test", pick(leadIDs)))
			}
			what = "delete"
		case 17: // a deal of the first lead in random order that can have one (converting it)
			for _, i := range rng.Perm(len(leadIDs)) {
				d, err := b.deals.Create(ctx, b.org, "apikey:test", deal.NewDeal{
					LeadID: leadIDs[i], Title: fmt.Sprintf("Deal %d", step), DealValue: int64(rng.IntN(10_000_000)), Currency: "EUR"})
				ok(err)
				if err == nil {
					dealIDs = append(dealIDs, d.ID)
					break
				}
			}
			what = "deal create"
		case 18, 19, 20: // a deal patched or moved
			if len(dealIDs) == 0 {
				continue
			}
			id := pick(dealIDs)
			if rng.IntN(2) == 0 {
				v, pr := int64(rng.IntN(1_000_000)), deal.Probability(rng.IntN(10_001))
				date := fmt.Sprintf("2027-0%d-1%d", 1+rng.IntN(9), rng.IntN(10))
				_, err := b.deals.Update(ctx, b.org, "apikey:test", id, deal.Patch{DealValue: &v, Probability: &pr, ExpectedCloseDate: &date})
				ok(err)
				what = "deal patch"
			} else {
				to := []deal.Stage{deal.StageProposal, deal.StageNegotiation, deal.StageWon, deal.StageLost}[rng.IntN(4)]
				_, err := b.deals.ChangeStage(ctx, b.org, "apikey:test", id, to, "lost to a rival")
				ok(err)
				what = "deal stage"
			}
		}
		take(step, what)
	}
	require.NotEmpty(t, dealIDs, "the history made no deal; raise the steps")

	// Every snapshot is what AsOf rebuilds at its instant; before its first event an entity did
	// not exist.
	for _, s := range snaps {
		var got any
		var err error
		if s.entity == lead.EntityType {
			got, err = b.leads.AsOf(ctx, b.org, s.id, s.at)
		} else {
			got, err = b.deals.AsOf(ctx, b.org, s.id, s.at)
		}
		where := fmt.Sprintf("%s %s as of %s (step %d, %s)", s.entity, s.id, s.at.Format(time.RFC3339Nano), s.step, s.what)
		if s.body == nil {
			require.True(t, apperr.Is(err, apperr.NotFound), "%s: want 404, got %v", where, err)
			continue
		}
		require.NoError(t, err, where)
		body, err := json.Marshal(got)
		require.NoError(t, err)
		require.JSONEq(t, string(s.body), string(body), where)
	}
	for id, at := range born {
		_, lerr := b.leads.AsOf(ctx, b.org, id, at.Add(-time.Microsecond))
		_, derr := b.deals.AsOf(ctx, b.org, id, at.Add(-time.Microsecond))
		require.True(t, apperr.Is(lerr, apperr.NotFound) && apperr.Is(derr, apperr.NotFound), "%s before it existed: %v, %v", id, lerr, derr)
		// Another org has none of them, at any instant.
		_, lerr = b.leads.AsOf(ctx, b.other, id, time.Now())
		_, derr = b.deals.AsOf(ctx, b.other, id, time.Now())
		require.True(t, apperr.Is(lerr, apperr.NotFound) && apperr.Is(derr, apperr.NotFound), "%s in another org: %v, %v", id, lerr, derr)
	}
	var kinds string
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT string_agg(type || ' ' || n || CASE WHEN r > 0 THEN ' (' || r || ' with a row record)' ELSE '' END, ', ' ORDER BY type)
FROM (SELECT type, count(*) AS n, count(*) FILTER (WHERE payload ? 'row') AS r FROM events WHERE org_id = $1 GROUP BY type) t`, b.org).Scan(&kinds))
	t.Logf("%d steps, %d leads, %d deals, %d snapshots replayed; events: %s", steps, len(leadIDs), len(dealIDs), len(snaps), kinds)
}

// TestAsOfThousandEvents rebuilds a lead from 1,000 events (its creation and 999 patches) and
// requires the result to be the lead as GET shows it; it logs how long the rebuild takes (the
// median and the slowest of 50), a rough figure beside the benchmark's.
func TestAsOfThousandEvents(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes 1,000 events")
	}
	b := setupAsOf(t)
	ctx := t.Context()
	l, err := b.leads.Create(ctx, b.org, "apikey:test", lead.NewLead{Contact: lead.Contact{Email: "busy@acme.example", Name: "Busy Bee"}})
	require.NoError(t, err)
	for i := range 999 {
		notes := fmt.Sprintf("call notes %d: %s", i, "the customer asked about pricing and the roadmap")
		_, err := b.leads.Update(ctx, b.org, "apikey:test", l.ID, lead.Patch{Notes: &notes})
		require.NoError(t, err)
	}
	want, err := b.leads.Get(ctx, b.org, l.ID)
	require.NoError(t, err)
	require.Equal(t, 1000, want.Version)
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	var took []time.Duration
	for range 50 {
		start := time.Now()
		got, err := b.leads.AsOf(ctx, b.org, l.ID, time.Now())
		took = append(took, time.Since(start))
		require.NoError(t, err)
		gotJSON, err := json.Marshal(got)
		require.NoError(t, err)
		require.JSONEq(t, string(wantJSON), string(gotJSON))
	}
	slices.Sort(took)
	t.Logf("AsOf of a lead with 1,000 events: median %s, slowest %s of 50", took[len(took)/2], took[len(took)-1])
}
