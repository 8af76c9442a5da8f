package deal

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/lead"
)

// NudgeActor is the actor of what NudgeTx writes.
const NudgeActor = "job:" + KindNudgeDeal

// NudgeSubject is the subject of the nudge activity NudgeTx adds to a stalled deal's lead.
const NudgeSubject = "Deal stalled: follow up"

// NudgeResult is what NudgeTx did.
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

// nudgeKey names one stall of a deal: the deal and the time it entered its current stage. A new
// stage change starts a new stall, which may be nudged again.
func nudgeKey(id uuid.UUID, stageChangedAt time.Time) string {
	return fmt.Sprintf("nudge_deal:%s:%d", id, stageChangedAt.UnixMicro())
}

// NudgeTx nudges the stalled deal id inside the caller's tenant transaction tx (the nudge_deal
// job's CompleteInTx): a "nudge" activity on the deal's lead and the lead's priority one step up
// (lead.Service.NudgeTx), once per stall. The stall is the deal in its current stage since its
// stage_changed_at: the activity's dedup key is "nudge_deal:<deal id>:<stage_changed_at in
// microseconds>", under the unique (org_id, dedup_key) of lead_activities, so the database, not
// this code, makes a second run (or a second deal.stalled of the same stall) add nothing. The
// deal's row is locked first, so a concurrent stage change either comes before (and the stall
// is over) or after.
//
// stalledSince, when not nil, is the stage_changed_at the stall was reported for (the
// deal.stalled payload); a deal that has changed stage since is no longer stalled and is
// skipped. So is a deal that is won, lost or gone, and one whose lead is deleted: retrying would
// change nothing, so these are outcomes (Skipped), not errors.
func (s *Service) NudgeTx(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, stalledSince *time.Time) (NudgeResult, error) {
	cur, err := lockDeal(ctx, tx, orgID, id)
	if apperr.Is(err, apperr.NotFound) {
		return NudgeResult{Skipped: "deal not found"}, nil
	}
	if err != nil {
		return NudgeResult{}, err
	}
	out := NudgeResult{LeadID: cur.LeadID}
	switch {
	case cur.Stage.Final():
		out.Skipped = fmt.Sprintf("deal is %s", cur.Stage)
		return out, nil
	case stalledSince != nil && !stalledSince.Equal(cur.StageChangedAt) &&
		stalledSince.UnixMicro() != cur.StageChangedAt.UnixMicro():
		out.Skipped = "deal changed stage since it stalled"
		return out, nil
	}
	days := int(time.Since(cur.StageChangedAt).Hours() / 24)
	payload, err := json.Marshal(map[string]any{
		"dealId": cur.ID, "stage": cur.Stage, "stageChangedAt": cur.StageChangedAt, "dealValue": cur.DealValue,
		"currency": cur.Currency,
	})
	if err != nil {
		return NudgeResult{}, fmt.Errorf("encode nudge: %w", err)
	}
	res, err := s.leads.NudgeTx(ctx, tx, orgID, cur.LeadID, lead.Nudge{
		Subject: NudgeSubject,
		Body: fmt.Sprintf("Deal %q has been in %s for %d days without moving. Follow up with the lead.",
			cur.Title, cur.Stage, days),
		Payload: payload, DedupKey: nudgeKey(cur.ID, cur.StageChangedAt), Actor: NudgeActor,
	})
	if err != nil {
		return NudgeResult{}, fmt.Errorf("nudge lead of deal %s: %w", id, err)
	}
	out.Nudged, out.Priority = res.Added, res.To
	if !res.Added && res.From == "" {
		out.Skipped = "lead not found or deleted"
	}
	return out, nil
}
