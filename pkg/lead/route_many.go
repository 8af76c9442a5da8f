package lead

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
)

// RouteMany is RouteTx for many route_outreach inputs of orgID at once, in the caller's tenant
// transaction tx, with one statement per step for all of them: one locks and reads the leads, one
// raises the priorities and moves the stages (storeLeadWrites), one adds the "book a call" tasks,
// one schedules the nurture follow-ups, and one emits every event. It returns the result of each
// input in order. RouteTx is RouteMany of one input, so both write the same.
//
// Two inputs about one lead are refused (an error, writing nothing): each lead is qualified once,
// and the caller then routes them one at a time.
func (s *Service) RouteMany(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ins []RouteInput) ([]RouteResult, error) {
	ids := make([]uuid.UUID, len(ins))
	seen := make(map[uuid.UUID]bool, len(ins))
	for i, in := range ins {
		if seen[in.LeadID] {
			return nil, fmt.Errorf("route: lead %s is named twice", in.LeadID)
		}
		seen[in.LeadID], ids[i] = true, in.LeadID
	}
	locked, err := lockPipelineLeads(ctx, tx, orgID, ids, nil)
	if err != nil {
		return nil, err
	}
	leads := make(map[uuid.UUID]Lead, len(locked))
	for _, l := range locked {
		leads[l.lead.ID] = l.lead
	}

	out := make([]RouteResult, len(ins))
	var writes []leadWrite
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
			if cur.Priority == PriorityLow || cur.Priority == PriorityNormal {
				high, version := PriorityHigh, cur.Version+1
				writes = append(writes, leadWrite{id: cur.ID, priority: &high})
				evs[i] = append(evs[i], leadEvent(orgID, RouteActor, EventUpdated, cur.ID,
					fmt.Sprintf("lead.updated:%s:%d", cur.ID, version), UpdatedPayload{
						Version: version, Changes: map[string]Change{"priority": {From: cur.Priority, To: PriorityHigh}},
					}))
				out[i].Changes = append(out[i].Changes, "priority")
			}
			tasks = append(tasks, routeTask{input: i, lead: cur.ID, eventID: in.EventID})
		case path == PathNurture:
			followUps = append(followUps, routeFollowUp{input: i, lead: cur.ID, eventID: in.EventID, after: in.FollowUpAfter})
		case cur.Stage == StageDisqualified:
			// Qualification (or a person) disqualified it already.
		case !CanMove(cur.Stage, StageDisqualified):
			out[i].Skipped = fmt.Sprintf("a lead in stage %s cannot be disqualified", cur.Stage)
		default:
			reason := disqualifyReason(cur, in.Reason)
			to, version := StageDisqualified, cur.Version+1
			writes = append(writes, leadWrite{id: cur.ID, stage: &to, reason: &reason})
			evs[i] = append(evs[i], leadEvent(orgID, RouteActor, EventStageChanged, cur.ID,
				fmt.Sprintf("lead.stage_changed:%s:%d", cur.ID, version),
				StageChangedPayload{From: cur.Stage, To: StageDisqualified, Reason: &reason, Version: version}))
			out[i].Changes = append(out[i].Changes, "stage")
		}
	}

	if err := storeLeadWrites(ctx, tx, orgID, writes); err != nil {
		return nil, err
	}
	if err := s.insertRouteTasks(ctx, tx, orgID, tasks); err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if t.activity == nil {
			continue
		}
		a := t.activity
		out[t.input].Changes = append(out[t.input].Changes, "task")
		evs[t.input] = append(evs[t.input], leadEvent(orgID, RouteActor, EventActivityAdded, t.lead, "lead.activity_added:"+a.ID.String(),
			ActivityAddedPayload{ActivityID: a.ID, Kind: a.Kind, Subject: a.Subject, OccurredAt: a.OccurredAt}))
	}
	if err := scheduleFollowUps(ctx, tx, orgID, followUps); err != nil {
		return nil, err
	}
	for _, f := range followUps {
		if f.task == uuid.Nil {
			continue
		}
		out[f.input].Changes = append(out[f.input].Changes, "follow_up")
		evs[f.input] = append(evs[f.input], leadEvent(orgID, RouteActor, LeadFollowUpScheduled, f.lead, "lead.follow_up_scheduled:"+f.task.String(),
			FollowUpScheduledPayload{TaskID: f.task, JobType: KindFollowUpLead, RunAt: f.runAt}))
	}
	var all []events.NewEvent
	for _, e := range evs {
		all = append(all, e...)
	}
	if _, err := s.emitter.EmitAll(ctx, tx, all...); err != nil {
		return nil, err
	}
	return out, nil
}

// disqualifyReason is the stage reason of a disqualification by routing: the qualification's
// reason, or a default naming the score, at most MaxReasonLen characters.
func disqualifyReason(cur Lead, reason string) string {
	if reason == "" {
		reason = "Qualification recommends disqualifying this lead"
		if cur.Score != nil {
			reason += fmt.Sprintf(" (score %d)", *cur.Score)
		}
	}
	if r := []rune(reason); len(r) > MaxReasonLen {
		reason = string(r[:MaxReasonLen])
	}
	return reason
}

// routeTask is a "book a call" task to add for the input at index input; activity is the added
// activity, nil when its dedup key existed (a rerun).
type routeTask struct {
	input    int
	lead     uuid.UUID
	eventID  int64
	activity *Activity
}

// insertRouteTasksSQL adds "book a call" task activities ($2.. parallel arrays) to the org's ($1)
// leads, each once per dedup key, and returns the ones it added.
const insertRouteTasksSQL = `
INSERT INTO lead_activities (org_id, lead_id, kind, subject, body, payload, dedup_key, occurred_at, created_by)
SELECT $1, t.lead_id, 'task', $2, $3, t.payload::jsonb, t.dedup_key, $4, $5
FROM unnest($6::uuid[], $7::text[], $8::text[]) WITH ORDINALITY AS t(lead_id, payload, dedup_key, ord)
ORDER BY t.ord
ON CONFLICT (org_id, dedup_key) DO NOTHING
RETURNING dedup_key, ` + activityColumns

// insertRouteTasks adds tasks' activities in one statement, setting each added one's activity.
func (s *Service) insertRouteTasks(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, tasks []routeTask) error {
	if len(tasks) == 0 {
		return nil
	}
	leads, payloads, keys := make([]string, len(tasks)), make([]string, len(tasks)), make([]string, len(tasks))
	byKey := make(map[string]*routeTask, len(tasks))
	for i := range tasks {
		t := &tasks[i]
		p, err := json.Marshal(map[string]any{"eventId": t.eventID, "path": PathBookCall})
		if err != nil {
			return fmt.Errorf("encode task payload: %w", err)
		}
		leads[i], payloads[i], keys[i] = t.lead.String(), string(p), fmt.Sprintf("route:%d:task", t.eventID)
		byKey[keys[i]] = t
	}
	type addedRow struct {
		DedupKey string `gorm:"column:dedup_key"`
		Activity
	}
	added, err := queryAll[addedRow](ctx, tx, "add book-a-call tasks", insertRouteTasksSQL, orgID.String(), BookCallSubject,
		"Qualification recommends booking a call with this lead.", s.now().UTC(), RouteActor, leads, payloads, keys)
	if err != nil {
		return err
	}
	for i := range added {
		a := &added[i]
		a.utc()
		if t := byKey[a.DedupKey]; t != nil {
			t.activity = &a.Activity
		}
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

// scheduleFollowUpsSQL schedules follow_up_lead jobs ($2: the job type; $3.. parallel arrays) in
// scheduled_tasks for the org's ($1) leads, each once per dedup key, and returns the ones it
// scheduled.
const scheduleFollowUpsSQL = `
INSERT INTO scheduled_tasks (org_id, job_type, payload, run_at, entity_type, entity_id, dedup_key)
SELECT $1, $2, f.payload::jsonb, now() + f.after_ms * interval '1 millisecond', $3, f.lead_id, f.dedup_key
FROM unnest($4::uuid[], $5::text[], $6::bigint[], $7::text[]) WITH ORDINALITY AS f(lead_id, payload, after_ms, dedup_key, ord)
ORDER BY f.ord
ON CONFLICT (org_id, dedup_key) DO NOTHING
RETURNING dedup_key, id, run_at`

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
	rows, err := db.Conn(tx).QueryContext(ctx, scheduleFollowUpsSQL, orgID.String(), KindFollowUpLead, EntityType, leads, payloads, after, keys)
	if err != nil {
		return fmt.Errorf("schedule follow-ups: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var key string
		var id uuid.UUID
		var runAt time.Time
		if err := rows.Scan(&key, &id, &runAt); err != nil {
			return fmt.Errorf("schedule follow-ups: %w", err)
		}
		if f := byKey[key]; f != nil {
			f.task, f.runAt = id, runAt.UTC()
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("schedule follow-ups: %w", err)
	}
	return nil
}
