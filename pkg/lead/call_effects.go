package lead

// The lead side of calls (pkg/call): what booking, completing, missing or cancelling a call and
// a high buying signal do to the lead. pkg/call runs these inside its own tenant transaction,
// after it has locked the call, so that the call's change, the lead's change and their events
// commit together. Lock order is always call, then lead; the leads of one call take their locks
// in the order of their ids (LockLive).

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
// one silence period in the ghost-risk recalculation: a missed call
// is as strong a ghosting sign as a period of silence.
const GhostRiskNoShowStep = 1

// CallBooking is a call booked on the lead LeadID; Reason is the stage reason of the moves it
// makes (cut to MaxReasonLen characters).
type CallBooking struct {
	LeadID uuid.UUID
	Reason string
}

// BookCalls moves the org's live lead of each booking to call_booked through the stage machine,
// in the caller's tenant transaction tx, recording each step with lead.stage_changed. A lead in
// new, qualified, nurture or contacted takes the forward path of the machine (BookingPath), so
// booking a call for a fresh lead also records that it was qualified and contacted; a lead
// already in call_booked stays there. It returns each booking's lead as it is afterwards. A lead
// in a final stage (converted, lost, disqualified) is apperr.Conflict with Extra "currentStage";
// a missing or deleted lead is apperr.NotFound; either fails the whole call.
func (s *Service) BookCalls(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, bs []CallBooking) ([]Lead, error) {
	ids := make([]uuid.UUID, len(bs))
	for i, b := range bs {
		ids[i] = b.LeadID
	}
	leads, err := lockLive(ctx, tx, orgID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Lead, len(bs))
	for i, b := range bs {
		cur, ok := leads[b.LeadID]
		if !ok {
			return nil, notFound(b.LeadID)
		}
		if cur.Stage.Final() {
			return nil, apperr.Errorf(apperr.Conflict, "a lead in stage %s cannot book a call", cur.Stage).
				With("currentStage", cur.Stage)
		}
		reason := b.Reason
		if r := []rune(reason); len(r) > MaxReasonLen {
			reason = string(r[:MaxReasonLen])
		}
		for _, to := range BookingPath(cur.Stage) {
			moved, row, err := storeOne(ctx, tx, orgID, cur, Write{Stage: &to, Reason: &reason})
			if err != nil {
				return nil, err
			}
			if err := s.emit(ctx, tx, orgID, actor, EventStageChanged, cur.ID,
				fmt.Sprintf("lead.stage_changed:%s:%d", cur.ID, moved.Version),
				WithRow(StageChangedPayload{From: cur.Stage, To: to, Reason: &reason, Version: moved.Version}, row)); err != nil {
				return nil, err
			}
			cur = moved
		}
		leads[cur.ID], out[i] = cur, cur
	}
	return out, nil
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

// CallActivity is one change of a call as the lead LeadID's timeline shows it: a "call"
// activity.
type CallActivity struct {
	LeadID uuid.UUID
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
	// RaiseGhostRisk, when positive, raises the lead's ghost risk by that much with the activity.
	RaiseGhostRisk int
}

// CallActivityResult is what RecordCallActivities did for one CallActivity.
type CallActivityResult struct {
	// Added is false when the lead is missing or deleted, or had the activity already.
	Added bool
	// GhostFrom and GhostTo are the lead's ghost risk before and after.
	GhostFrom, GhostTo int
}

// RecordCallActivities adds each call activity to its lead in the caller's tenant transaction tx
// (dedup key "call:<call id>:<change>") and emits lead.activity_added, raising the lead's ghost
// risk first where RaiseGhostRisk is positive. A lead that is missing or deleted is skipped
// (Added false): the call's own change still stands.
func (s *Service) RecordCallActivities(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, as []CallActivity) ([]CallActivityResult, error) {
	ids := make([]uuid.UUID, len(as))
	for i, a := range as {
		ids[i] = a.LeadID
	}
	leads, err := lockLive(ctx, tx, orgID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]CallActivityResult, len(as))
	for i, a := range as {
		cur, ok := leads[a.LeadID]
		if !ok {
			continue
		}
		res, err := s.recordCallActivity(ctx, tx, orgID, actor, cur, a)
		if err != nil {
			return nil, err
		}
		cur.GhostRisk = res.GhostTo
		leads[cur.ID], out[i] = cur, res
	}
	return out, nil
}

func (s *Service) recordCallActivity(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, cur Lead, a CallActivity) (CallActivityResult, error) {
	out := CallActivityResult{GhostFrom: cur.GhostRisk, GhostTo: cur.GhostRisk}
	payload := map[string]any{"callId": a.CallID, "change": a.Change}
	for k, v := range a.Payload {
		payload[k] = v
	}
	doc, err := json.Marshal(payload)
	if err != nil {
		return CallActivityResult{}, fmt.Errorf("encode call activity: %w", err)
	}
	act, err := addActivity(ctx, tx, orgID, SystemActivity{
		LeadID: cur.ID, Kind: ActivityCall, Subject: a.Subject, Body: a.Body, Payload: doc,
		OccurredAt: a.OccurredAt.UTC(), CreatedBy: actor, DedupKey: fmt.Sprintf("call:%s:%s", a.CallID, a.Change),
	})
	if err != nil || act == nil {
		return out, err
	}
	var added any = ActivityAddedPayload{ActivityID: act.ID, Kind: act.Kind, Subject: act.Subject, OccurredAt: act.OccurredAt}
	set := map[string]any{}
	if a.RaiseGhostRisk > 0 {
		var updatedAt time.Time
		if out.GhostTo, updatedAt, err = raiseGhostRisk(ctx, tx, orgID, cur.ID, a.RaiseGhostRisk); err != nil {
			return CallActivityResult{}, err
		}
		set["ghostRisk"], set["updatedAt"] = out.GhostTo, updatedAt
	}
	if a.Touch {
		touched, err := touchActivity(ctx, tx, orgID, cur.ID, act.OccurredAt)
		if err != nil {
			return CallActivityResult{}, err
		}
		// The touch sets updated_at to the transaction's time, the event's.
		set["lastActivityAt"] = touched.Set["lastActivityAt"]
		delete(set, "updatedAt")
	}
	if len(set) > 0 {
		row, err := rowSet(set)
		if err != nil {
			return CallActivityResult{}, err
		}
		added = WithRow(added, row)
	}
	out.Added = true
	return out, s.emit(ctx, tx, orgID, actor, EventActivityAdded, cur.ID, "lead.activity_added:"+act.ID.String(), added)
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

// EscalationResult is what Escalate did for one Escalation.
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

// Escalate escalates the org's live lead of each escalation inside the caller's tenant
// transaction tx: it adds an "escalation" activity under its DedupKey (the unique (org_id,
// dedup_key) of lead_activities makes it once, however often it runs), and only when that
// insert is new raises the lead's priority to urgent (lead.updated, version + 1; a lead already
// urgent keeps it) and emits lead.activity_added. A missing or deleted lead is skipped; the
// escalation is also added to a lead in a final stage, whose owner still wants to know.
func (s *Service) Escalate(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, es []Escalation) ([]EscalationResult, error) {
	ids := make([]uuid.UUID, len(es))
	for i, e := range es {
		ids[i] = e.LeadID
	}
	leads, err := lockLive(ctx, tx, orgID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]EscalationResult, len(es))
	for i, e := range es {
		cur, ok := leads[e.LeadID]
		if !ok {
			out[i] = EscalationResult{Skipped: "lead not found or deleted"}
			continue
		}
		if out[i], cur, err = s.escalate(ctx, tx, orgID, actor, cur, e); err != nil {
			return nil, err
		}
		leads[cur.ID] = cur
	}
	return out, nil
}

func (s *Service) escalate(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, cur Lead, e Escalation) (EscalationResult, Lead, error) {
	doc, err := json.Marshal(e.Payload)
	if err != nil {
		return EscalationResult{}, cur, fmt.Errorf("encode escalation: %w", err)
	}
	act, err := addActivity(ctx, tx, orgID, SystemActivity{
		LeadID: cur.ID, Kind: ActivityEscalation, Subject: e.Subject, Body: e.Body, Payload: doc,
		OccurredAt: s.now().UTC(), CreatedBy: actor, DedupKey: e.DedupKey,
	})
	if err != nil {
		return EscalationResult{}, cur, err
	}
	if act == nil {
		return EscalationResult{Skipped: "already escalated"}, cur, nil
	}
	out := EscalationResult{Escalated: true, ActivityID: act.ID}
	if cur.Priority != PriorityUrgent {
		urgent := PriorityUrgent
		updated, row, err := storeOne(ctx, tx, orgID, cur, Write{Priority: &urgent})
		if err != nil {
			return EscalationResult{}, cur, err
		}
		if err := s.emit(ctx, tx, orgID, actor, EventUpdated, cur.ID,
			fmt.Sprintf("lead.updated:%s:%d", cur.ID, updated.Version), WithRow(UpdatedPayload{
				Version: updated.Version, Changes: map[string]Change{"priority": {From: cur.Priority, To: PriorityUrgent}},
			}, row)); err != nil {
			return EscalationResult{}, cur, err
		}
		out.PriorityChanged, cur = true, updated
	}
	return out, cur, s.emit(ctx, tx, orgID, actor, EventActivityAdded, cur.ID, "lead.activity_added:"+act.ID.String(),
		ActivityAddedPayload{ActivityID: act.ID, Kind: act.Kind, Subject: act.Subject, OccurredAt: act.OccurredAt})
}
