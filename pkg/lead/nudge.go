package lead

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
)

// Nudge is a nudge activity to add to a lead once (NudgeTx).
type Nudge struct {
	Subject string
	Body    string
	// Payload is the activity's structured data (a JSON object; nil is {}).
	Payload json.RawMessage
	// DedupKey names the nudge: a second NudgeTx with the same key in the org adds nothing.
	DedupKey string
	// Actor is who nudges (the events' actor and the activity's created_by).
	Actor string
}

// NudgeResult is what NudgeTx did.
type NudgeResult struct {
	// Added is false when the lead had the nudge already, or is gone.
	Added bool
	// From and To are the lead's priority before and after (equal when it was urgent already).
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

// NudgeTx adds a "nudge" activity to the live lead id and raises its priority by one step
// (low -> normal -> high -> urgent), inside the caller's tenant transaction tx, once per
// n.DedupKey: the activity's unique (org_id, dedup_key) decides (R3), and the priority moves
// only in the transaction that inserted the activity, so a job run twice bumps once. It emits
// lead.activity_added and, when the priority changed, lead.updated. A missing or deleted lead is
// not an error: Added is false and nothing is written.
func (s *Service) NudgeTx(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, id uuid.UUID, n Nudge) (NudgeResult, error) {
	if n.DedupKey == "" {
		return NudgeResult{}, fmt.Errorf("nudge lead %s: a dedup key is required", id)
	}
	cur, err := getLead(tx, orgID, id, true)
	if apperr.Is(err, apperr.NotFound) {
		return NudgeResult{}, nil
	}
	if err != nil {
		return NudgeResult{}, err
	}
	a, inserted, err := insertActivityOnce(tx, orgID, Activity{
		LeadID: id, Kind: ActivityNudge, Subject: ptr(n.Subject), Body: ptr(n.Body), Payload: Doc(n.Payload),
		OccurredAt: s.now().UTC(), CreatedBy: ptr(n.Actor),
	}, n.DedupKey)
	if err != nil || !inserted {
		return NudgeResult{From: cur.Priority, To: cur.Priority}, err
	}
	if err := touchActivity(tx, orgID, id, a.OccurredAt); err != nil {
		return NudgeResult{}, err
	}
	if err := s.emit(ctx, tx, orgID, n.Actor, EventActivityAdded, id, "lead.activity_added:"+a.ID.String(),
		ActivityAddedPayload{ActivityID: a.ID, Kind: a.Kind, Subject: a.Subject, OccurredAt: a.OccurredAt}); err != nil {
		return NudgeResult{}, err
	}
	res := NudgeResult{Added: true, From: cur.Priority, To: cur.Priority.bump()}
	if res.To == res.From {
		return res, nil
	}
	updated, err := setPriority(tx, orgID, id, res.To)
	if err != nil {
		return NudgeResult{}, err
	}
	return res, s.emit(ctx, tx, orgID, n.Actor, EventUpdated, id,
		fmt.Sprintf("lead.updated:%s:%d", id, updated.Version), UpdatedPayload{
			Version: updated.Version, Changes: map[string]Change{"priority": {From: res.From, To: res.To}},
		})
}
