package lead

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Nudge is a nudge activity to add to the lead LeadID once (Service.Nudge).
type Nudge struct {
	LeadID  uuid.UUID
	Subject string
	Body    string
	// Payload is the activity's structured data (a JSON object; nil is {}).
	Payload json.RawMessage
	// DedupKey names the nudge: a second nudge with the same key in the org adds nothing.
	DedupKey string
	// Actor is who nudges (the events' actor and the activity's created_by).
	Actor string
}

// NudgeResult is what Service.Nudge did for one Nudge.
type NudgeResult struct {
	// Added is false when the lead had the nudge already, or is gone.
	Added bool
	// From and To are the lead's priority before and after (equal when it was urgent already;
	// empty when the lead is gone).
	From, To Priority
}

// bump is the next priority up: low -> normal -> high -> urgent; urgent stays urgent.
func (p Priority) bump() Priority {
	switch p {
	case PriorityLow:
		return PriorityNormal
	case PriorityNormal:
		return PriorityHigh
	default:
		return PriorityUrgent
	}
}

// Nudge adds each nudge's "nudge" activity to its live lead and raises the lead's priority by one
// step (low -> normal -> high -> urgent), inside the caller's tenant transaction tx, once per
// DedupKey: the activity's unique (org_id, dedup_key) decides, and the priority moves only in
// the transaction that inserted the activity, so a job run twice bumps once. It emits
// lead.activity_added and, when the priority changed, lead.updated. A missing or deleted lead is
// not an error: Added is false and nothing is written.
func (s *Service) Nudge(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ns []Nudge) ([]NudgeResult, error) {
	ids := make([]uuid.UUID, len(ns))
	for i, n := range ns {
		if n.DedupKey == "" {
			return nil, fmt.Errorf("nudge lead %s: a dedup key is required", n.LeadID)
		}
		ids[i] = n.LeadID
	}
	leads, err := lockLive(ctx, tx, orgID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]NudgeResult, len(ns))
	for i, n := range ns {
		cur, ok := leads[n.LeadID]
		if !ok {
			continue
		}
		if out[i], cur, err = s.nudge(ctx, tx, orgID, cur, n); err != nil {
			return nil, err
		}
		leads[cur.ID] = cur
	}
	return out, nil
}

func (s *Service) nudge(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, cur Lead, n Nudge) (NudgeResult, Lead, error) {
	a, err := addActivity(ctx, tx, orgID, SystemActivity{
		LeadID: cur.ID, Kind: ActivityNudge, Subject: n.Subject, Body: n.Body, Payload: Doc(n.Payload),
		OccurredAt: s.now().UTC(), CreatedBy: n.Actor, DedupKey: n.DedupKey,
	})
	if err != nil || a == nil {
		return NudgeResult{From: cur.Priority, To: cur.Priority}, cur, err
	}
	touched, err := touchActivity(ctx, tx, orgID, cur.ID, a.OccurredAt)
	if err != nil {
		return NudgeResult{}, cur, err
	}
	if err := s.emit(ctx, tx, orgID, n.Actor, EventActivityAdded, cur.ID, "lead.activity_added:"+a.ID.String(),
		WithRow(ActivityAddedPayload{ActivityID: a.ID, Kind: a.Kind, Subject: a.Subject, OccurredAt: a.OccurredAt}, touched)); err != nil {
		return NudgeResult{}, cur, err
	}
	res := NudgeResult{Added: true, From: cur.Priority, To: cur.Priority.bump()}
	if res.To == res.From {
		return res, cur, nil
	}
	updated, row, err := storeOne(ctx, tx, orgID, cur, Write{Priority: &res.To})
	if err != nil {
		return NudgeResult{}, cur, err
	}
	return res, updated, s.emit(ctx, tx, orgID, n.Actor, EventUpdated, cur.ID,
		fmt.Sprintf("lead.updated:%s:%d", cur.ID, updated.Version), WithRow(UpdatedPayload{
			Version: updated.Version, Changes: map[string]Change{"priority": {From: res.From, To: res.To}},
		}, row))
}
