package pipeline

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

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/lead"
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

// RouteActor is the actor of the events that Route emits; FollowUpActor of FollowUp's.
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

// RouteResult is what Route did for one RouteInput.
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
// (QualifiedPayload: {"recommendedPath", "score", "scoreReasons", ...}; a payload that
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

// Router holds the use cases that act on a qualified lead: Route (route_outreach) and FollowUp
// (follow_up_lead). They make no call out of the database and take the caller's transaction.
type Router struct {
	emitter *events.Emitter
	// Now is the clock of the activities they add; nil is time.Now.
	Now func() time.Time
}

// NewRouter returns the router emitting through emitter.
func NewRouter(emitter *events.Emitter) *Router {
	if emitter == nil {
		panic("pipeline.NewRouter: nil emitter")
	}
	return &Router{emitter: emitter}
}

func (r *Router) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Route acts on the recommended path of the live lead of each input inside the caller's tenant
// transaction tx (the route_outreach jobs' transaction), once per lead.qualified event
// (EventID), and returns the result of each input in order:
//
//   - book_call: priority high (an urgent lead stays urgent; lead.updated), and a "task" activity
//     "Book a call" (dedup key "route:<event id>:task"; lead.activity_added);
//   - nurture: a follow_up_lead job in scheduled_tasks, due after in.FollowUpAfter (dedup key
//     "route:<event id>"; lead.follow_up_scheduled);
//   - disqualify: stage disqualified with the reason, through the stage machine
//     (lead.stage_changed). A lead already disqualified stays as it is; one that has reached a
//     stage from which the move is not allowed is skipped, and so is one a person has engaged
//     meanwhile (contacted, call_booked): disqualification is final, and a model's
//     recommendation never undoes a person's work (the recommendation stays on the lead).
//
// Every write is guarded by a unique key or a state check, so a rerun changes nothing. A lead
// that is gone (deleted), in a final stage, or without a path is skipped: that is an outcome,
// not an error, since retrying would not change it. It takes one statement per step for all the
// inputs: one locks and reads the leads, one raises the priorities and moves the stages
// (lead.StoreWrites), one adds the "book a call" tasks, one schedules the nurture follow-ups, and
// one emits every event. Two inputs about one lead are refused (an error, writing nothing): each
// lead is qualified once, and the caller then routes them one at a time.
func (r *Router) Route(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ins []RouteInput) ([]RouteResult, error) {
	ids := make([]uuid.UUID, len(ins))
	seen := make(map[uuid.UUID]bool, len(ins))
	for i, in := range ins {
		if seen[in.LeadID] {
			return nil, fmt.Errorf("route: lead %s is named twice", in.LeadID)
		}
		seen[in.LeadID], ids[i] = true, in.LeadID
	}
	locked, err := lead.LockLive(ctx, tx, orgID, ids, nil)
	if err != nil {
		return nil, err
	}
	leads := make(map[uuid.UUID]lead.Lead, len(locked))
	for _, l := range locked {
		leads[l.Lead.ID] = l.Lead
	}

	out := make([]RouteResult, len(ins))
	var writes []lead.Write
	var tasks []routeTask
	var followUps []routeFollowUp
	evs := make([][]events.NewEvent, len(ins)) // per input: its events in order, tasks and follow-ups added after their inserts
	for i, in := range ins {
		cur, ok := leads[in.LeadID]
		if !ok {
			out[i] = RouteResult{Path: in.Path, Skipped: "lead not found or deleted"}
			continue
		}
		path := in.Path
		if path == "" && cur.RecommendedPath != nil {
			path = Path(*cur.RecommendedPath)
		}
		if !path.Valid() {
			out[i] = RouteResult{Skipped: "lead has no recommended path"}
			continue
		}
		out[i] = RouteResult{Path: path}
		switch {
		case path != PathDisqualify && cur.Stage.Final():
			out[i].Skipped = fmt.Sprintf("lead is %s", cur.Stage)
		case path == PathBookCall:
			if cur.Priority == lead.PriorityLow || cur.Priority == lead.PriorityNormal {
				high, version := lead.PriorityHigh, cur.Version+1
				writes = append(writes, lead.Write{ID: cur.ID, Priority: &high})
				evs[i] = append(evs[i], lead.NewEvent(orgID, RouteActor, lead.EventUpdated, cur.ID,
					fmt.Sprintf("lead.updated:%s:%d", cur.ID, version), lead.UpdatedPayload{
						Version: version, Changes: map[string]lead.Change{"priority": {From: cur.Priority, To: lead.PriorityHigh}},
					}))
				out[i].Changes = append(out[i].Changes, "priority")
			}
			tasks = append(tasks, routeTask{input: i, lead: cur.ID, eventID: in.EventID})
		case path == PathNurture:
			followUps = append(followUps, routeFollowUp{input: i, lead: cur.ID, eventID: in.EventID, after: in.FollowUpAfter})
		case cur.Stage == lead.StageDisqualified:
			// Qualification (or a person) disqualified it already.
		case cur.Stage == lead.StageContacted || cur.Stage == lead.StageCallBooked:
			out[i].Skipped = fmt.Sprintf("lead is %s: a person has engaged it, so disqualifying it is left to them", cur.Stage)
		case !lead.CanMove(cur.Stage, lead.StageDisqualified):
			out[i].Skipped = fmt.Sprintf("a lead in stage %s cannot be disqualified", cur.Stage)
		default:
			reason := disqualifyReason(cur, in.Reason)
			to, version := lead.StageDisqualified, cur.Version+1
			writes = append(writes, lead.Write{ID: cur.ID, Stage: &to, Reason: &reason})
			evs[i] = append(evs[i], lead.NewEvent(orgID, RouteActor, lead.EventStageChanged, cur.ID,
				fmt.Sprintf("lead.stage_changed:%s:%d", cur.ID, version),
				lead.StageChangedPayload{From: cur.Stage, To: lead.StageDisqualified, Reason: &reason, Version: version}))
			out[i].Changes = append(out[i].Changes, "stage")
		}
	}

	written, err := lead.StoreWrites(ctx, tx, orgID, writes)
	if err != nil {
		return nil, err
	}
	if err := r.insertRouteTasks(ctx, tx, orgID, tasks); err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if t.activity == nil {
			continue
		}
		a := t.activity
		out[t.input].Changes = append(out[t.input].Changes, "task")
		evs[t.input] = append(evs[t.input], lead.NewEvent(orgID, RouteActor, lead.EventActivityAdded, t.lead, "lead.activity_added:"+a.ID.String(),
			lead.ActivityAddedPayload{ActivityID: a.ID, Kind: a.Kind, Subject: a.Subject, OccurredAt: a.OccurredAt}))
	}
	if err := scheduleFollowUps(ctx, tx, orgID, followUps); err != nil {
		return nil, err
	}
	for _, f := range followUps {
		if f.task == uuid.Nil {
			continue
		}
		out[f.input].Changes = append(out[f.input].Changes, "follow_up")
		evs[f.input] = append(evs[f.input], lead.NewEvent(orgID, RouteActor, LeadFollowUpScheduled, f.lead, "lead.follow_up_scheduled:"+f.task.String(),
			FollowUpScheduledPayload{TaskID: f.task, JobType: KindFollowUpLead, RunAt: f.runAt}))
	}
	var all []events.NewEvent
	for _, e := range evs {
		all = append(all, e...)
	}
	if err := lead.AttachRows(all, writes, written); err != nil {
		return nil, err
	}
	if _, err := r.emitter.EmitAll(ctx, tx, all...); err != nil {
		return nil, err
	}
	return out, nil
}

// disqualifyReason is the stage reason of a disqualification by routing: the qualification's
// reason, or a default naming the score, at most lead.MaxReasonLen characters.
func disqualifyReason(cur lead.Lead, reason string) string {
	if reason == "" {
		reason = "Qualification recommends disqualifying this lead"
		if cur.Score != nil {
			reason += fmt.Sprintf(" (score %d)", *cur.Score)
		}
	}
	if r := []rune(reason); len(r) > lead.MaxReasonLen {
		reason = string(r[:lead.MaxReasonLen])
	}
	return reason
}

// routeTask is a "book a call" task to add for the input at index input; activity is the added
// activity, nil when its dedup key existed (a rerun).
type routeTask struct {
	input    int
	lead     uuid.UUID
	eventID  int64
	activity *lead.Activity
}

// insertRouteTasks adds tasks' activities in one statement (lead.AddActivities), setting each
// added one's activity.
func (r *Router) insertRouteTasks(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, tasks []routeTask) error {
	if len(tasks) == 0 {
		return nil
	}
	as := make([]lead.SystemActivity, len(tasks))
	now := r.now().UTC()
	for i, t := range tasks {
		p, err := json.Marshal(map[string]any{"eventId": t.eventID, "path": PathBookCall})
		if err != nil {
			return fmt.Errorf("encode task payload: %w", err)
		}
		as[i] = lead.SystemActivity{
			LeadID: t.lead, Kind: lead.ActivityTask, Subject: BookCallSubject,
			Body: "Qualification recommends booking a call with this lead.", Payload: p, OccurredAt: now,
			CreatedBy: RouteActor, DedupKey: fmt.Sprintf("route:%d:task", t.eventID),
		}
	}
	added, err := lead.AddActivities(ctx, tx, orgID, as)
	if err != nil {
		return fmt.Errorf("add book-a-call tasks: %w", err)
	}
	for i := range tasks {
		tasks[i].activity = added[i]
	}
	return nil
}

// routeFollowUp is a nurture follow-up to schedule for the input at index input, after its delay
// (zero: DefaultNurtureFollowUp); task and runAt are the scheduled task's, uuid.Nil when its
// dedup key existed (a rerun).
type routeFollowUp struct {
	input   int
	lead    uuid.UUID
	eventID int64
	after   time.Duration
	task    uuid.UUID
	runAt   time.Time
}

// scheduleFollowUps schedules fs in one statement, setting each scheduled one's task and runAt.
func scheduleFollowUps(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, fs []routeFollowUp) error {
	if len(fs) == 0 {
		return nil
	}
	leads, payloads, keys, after := make([]string, len(fs)), make([]string, len(fs)), make([]string, len(fs)), make([]int64, len(fs))
	byKey := make(map[string]*routeFollowUp, len(fs))
	for i := range fs {
		f := &fs[i]
		p, err := json.Marshal(FollowUpPayload{LeadID: f.lead, EventID: f.eventID})
		if err != nil {
			return fmt.Errorf("encode follow-up: %w", err)
		}
		delay := f.after
		if delay <= 0 {
			delay = DefaultNurtureFollowUp
		}
		leads[i], payloads[i], keys[i], after[i] = f.lead.String(), string(p), fmt.Sprintf("route:%d", f.eventID), delay.Milliseconds()
		byKey[keys[i]] = f
	}
	err := db.Each(ctx, tx, func(row db.Row) error {
		var key string
		var id uuid.UUID
		var runAt time.Time
		if err := row.Scan(&key, &id, &runAt); err != nil {
			return err
		}
		if f := byKey[key]; f != nil {
			f.task, f.runAt = id, runAt.UTC()
		}
		return nil
	}, scheduleFollowUpsSQL, orgID.String(), KindFollowUpLead, lead.EntityType, leads, payloads, after, keys)
	if err != nil {
		return fmt.Errorf("schedule follow-ups: %w", err)
	}
	return nil
}
