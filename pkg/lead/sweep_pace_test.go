package lead_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// TestRecalcGhostRiskPastALockedLead proves the ghost-risk sweep under its chunk budget
// (db.Pace) beside a client that holds one due lead's row lock: the chunks over that lead run out
// of their budget and roll back, shrink to the smallest size, and once the client's transaction
// ends the sweep completes, every due lead raised exactly once, with exactly one event each.
func TestRecalcGhostRiskPastALockedLead(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	org := dbtest.NewOrg(t, d, "acme")
	b := &sweepBundle{super: super, org: org}
	slot := time.Now().UTC().Truncate(time.Second)
	const due = 30
	for range due {
		b.insert(t, org, fixture{stage: lead.StageContacted, lastActivity: at(slot.Add(-30 * day))})
	}
	var locked string
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT id::text FROM leads WHERE org_id = $1 ORDER BY id OFFSET 20 LIMIT 1`, org).Scan(&locked))

	release := dbtest.HoldLocks(t, super, "SELECT 1 FROM leads WHERE id = $1 FOR UPDATE", locked)

	var mu sync.Mutex
	var cuts []db.ChunkReport
	paced := d.WithPace(db.Pace{Budget: 50 * time.Millisecond, Rest: -1, Observe: func(r db.ChunkReport) {
		if !r.TimedOut {
			return
		}
		mu.Lock()
		cuts = append(cuts, r)
		mu.Unlock()
		if r.Size == db.DefaultSize.Min {
			release()
		}
	}})
	svc := lead.NewService(paced, events.NewEmitter(jobs.New(paced, jobs.Config{}), catalog.New().EventJobs))
	res, err := svc.RecalcGhostRisk(ctx, org, slot, 7)
	require.NoError(t, err)
	require.Equal(t, due, res.Changed)

	mu.Lock()
	require.NotEmpty(t, cuts, "the chunks over the locked lead ran out of their budget")
	require.Equal(t, db.DefaultSize.Min, cuts[len(cuts)-1].Size, "and shrank to the smallest size")
	mu.Unlock()
	require.Equal(t, due, b.count(t, `SELECT count(*) FROM leads WHERE org_id = $1 AND ghost_risk = 1`, org), "every due lead raised exactly once")
	require.Equal(t, due, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = $2`, org, lead.EventGhostRiskRaised),
		"one event per raise: the rolled-back chunks left none")
}
