package deal

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/lead"
)

// NudgeActor is the actor of what Nudge writes.
const NudgeActor = "job:" + KindNudgeDeal

// NudgeSubject is the subject of the nudge activity Nudge adds to a stalled deal's lead.
const NudgeSubject = "Deal stalled: follow up"

// NudgeResult is what Nudge did for one Stall.
type NudgeResult struct {
	// Nudged is true when this call added the nudge (and bumped the lead's priority).
	Nudged bool
	// Skipped says why nothing was written ("" when nudged, or when the stall was nudged
	// before: a rerun).
	Skipped string
	// LeadID is the deal's lead (uuid.Nil when the deal is gone).
	LeadID uuid.UUID
	// Priority is the lead's priority after the nudge.
	Priority lead.Priority
}

// nudgeKey names one stall of a deal: the deal and the instant its clock started (the time it
// entered its current stage, or a later activity on its lead). A new stage change or activity
// starts a new stall, which may be nudged again.
func nudgeKey(id uuid.UUID, clockAt time.Time) string {
	return fmt.Sprintf("nudge_deal:%s:%d", id, clockAt.UnixMicro())
}

// Stall is a deal reported stalled (deal.stalled): the deal, the stage_changed_at the stall
// was reported for (nil when the report does not say), and the instant the stall's clock
// started (StalledPayload.Since; nil is the stage change).
type Stall struct {
	DealID  uuid.UUID
	Since   *time.Time
	ClockAt *time.Time
}

// Nudge nudges each stalled deal inside the caller's tenant transaction tx (the nudge_deal jobs'
// transaction): a "nudge" activity on the deal's lead and the lead's priority one step up
// (lead.Service.Nudge), once per stall, and returns the result of each stall in order. The
// stall is the deal at rest since its clock started (ClockAt, or its stage_changed_at): the
// activity's dedup key is "nudge_deal:<deal id>:<that instant in microseconds>", under the unique (org_id,
// dedup_key) of lead_activities, so the database, not this code, makes a second run (or a
// second deal.stalled of the same stall) add nothing. The deals' rows are locked first, in one
// statement and in the order of their ids, so a concurrent stage change either comes before
// (and the stall is over) or after.
//
// A deal that has changed stage since the stall's Since is no longer stalled and is skipped. So
// is a deal that is won, lost or gone, and one whose lead is deleted: retrying would change
// nothing, so these are outcomes (Skipped), not errors.
func (s *Service) Nudge(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, stalls []Stall) ([]NudgeResult, error) {
	ids := make([]uuid.UUID, len(stalls))
	for i, st := range stalls {
		ids[i] = st.DealID
	}
	locked, err := lockDeals(ctx, tx, orgID, ids)
	if err != nil {
		return nil, err
	}
	deals := make([]Deal, len(stalls))
	out := make([]NudgeResult, len(stalls))
	for i := range stalls {
		cur, ok := locked[stalls[i].DealID]
		if !ok {
			out[i] = NudgeResult{Skipped: "deal not found"}
			continue
		}
		deals[i] = cur
		out[i] = NudgeResult{LeadID: cur.LeadID}
		since := stalls[i].Since
		switch {
		case cur.Stage.Final():
			out[i].Skipped = fmt.Sprintf("deal is %s", cur.Stage)
		case since != nil && !since.Equal(cur.StageChangedAt) && since.UnixMicro() != cur.StageChangedAt.UnixMicro():
			out[i].Skipped = "deal changed stage since it stalled"
		}
	}
	var ns []lead.Nudge
	var of []int // the stall of each nudge
	for i, cur := range deals {
		if out[i].Skipped != "" {
			continue
		}
		days := int(time.Since(cur.StageChangedAt).Hours() / 24)
		clock := cur.StageChangedAt
		if at := stalls[i].ClockAt; at != nil {
			clock = *at
		}
		payload, err := json.Marshal(map[string]any{
			"dealId": cur.ID, "stage": cur.Stage, "stageChangedAt": cur.StageChangedAt, "dealValue": cur.DealValue,
			"currency": cur.Currency,
		})
		if err != nil {
			return nil, fmt.Errorf("encode nudge: %w", err)
		}
		ns = append(ns, lead.Nudge{
			LeadID:  cur.LeadID,
			Subject: NudgeSubject,
			Body: fmt.Sprintf("Deal %q has been in %s for %d days without moving. Follow up with the lead.",
				cur.Title, cur.Stage, days),
			Payload: payload, DedupKey: nudgeKey(cur.ID, clock), Actor: NudgeActor,
		})
		of = append(of, i)
	}
	res, err := s.leads.Nudge(ctx, tx, orgID, ns)
	if err != nil {
		return nil, fmt.Errorf("nudge leads of %d deals: %w", len(ns), err)
	}
	for j, r := range res {
		i := of[j]
		out[i].Nudged, out[i].Priority = r.Added, r.To
		if !r.Added && r.From == "" {
			out[i].Skipped = "lead not found or deleted"
		}
	}
	return out, nil
}
