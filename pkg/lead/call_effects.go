package lead

// The lead side of calls (pkg/call): what booking, completing, missing or cancelling a call and
// a high buying signal do to the lead. pkg/call runs these inside its own tenant transaction,
// after it has locked the call, so that the call's change, the lead's change and their events
// commit together. Lock order is always call, then lead.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
)

// GhostRiskNoShowStep is how much a no-show raises the lead's ghost risk. It is the same unit as
// one silence period of GHOST_RISK_SILENCE_DAYS in the ghost-risk recalculation: a missed call
// is as strong a ghosting sign as a period of silence.
const GhostRiskNoShowStep = 1

// CallBookingTx locks the org's live lead leadID for booking a call on it and moves it to
// call_booked through the stage machine, recording each step with lead.stage_changed (reason
// given). A lead in new, qualified, nurture or contacted takes the forward path of the machine
// (BookingPath), so booking a call for a fresh lead also records that it was qualified and
// contacted; a lead already in call_booked stays there. A lead in a final stage (converted,
// lost, disqualified) is apperr.Conflict with Extra "currentStage"; a missing or deleted lead is
// apperr.NotFound. Nothing is written when it fails.
func (s *Service) CallBookingTx(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, leadID uuid.UUID, reason string) (Lead, error) {
	cur, err := getLead(tx, orgID, leadID, true)
	if err != nil {
		return Lead{}, err
	}
	if cur.Stage.Final() {
		return Lead{}, apperr.Errorf(apperr.Conflict, "a lead in stage %s cannot book a call", cur.Stage).
			With("currentStage", cur.Stage)
	}
	if r := []rune(reason); len(r) > MaxReasonLen {
		reason = string(r[:MaxReasonLen])
	}
	for _, to := range BookingPath(cur.Stage) {
		moved, err := setStage(tx, orgID, leadID, to, &reason)
		if err != nil {
			return Lead{}, err
		}
		if err := s.emit(ctx, tx, orgID, actor, EventStageChanged, leadID,
			fmt.Sprintf("lead.stage_changed:%s:%d", leadID, moved.Version),
			StageChangedPayload{From: cur.Stage, To: to, Reason: &reason, Version: moved.Version}); err != nil {
			return Lead{}, err
		}
		cur = moved
	}
	return cur, nil
}

// BookingPath is the sequence of stage moves that takes a lead in stage from to call_booked
// through the stage machine: new -> qualified -> contacted -> call_booked, qualified | nurture
// -> contacted -> call_booked, contacted -> call_booked. It is empty for call_booked itself and
// for the final stages (which cannot book a call).
func BookingPath(from Stage) []Stage {
	switch from {
	case StageNew:
		return []Stage{StageQualified, StageContacted, StageCallBooked}
	case StageQualified, StageNurture:
		return []Stage{StageContacted, StageCallBooked}
	case StageContacted:
		return []Stage{StageCallBooked}
	default:
		return []Stage{}
	}
}

// CallActivity is one change of a call as the lead's timeline shows it: a "call" activity.
type CallActivity struct {
	CallID uuid.UUID
	// Change names the call's change ("booked", "completed", "no_show", "cancelled"); with the
	// call's id it is the activity's dedup key, so a change is on the timeline once.
	Change     string
	Subject    string
	Body       string
	Payload    map[string]any
	OccurredAt time.Time
	// Touch moves the lead's last_activity_at forward to OccurredAt: true when the lead took
	// part (a booking, a call held), false for a no-show or a cancellation, which are silence.
	Touch bool
}

// CallActivityTx adds a's "call" activity to the lead leadID (dedup key
// "call:<call id>:<change>") and emits lead.activity_added, raising the lead's ghost risk by
// raiseGhostRisk first when it is positive. A lead that is missing or deleted is skipped
// (added false): the call's own change still stands. It returns the lead's ghost risk before
// and after.
func (s *Service) CallActivityTx(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, leadID uuid.UUID, a CallActivity, raiseGhostRisk int) (added bool, ghostFrom, ghostTo int, err error) {
	cur, err := getLead(tx, orgID, leadID, true)
	if isNotFound(err) {
		return false, 0, 0, nil
	}
	if err != nil {
		return false, 0, 0, err
	}
	ghostFrom, ghostTo = cur.GhostRisk, cur.GhostRisk
	payload := map[string]any{"callId": a.CallID, "change": a.Change}
	for k, v := range a.Payload {
		payload[k] = v
	}
	doc, err := json.Marshal(payload)
	if err != nil {
		return false, 0, 0, fmt.Errorf("encode call activity: %w", err)
	}
	act, inserted, err := insertActivityOnce(tx, orgID, Activity{
		LeadID: leadID, Kind: ActivityCall, Subject: ptr(a.Subject), Body: ptr(a.Body), Payload: doc,
		OccurredAt: a.OccurredAt.UTC(), CreatedBy: ptr(actor),
	}, fmt.Sprintf("call:%s:%s", a.CallID, a.Change))
	if err != nil || !inserted {
		return false, ghostFrom, ghostTo, err
	}
	if raiseGhostRisk > 0 {
		if err := tx.Raw(`UPDATE leads SET ghost_risk = ghost_risk + ? WHERE org_id = ? AND id = ? RETURNING ghost_risk`,
			raiseGhostRisk, orgID, leadID).Scan(&ghostTo).Error; err != nil {
			return false, 0, 0, fmt.Errorf("raise lead ghost risk: %w", err)
		}
	}
	if a.Touch {
		if err := touchActivity(tx, orgID, leadID, act.OccurredAt); err != nil {
			return false, 0, 0, err
		}
	}
	return true, ghostFrom, ghostTo, s.emit(ctx, tx, orgID, actor, EventActivityAdded, leadID, "lead.activity_added:"+act.ID.String(),
		ActivityAddedPayload{ActivityID: act.ID, Kind: act.Kind, Subject: act.Subject, OccurredAt: act.OccurredAt})
}

// Escalation is an escalation of a lead: an "escalation" activity and priority urgent.
type Escalation struct {
	LeadID uuid.UUID
	// DedupKey makes the escalation happen once (for a call: "escalation:call:<call id>").
	DedupKey string
	Subject  string
	Body     string
	Payload  map[string]any
}

// EscalationResult is what EscalateTx did.
type EscalationResult struct {
	// Escalated is true when this call added the escalation; false when it was there already
	// (a rerun) or the lead is gone (Skipped says so).
	Escalated bool
	// PriorityChanged is true when the lead's priority was raised to urgent.
	PriorityChanged bool
	// ActivityID is the escalation activity this call added.
	ActivityID uuid.UUID
	Skipped    string
}

// EscalateTx escalates the org's live lead e.LeadID inside the caller's tenant transaction: it
// adds an "escalation" activity under e.DedupKey (the unique (org_id, dedup_key) of
// lead_activities makes it once, however often it runs), and only when that insert is new
// raises the lead's priority to urgent (lead.updated, version + 1; a lead already urgent keeps
// it) and emits lead.activity_added. A missing or deleted lead is skipped; the escalation is
// also added to a lead in a final stage, whose owner still wants to know.
func (s *Service) EscalateTx(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, e Escalation) (EscalationResult, error) {
	cur, err := getLead(tx, orgID, e.LeadID, true)
	if isNotFound(err) {
		return EscalationResult{Skipped: "lead not found or deleted"}, nil
	}
	if err != nil {
		return EscalationResult{}, err
	}
	doc, err := json.Marshal(e.Payload)
	if err != nil {
		return EscalationResult{}, fmt.Errorf("encode escalation: %w", err)
	}
	act, inserted, err := insertActivityOnce(tx, orgID, Activity{
		LeadID: e.LeadID, Kind: ActivityEscalation, Subject: ptr(e.Subject), Body: ptr(e.Body), Payload: doc,
		OccurredAt: s.now().UTC(), CreatedBy: ptr(actor),
	}, e.DedupKey)
	if err != nil {
		return EscalationResult{}, err
	}
	if !inserted {
		return EscalationResult{Skipped: "already escalated"}, nil
	}
	out := EscalationResult{Escalated: true, ActivityID: act.ID}
	if cur.Priority != PriorityUrgent {
		updated, err := setPriority(tx, orgID, cur.ID, PriorityUrgent)
		if err != nil {
			return EscalationResult{}, err
		}
		if err := s.emit(ctx, tx, orgID, actor, EventUpdated, cur.ID,
			fmt.Sprintf("lead.updated:%s:%d", cur.ID, updated.Version), UpdatedPayload{
				Version: updated.Version, Changes: map[string]Change{"priority": {From: cur.Priority, To: PriorityUrgent}},
			}); err != nil {
			return EscalationResult{}, err
		}
		out.PriorityChanged = true
	}
	return out, s.emit(ctx, tx, orgID, actor, EventActivityAdded, cur.ID, "lead.activity_added:"+act.ID.String(),
		ActivityAddedPayload{ActivityID: act.ID, Kind: act.Kind, Subject: act.Subject, OccurredAt: act.OccurredAt})
}

// LiveLeadTx reports whether the org has the live lead id (not deleted).
func LiveLeadTx(tx *gorm.DB, orgID, id uuid.UUID) (bool, error) {
	_, err := getLead(tx, orgID, id, false)
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}
