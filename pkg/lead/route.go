package lead

// route_outreach: what happens to a lead after qualification, by its recommended path
// (DESIGN.md "Flow": lead.qualified -> route_outreach), and the nurture follow-up it schedules.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
)

// Path is a lead's recommended path (leads.recommended_path), set by qualification.
type Path string

// The recommended paths.
const (
	PathBookCall   Path = "book_call"
	PathNurture    Path = "nurture"
	PathDisqualify Path = "disqualify"
)

// Valid reports whether p is a recommended path.
func (p Path) Valid() bool { return p == PathBookCall || p == PathNurture || p == PathDisqualify }

// RouteActor is the actor of the events that RouteTx emits; FollowUpActor of FollowUpTx's.
const (
	RouteActor    = "job:route_outreach"
	FollowUpActor = "job:" + KindFollowUpLead
)

// LeadFollowUpScheduled is the event of a nurture follow-up put into scheduled_tasks; its
// idempotency key is "lead.follow_up_scheduled:<scheduled task id>". No job reacts to it: the
// scheduler enqueues the follow-up itself when it is due.
const LeadFollowUpScheduled = "lead.follow_up_scheduled"

// DefaultNurtureFollowUp is how long after routing a nurture lead's follow-up is due when
// RouteInput.FollowUpAfter is zero.
const DefaultNurtureFollowUp = 14 * 24 * time.Hour

// The subjects of the task activities routing and follow-ups add.
const (
	BookCallSubject = "Book a call"
	FollowUpSubject = "Follow up with nurture lead"
)

// FollowUpPayload is the payload of the follow_up_lead job that a nurture routing schedules.
type FollowUpPayload struct {
	LeadID  uuid.UUID `json:"leadId"`
	EventID int64     `json:"eventId"`
}

// FollowUpScheduledPayload is the payload of lead.follow_up_scheduled.
type FollowUpScheduledPayload struct {
	TaskID  uuid.UUID `json:"taskId"`
	JobType string    `json:"jobType"`
	RunAt   time.Time `json:"runAt"`
}

// RouteInput names the lead.qualified event to act on. Path and Reason come from the event's
// payload when it carries them (see ParseQualified); an empty Path means the lead's stored
// recommended path.
type RouteInput struct {
	LeadID  uuid.UUID
	EventID int64
	Path    Path
	Reason  string
	// FollowUpAfter is how long after routing a nurture follow-up is due; zero is
	// DefaultNurtureFollowUp.
	FollowUpAfter time.Duration
}

// RouteResult is what RouteTx did.
type RouteResult struct {
	// Path is the path acted on ("" when skipped before one was known).
	Path Path
	// Changes lists what was written, in order: "priority", "task", "follow_up", "stage". Empty
	// on a rerun or when skipped.
	Changes []string
	// Skipped says why nothing was done ("" when the path was acted on, even if a rerun found
	// everything done already).
	Skipped string
}

// ParseQualified reads the recommended path and a reason from a lead.qualified payload
// (lead.QualifiedPayload: {"recommendedPath", "score", "scoreReasons", ...}; a payload that
// carries the lead, {"lead": {"recommendedPath": ...}}, is read too). The reason is the
// payload's "reason" or "stageReason", else made of its score and score reasons. Missing or
// unknown values are empty.
func ParseQualified(data json.RawMessage) (Path, string) {
	var p struct {
		RecommendedPath Path            `json:"recommendedPath"`
		Reason          string          `json:"reason"`
		StageReason     string          `json:"stageReason"`
		Score           *int            `json:"score"`
		ScoreReasons    json.RawMessage `json:"scoreReasons"`
		Lead            *struct {
			RecommendedPath Path `json:"recommendedPath"`
		} `json:"lead"`
	}
	if len(data) == 0 || json.Unmarshal(data, &p) != nil {
		return "", ""
	}
	path := p.RecommendedPath
	if !path.Valid() && p.Lead != nil {
		path = p.Lead.RecommendedPath
	}
	if !path.Valid() {
		path = ""
	}
	reason := p.Reason
	if reason == "" {
		reason = p.StageReason
	}
	var reasons []string
	if reason == "" && json.Unmarshal(p.ScoreReasons, &reasons) == nil && len(reasons) > 0 {
		reason = "Qualification"
		if p.Score != nil {
			reason += fmt.Sprintf(" (score %d)", *p.Score)
		}
		reason += ": " + strings.Join(reasons, "; ")
	}
	return path, reason
}

// RouteTx acts on the recommended path of the live lead in.LeadID inside the caller's tenant
// transaction tx (the route_outreach job's CompleteInTx), once per lead.qualified event
// in.EventID:
//
//   - book_call: priority high (an urgent lead stays urgent; lead.updated), and a "task" activity
//     "Book a call" (dedup key "route:<event id>:task"; lead.activity_added);
//   - nurture: a follow_up_lead job in scheduled_tasks, due after in.FollowUpAfter (dedup key
//     "route:<event id>"; lead.follow_up_scheduled);
//   - disqualify: stage disqualified with the reason, through the stage machine
//     (lead.stage_changed). A lead already disqualified stays as it is; one that has reached a
//     stage from which the move is not allowed is skipped.
//
// Every write is guarded by a unique key or a state check, so a rerun changes nothing. A lead
// that is gone (deleted), in a final stage, or without a path is skipped: that is an outcome,
// not an error, since retrying would not change it.
func (s *Service) RouteTx(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, in RouteInput) (RouteResult, error) {
	out, err := s.RouteMany(ctx, tx, orgID, []RouteInput{in})
	if err != nil {
		return RouteResult{}, err
	}
	return out[0], nil
}

// FollowUpTx runs a nurture follow-up that RouteTx scheduled, inside the caller's tenant
// transaction tx (the follow_up_lead job's CompleteInTx): when the lead is still live and in
// nurture, it adds a "task" activity "Follow up with nurture lead" (dedup key "follow_up:" +
// key, where key is the job's idempotency key, stable across attempts) and emits
// lead.activity_added. A lead that has moved on or is gone needs no follow-up: skipped is true
// and nothing is written.
func (s *Service) FollowUpTx(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, p FollowUpPayload, key string) (skipped bool, err error) {
	cur, err := getLead(tx, orgID, p.LeadID, true)
	if apperr.CodeOf(err) == apperr.NotFound {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if cur.Stage != StageNurture {
		return true, nil
	}
	subject := FollowUpSubject
	body := "This lead was put in nurture; time to get back in touch."
	payload, _ := json.Marshal(map[string]any{"eventId": p.EventID})
	a, inserted, err := insertActivityOnce(tx, orgID, Activity{
		LeadID: cur.ID, Kind: ActivityTask, Subject: &subject, Body: &body, Payload: payload,
		OccurredAt: s.now().UTC(), CreatedBy: ptr(FollowUpActor),
	}, "follow_up:"+key)
	if err != nil || !inserted {
		return false, err
	}
	return false, s.emit(ctx, tx, orgID, FollowUpActor, EventActivityAdded, cur.ID, "lead.activity_added:"+a.ID.String(),
		ActivityAddedPayload{ActivityID: a.ID, Kind: a.Kind, Subject: a.Subject, OccurredAt: a.OccurredAt})
}

// FollowUpMany is FollowUpTx for many follow-ups of orgID at once, in the caller's tenant
// transaction tx (the batch of follow_up_lead jobs): keys[i] is the idempotency key of ps[i]'s
// job. It first locks every lead they name in the order of the ids (lockPipelineLeads), as the
// other batches of the pipeline lock theirs, and only then runs each follow-up in order; run
// lead by lead in the order of the batch, its locks could cross theirs and deadlock. It returns
// whether each follow-up was skipped, in order.
func (s *Service) FollowUpMany(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ps []FollowUpPayload, keys []string) ([]bool, error) {
	if len(keys) != len(ps) {
		return nil, fmt.Errorf("follow up %d leads: %d keys", len(ps), len(keys))
	}
	ids := make([]uuid.UUID, len(ps))
	for i, p := range ps {
		ids[i] = p.LeadID
	}
	if _, err := lockPipelineLeads(ctx, tx, orgID, ids, nil); err != nil {
		return nil, err
	}
	skipped := make([]bool, len(ps))
	for i, p := range ps {
		var err error
		if skipped[i], err = s.FollowUpTx(ctx, tx, orgID, p, keys[i]); err != nil {
			return nil, fmt.Errorf("follow up lead %s: %w", p.LeadID, err)
		}
	}
	return skipped, nil
}

// setPriority sets the lead's priority and moves its version on by one. Like setStage it runs
// after getLead locked the lead and saw it live in the same transaction, so it finds the row by
// the primary key alone (see pipelineLeadSQL).
func setPriority(tx *gorm.DB, orgID, id uuid.UUID, p Priority) (Lead, error) {
	var out Lead
	res := tx.Raw(`UPDATE leads SET priority = ?, version = version + 1
WHERE org_id = ? AND id = ?
RETURNING `+leadColumns, string(p), orgID, id).Scan(&out)
	if res.Error != nil {
		return Lead{}, fmt.Errorf("set lead priority: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return Lead{}, notFound(id)
	}
	out.utc()
	return out, nil
}
