package deal_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/rules"
)

const day = 24 * time.Hour

// putDeal inserts a deal of org in stage whose stage changed at changed, on a lead of its own,
// and returns the deal and its lead.
func (b *bundle) putDeal(t *testing.T, org uuid.UUID, stage deal.Stage, changed time.Time) (uuid.UUID, uuid.UUID) {
	t.Helper()
	id, leadID := uuid.New(), b.newLead(t, org, "converted")
	_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage,
	probability, stage_changed_at, won_at, lost_at, lost_reason)
VALUES ($1, $2, $3, 'Deal', 100, 'EUR', $4::text, 0.5, $5::timestamptz,
	CASE WHEN $4::text = 'won' THEN $5::timestamptz END, CASE WHEN $4::text = 'lost' THEN $5::timestamptz END,
	CASE WHEN $4::text = 'lost' THEN 'gone' END)`,
		org, id, leadID, string(stage), changed)
	require.NoError(t, err)
	return id, leadID
}

// activity logs an activity of kind on the lead at at.
func (b *bundle) activity(t *testing.T, org, leadID uuid.UUID, kind string, at time.Time) {
	t.Helper()
	_, err := b.super.Pool.Exec(t.Context(), `INSERT INTO lead_activities (org_id, lead_id, kind, occurred_at) VALUES ($1, $2, $3, $4)`,
		org, leadID, kind, at)
	require.NoError(t, err)
}

// stalls are the deal.stalled payloads of org by deal, and how many each deal has.
func (b *bundle) stalls(t *testing.T, org uuid.UUID) (map[uuid.UUID]deal.StalledPayload, map[uuid.UUID]int) {
	t.Helper()
	rows, err := b.super.Pool.Query(t.Context(), `SELECT payload, idempotency_key FROM events WHERE org_id = $1 AND type = 'deal.stalled' ORDER BY id`, org)
	require.NoError(t, err)
	defer rows.Close()
	last, n := map[uuid.UUID]deal.StalledPayload{}, map[uuid.UUID]int{}
	for rows.Next() {
		var raw []byte
		var key string
		require.NoError(t, rows.Scan(&raw, &key))
		var p deal.StalledPayload
		require.NoError(t, json.Unmarshal(raw, &p))
		require.Equal(t, "deal.stalled:"+p.DealID.String()+":"+strconv.FormatInt(p.Since.UnixMicro(), 10), key)
		last[p.DealID] = p
		n[p.DealID]++
	}
	require.NoError(t, rows.Err())
	return last, n
}

// TestDecaySweep proves check_deal_decay's rule on real rows, with the org's own rotting days
// (discovery 10, proposal 5, negotiation 20) and chunks of two deals: a deal is stalled when
// its clock started at least its stage's days before the slot, to the second, and not a
// second later; the clock starts at the later of its stage change and the last activity people
// logged on its lead (a nudge does not count); won and lost deals never stall. Each stall is
// one deal.stalled with the rule in its payload and one nudge_deal job; a rerun of the slot
// emits nothing, a later slot only the new stalls, and an activity starts a new stall. Another
// org is untouched, and its own sweep applies the configured default.
func TestDecaySweep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	em := events.NewEmitter(jobs.New(b.d, jobs.Config{}), catalog.New().EventJobs)
	set := rules.For(config.Rules{DealDecayDays: 14})
	_, err := set.Save(ctx, b.d, b.org, rules.Rules{
		DealDecayDays: rules.DealDecayDays{Discovery: 10, Proposal: 5, Negotiation: 20}, LeadStaleDays: 30, GhostRiskSilenceDays: 7,
	})
	require.NoError(t, err)
	sweep := deal.NewDecaySweep(b.d, em, set)
	sweep.ChunkSize = 2
	var slot time.Time
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT date_trunc('second', now())`).Scan(&slot))
	slot = slot.UTC()

	atBoundary, atBoundaryLead := b.putDeal(t, b.org, deal.StageDiscovery, slot.Add(-10*day))
	justInside, _ := b.putDeal(t, b.org, deal.StageDiscovery, slot.Add(-10*day+time.Second))
	proposalOld, _ := b.putDeal(t, b.org, deal.StageProposal, slot.Add(-5*day-time.Hour))
	b.putDeal(t, b.org, deal.StageNegotiation, slot.Add(-19*day))
	negotiationOld, _ := b.putDeal(t, b.org, deal.StageNegotiation, slot.Add(-20*day))
	reset, resetLead := b.putDeal(t, b.org, deal.StageProposal, slot.Add(-30*day))
	b.activity(t, b.org, resetLead, "note", slot.Add(-2*day))
	nudged, nudgedLead := b.putDeal(t, b.org, deal.StageProposal, slot.Add(-30*day))
	b.activity(t, b.org, nudgedLead, "email", slot.Add(-6*day))
	b.activity(t, b.org, nudgedLead, "nudge", slot.Add(-day))
	callAt, callAtLead := b.putDeal(t, b.org, deal.StageProposal, slot.Add(-30*day))
	b.activity(t, b.org, callAtLead, "call", slot.Add(-5*day))
	callInside, callInsideLead := b.putDeal(t, b.org, deal.StageProposal, slot.Add(-30*day))
	b.activity(t, b.org, callInsideLead, "call", slot.Add(-5*day+time.Second))
	b.putDeal(t, b.org, deal.StageWon, slot.Add(-100*day))
	b.putDeal(t, b.org, deal.StageLost, slot.Add(-100*day))
	other := dbtest.NewOrg(t, b.d, "other")
	otherDeal, _ := b.putDeal(t, other, deal.StageDiscovery, slot.Add(-14*day))

	res, err := sweep.Run(ctx, b.org, slot)
	require.NoError(t, err)
	require.Equal(t, 6, res.Chunks, "11 deals in chunks of 2")
	require.Equal(t, 5, res.Found)
	require.Equal(t, 5, res.Emitted)
	last, n := b.stalls(t, b.org)
	require.ElementsMatch(t, []uuid.UUID{atBoundary, proposalOld, negotiationOld, nudged, callAt}, keys(n))
	require.Equal(t, deal.StalledPayload{DealID: atBoundary, Stage: deal.StageDiscovery, StageChangedAt: slot.Add(-10 * day),
		Days: 10, Since: slot.Add(-10 * day)}, normal(last[atBoundary]))
	require.Equal(t, 20, last[negotiationOld].Days)
	emailAt := slot.Add(-6 * day)
	require.Equal(t, deal.StalledPayload{DealID: nudged, Stage: deal.StageProposal, StageChangedAt: slot.Add(-30 * day),
		Days: 5, Since: emailAt, LastActivityAt: &emailAt}, normal(last[nudged]), "the nudge does not reset the clock; the email does")
	require.Equal(t, 5, b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND job_type = 'nudge_deal'`, b.org))
	require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, other), "another org is untouched")

	// The same slot again, and a later one: only what has stalled since.
	res, err = sweep.Run(ctx, b.org, slot)
	require.NoError(t, err)
	require.Equal(t, 5, res.Found)
	require.Equal(t, 5, res.Reported, "a reported stall's event is not sent again")
	require.Zero(t, res.Emitted)
	res, err = sweep.Run(ctx, b.org, slot.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 2, res.Emitted)
	require.Equal(t, 5, res.Reported)
	_, n = b.stalls(t, b.org)
	require.ElementsMatch(t, []uuid.UUID{atBoundary, proposalOld, negotiationOld, nudged, callAt, justInside, callInside}, keys(n))
	for id, c := range n {
		require.Equal(t, 1, c, "deal %s reported once", id)
	}

	// An activity resets the clock: ten days after it, a new stall of the same deal.
	noteAt := slot.Add(2 * time.Hour)
	b.activity(t, b.org, atBoundaryLead, "meeting", noteAt)
	_, err = sweep.Run(ctx, b.org, noteAt.Add(10*day-time.Second))
	require.NoError(t, err)
	_, n = b.stalls(t, b.org)
	require.Equal(t, 1, n[atBoundary], "not yet ten days after the meeting")
	require.Equal(t, 1, n[reset], "the deal whose note reset its clock stalls five days after the note")
	_, err = sweep.Run(ctx, b.org, noteAt.Add(10*day))
	require.NoError(t, err)
	last, n = b.stalls(t, b.org)
	require.Equal(t, 2, n[atBoundary])
	require.Equal(t, noteAt, last[atBoundary].Since.UTC())
	require.Equal(t, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'deal.stalled'`, b.org),
		b.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND job_type = 'nudge_deal'`, b.org), "every stall enqueued its nudge")

	// The other org's sweep applies the configured default (14 days) to its own deal only.
	res, err = sweep.Run(ctx, other, slot)
	require.NoError(t, err)
	require.Equal(t, 1, res.Emitted)
	last, _ = b.stalls(t, other)
	require.Equal(t, 14, last[otherDeal].Days)
}

func keys(m map[uuid.UUID]int) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// normal is p with its times in UTC, for comparing.
func normal(p deal.StalledPayload) deal.StalledPayload {
	p.StageChangedAt, p.Since = p.StageChangedAt.UTC(), p.Since.UTC()
	if p.LastActivityAt != nil {
		t := p.LastActivityAt.UTC()
		p.LastActivityAt = &t
	}
	return p
}
