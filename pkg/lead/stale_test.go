package lead_test

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/rules"
)

const day = 24 * time.Hour

// TestStaleSweep proves check_lead_stale's rule on real rows, with the org's own leadStaleDays
// (20) and chunks of three leads: a live lead in an open stage whose last activity (its
// creation when it has none) is at least 20 days before the slot is stale, to the second, and
// not a second later; converted, lost, disqualified and deleted leads never are. Each stale
// period is one lead.stale with the rule in its payload; a rerun of the slot and a later slot
// emit nothing more, and an activity starts a new period. Another org is untouched.
func TestStaleSweep(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	org, other := dbtest.NewOrg(t, d, "acme"), dbtest.NewOrg(t, d, "other")
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	set := rules.For(config.Rules{})
	_, err := set.Save(ctx, d, org, rules.Rules{
		DealDecayDays: rules.DealDecayDays{Discovery: 14, Proposal: 14, Negotiation: 14}, LeadStaleDays: 20, GhostRiskSilenceDays: 7,
	})
	require.NoError(t, err)
	sweep := lead.NewStaleSweep(d, em, set)
	sweep.ChunkSize = 3
	var slot time.Time
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT date_trunc('second', now())`).Scan(&slot))
	slot = slot.UTC()

	put := func(org uuid.UUID, stage string, activity *time.Time, created time.Time, deleted bool) uuid.UUID {
		t.Helper()
		id := uuid.New()
		_, err := super.Pool.Exec(ctx, `INSERT INTO leads (org_id, id, email, fingerprint, stage, last_activity_at, created_at, deleted_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8 THEN now() END)`,
			org, id, id.String()+"@example.com", "fp:"+id.String(), stage, activity, created, deleted)
		require.NoError(t, err)
		return id
	}
	at := func(d time.Duration) *time.Time { v := slot.Add(d); return &v }
	long := slot.Add(-300 * day)

	atBoundary := put(org, "new", at(-20*day), long, false)
	justInside := put(org, "contacted", at(-20*day+time.Second), long, false)
	neverActive := put(org, "call_booked", nil, slot.Add(-25*day), false)
	nurture := put(org, "nurture", at(-40*day), long, false)
	qualified := put(org, "qualified", at(-21*day), long, false)
	put(org, "qualified", nil, slot.Add(-19*day), false)
	for _, final := range []string{"converted", "lost", "disqualified"} {
		put(org, final, at(-100*day), long, false)
	}
	put(org, "new", at(-100*day), long, true)
	otherLead := put(other, "new", at(-100*day), long, false)

	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, super.Pool.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	stale := func(org uuid.UUID) (map[uuid.UUID]lead.StalePayload, map[uuid.UUID]int) {
		t.Helper()
		rows, err := super.Pool.Query(ctx, `SELECT payload, idempotency_key FROM events WHERE org_id = $1 AND type = 'lead.stale' ORDER BY id`, org)
		require.NoError(t, err)
		defer rows.Close()
		last, n := map[uuid.UUID]lead.StalePayload{}, map[uuid.UUID]int{}
		for rows.Next() {
			var raw []byte
			var key string
			require.NoError(t, rows.Scan(&raw, &key))
			var p lead.StalePayload
			require.NoError(t, json.Unmarshal(raw, &p))
			require.Equal(t, "lead.stale:"+p.LeadID.String()+":"+strconv.FormatInt(p.Since.UnixMicro(), 10), key)
			last[p.LeadID] = p
			n[p.LeadID]++
		}
		require.NoError(t, rows.Err())
		return last, n
	}

	res, err := sweep.Run(ctx, org, slot)
	require.NoError(t, err)
	require.Equal(t, 4, res.Chunks, "10 leads in chunks of 3")
	require.Equal(t, 4, res.Emitted)
	require.Zero(t, res.Reported)
	last, n := stale(org)
	require.ElementsMatch(t, []uuid.UUID{atBoundary, neverActive, nurture, qualified}, keysOf(n))
	p := last[atBoundary]
	require.Equal(t, lead.StageNew, p.Stage)
	require.Equal(t, 20, p.Days)
	require.Equal(t, slot.Add(-20*day), p.Since.UTC())
	require.Equal(t, slot.Add(-20*day), p.LastActivityAt.UTC())
	require.Nil(t, last[neverActive].LastActivityAt)
	require.Equal(t, slot.Add(-25*day), last[neverActive].Since.UTC(), "no activity: silent since its creation")
	require.Zero(t, count(`SELECT count(*) FROM events WHERE org_id = $1`, other), "another org is untouched")
	require.Zero(t, count(`SELECT count(*) FROM jobs WHERE org_id = $1`, org), "lead.stale enqueues nothing")

	// The same slot again, and a later one: once per stale period. A reported period's event is
	// not even sent again (the probe of its key finds it), only the new one's.
	res, err = sweep.Run(ctx, org, slot)
	require.NoError(t, err)
	require.Equal(t, 4, res.Found)
	require.Equal(t, 4, res.Reported, "every event was left out before the insert")
	require.Zero(t, res.Emitted)
	res, err = sweep.Run(ctx, org, slot.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, res.Emitted, "only the lead that became stale since")
	require.Equal(t, 4, res.Reported)
	_, n = stale(org)
	require.Contains(t, n, justInside)
	for id, c := range n {
		require.Equal(t, 1, c, "lead %s reported once", id)
	}

	// An activity starts a new period: reported again 20 days after it, not before.
	svc := lead.NewService(d, em)
	_, err = svc.AddActivity(ctx, org, "test", atBoundary, lead.NewActivity{Kind: lead.ActivityNote, Body: "called back"})
	require.NoError(t, err)
	var touched time.Time
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT last_activity_at FROM leads WHERE id = $1`, atBoundary).Scan(&touched))
	_, err = sweep.Run(ctx, org, touched.Add(20*day-time.Microsecond))
	require.NoError(t, err)
	_, n = stale(org)
	require.Equal(t, 1, n[atBoundary])
	_, err = sweep.Run(ctx, org, touched.Add(20*day))
	require.NoError(t, err)
	last, n = stale(org)
	require.Equal(t, 2, n[atBoundary])
	require.Equal(t, touched.UTC(), last[atBoundary].Since.UTC())

	// The other org's own sweep applies the default 30 days.
	res, err = sweep.Run(ctx, other, slot)
	require.NoError(t, err)
	require.Equal(t, 1, res.Emitted)
	last, _ = stale(other)
	require.Equal(t, 30, last[otherLead].Days)
}

func keysOf(m map[uuid.UUID]int) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestStaleSweepsOverlap proves two sweeps of one slot running at the same time report each
// stale lead once between them: the events' unique key decides, not the sweeps' reads.
func TestStaleSweepsOverlap(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	org := dbtest.NewOrg(t, d, "acme")
	_, err := super.Pool.Exec(ctx, `INSERT INTO leads (org_id, id, email, fingerprint, stage, last_activity_at)
SELECT $1, gen_random_uuid(), 'l' || g || '@example.com', 'fp' || g, 'new', now() - interval '40 days'
FROM generate_series(1, 60) g`, org)
	require.NoError(t, err)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	slot := time.Now()
	results := make([]lead.StaleResult, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range results {
		sweep := lead.NewStaleSweep(d, em, rules.For(config.Rules{}))
		sweep.ChunkSize = 4
		wg.Go(func() { results[i], errs[i] = sweep.Run(ctx, org, slot) })
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, 60, results[0].Emitted+results[1].Emitted)
	var n int
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT count(DISTINCT entity_id) FROM events WHERE org_id = $1 AND type = 'lead.stale'`, org).Scan(&n))
	require.Equal(t, 60, n)
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.stale'`, org).Scan(&n))
	require.Equal(t, 60, n)
}
