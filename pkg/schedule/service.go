package schedule

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/page"
)

// Service holds the use cases through which people see and change an org's schedules. They sit
// beside the scheduler because they must read a schedule exactly as Tick does: the same parser,
// the same catch-up rule, the same database clock. Each runs in one tenant transaction.
type Service struct {
	d             *db.DB
	queue         *jobs.Queue
	emitCron      events.EmitFunc
	emitScheduled events.EmitFunc
	known         map[string]bool
}

// NewService returns the use cases on d, enqueuing through queue and emitting through emitter.
// kinds are the job kinds the worker works (catalog.Catalog.KindNames): a task of any other
// kind is neither enabled nor run, since each of its jobs would only be dead-lettered.
func NewService(d *db.DB, queue *jobs.Queue, emitter *events.Emitter, kinds []string) *Service {
	if d == nil || queue == nil || emitter == nil {
		panic("schedule.NewService: nil dependency")
	}
	known := make(map[string]bool, len(kinds))
	for _, k := range kinds {
		known[k] = true
	}
	return &Service{
		d: d, queue: queue, emitCron: emitter.About(CronTaskEntity), emitScheduled: emitter.About(ScheduledTaskEntity),
		known: known,
	}
}

// maxExprLen bounds a cron expression as the API takes it.
const maxExprLen = 200

// taskRow is a row of cronTaskColumns.
type taskRow struct {
	ID         uuid.UUID
	Name       string
	JobType    string
	CronExpr   string
	Timezone   string
	Enabled    bool
	Payload    []byte
	LastSlotAt *time.Time
	CreatedAt  time.Time
	Now        time.Time
}

// task is the row as the API shows it, its next slot computed as Tick would fire it.
func (r taskRow) task() CronTask {
	t := CronTask{
		ID: r.ID, Name: r.Name, JobType: r.JobType, CronExpr: r.CronExpr, Timezone: r.Timezone, Enabled: r.Enabled,
		Payload: json.RawMessage(r.Payload), LastSlotAt: utc(r.LastSlotAt),
	}
	if r.Enabled {
		if slot, ok, err := NextSlot(r.CronExpr, r.Timezone, accountedFrom(r.LastSlotAt, r.CreatedAt), r.Now); err == nil && ok {
			t.NextSlotAt = &slot
		}
	}
	return t
}

func (r taskRow) settings() cronSettings {
	return cronSettings{CronExpr: r.CronExpr, Timezone: r.Timezone, Enabled: r.Enabled}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CronTasks returns the org's cron tasks by name. An org has the few its seed gives it (no
// route creates one), so the list is not paged.
func (s *Service) CronTasks(ctx context.Context, orgID uuid.UUID) ([]CronTask, error) {
	out := []CronTask{}
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		rows, err := db.Select[taskRow](ctx, tx, listCronTasksSQL, orgID)
		for _, r := range rows {
			out = append(out, r.task())
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list cron tasks: %w", err)
	}
	return out, nil
}

// UpdateCronTask changes the cron task id's expression, zone or enabled flag and emits
// cron_task.updated; a patch that changes nothing writes nothing.
//
// A new schedule takes effect from the change on: when the task ends up enabled and its
// expression or zone changed, or it was disabled, its last_slot_at moves to the latest slot of
// the new schedule that has already passed (LatestSlot, as Tick computes it). So Tick fires
// nothing for a slot before the change, neither a burst nor the one catch-up slot; the task
// fires next at its first slot after the change. Its next_slot_at, which a tick reads the task by, is set
// to that slot in the same statement.
//
// An expression or zone that does not parse is apperr.Invalid naming the field with the
// parser's reason; an empty patch is apperr.Invalid; enabling a task whose job kind the worker
// does not have is apperr.Conflict; a missing task apperr.NotFound.
func (s *Service) UpdateCronTask(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, p CronPatch) (CronTask, error) {
	if p.CronExpr == nil && p.Timezone == nil && p.Enabled == nil {
		return CronTask{}, apperr.Errorf(apperr.Invalid, "a change needs at least one of cronExpr, timezone, enabled")
	}
	var expr string
	var fields []apperr.FieldError
	if p.CronExpr != nil {
		expr = strings.Join(strings.Fields(*p.CronExpr), " ")
		if fe := checkExpr(*p.CronExpr); fe != nil {
			fields = append(fields, *fe)
		}
	}
	if p.Timezone != nil {
		if _, err := ParseZone(*p.Timezone); err != nil {
			fields = append(fields, apperr.FieldError{Field: "timezone", Message: "is not a time zone: " + err.Error()})
		}
	}
	if len(fields) > 0 {
		return CronTask{}, apperr.Errorf(apperr.Invalid, "the schedule does not parse").WithFields(fields...)
	}
	var out CronTask
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		row, err := s.getTask(ctx, tx, orgID, id, true)
		if err != nil {
			return err
		}
		if p.Enabled != nil && *p.Enabled && !s.known[row.JobType] {
			return unknownKind(row.JobType, "enabled")
		}
		from, to := row.settings(), row.settings()
		if p.CronExpr != nil {
			to.CronExpr = expr
		}
		if p.Timezone != nil {
			to.Timezone = *p.Timezone
		}
		if p.Enabled != nil {
			to.Enabled = *p.Enabled
		}
		if to == from {
			out = row.task()
			return nil
		}
		last := row.LastSlotAt
		if to.Enabled && (to.CronExpr != from.CronExpr || to.Timezone != from.Timezone || !from.Enabled) {
			slot, ok, err := LatestSlot(to.CronExpr, to.Timezone, accountedFrom(row.LastSlotAt, row.CreatedAt), row.Now)
			if err != nil {
				// Only a stored schedule can be broken here (the patch's members were checked):
				// enabling it is refused until it is fixed.
				return apperr.Wrap(err, apperr.Invalid, "the task's schedule does not parse: "+err.Error())
			}
			if ok {
				last = &slot
			}
		}
		// The slot a tick looks at next: none is due after the move above, so it is the first
		// slot after the change (NULL, for the tick to compute, when disabled or matching nothing).
		var next *time.Time
		if to.Enabled {
			if slot, ok, err := NextSlot(to.CronExpr, to.Timezone, accountedFrom(last, row.CreatedAt), row.Now); err == nil && ok {
				next = &slot
			}
		}
		if _, err := db.Exec(ctx, tx, updateCronTaskSQL, orgID, id, to.CronExpr, to.Timezone, to.Enabled, last, next); err != nil {
			return fmt.Errorf("update cron task: %w", err)
		}
		row.CronExpr, row.Timezone, row.Enabled, row.LastSlotAt = to.CronExpr, to.Timezone, to.Enabled, last
		out = row.task()
		return s.emitCron(ctx, tx, orgID, actor, EventCronTaskUpdated, id, EventCronTaskUpdated+":"+uuid.NewString(),
			CronTaskUpdatedPayload{From: from, To: to, LastSlotAt: utc(last)})
	})
	if err != nil {
		return CronTask{}, fmt.Errorf("update cron task: %w", err)
	}
	return out, nil
}

// checkExpr checks a cron expression as the API takes it: within maxExprLen, parsed by
// ParseExpr, and matching some time within the parser's horizon (five years).
func checkExpr(expr string) *apperr.FieldError {
	if len(expr) > maxExprLen {
		return &apperr.FieldError{Field: "cronExpr", Message: fmt.Sprintf("must have at most %d characters", maxExprLen)}
	}
	sched, err := ParseExpr(expr)
	if err != nil {
		return &apperr.FieldError{Field: "cronExpr", Message: "is not a cron expression: " + err.Error()}
	}
	if sched.Next(time.Now()).IsZero() {
		return &apperr.FieldError{Field: "cronExpr", Message: "matches no time in the next five years"}
	}
	return nil
}

// RunCronTask enqueues one run of the cron task id now, whether it is enabled or not, with the
// payload a tick gives it (the slot being the database's now, to the second), and returns the
// job's id. requestKey, the request's Idempotency-Key, makes the job's idempotency key: the same
// key for the same task answers the job it enqueued the first time; without one every call
// enqueues a job. A task whose job kind the worker does not have is apperr.Conflict.
func (s *Service) RunCronTask(ctx context.Context, orgID, id uuid.UUID, requestKey string) (int64, error) {
	key := "run:" + id.String() + ":auto:" + uuid.NewString()
	if requestKey != "" {
		key = "run:" + id.String() + ":key:" + requestKey
	}
	var jobID int64
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		row, err := s.getTask(ctx, tx, orgID, id, false)
		if err != nil {
			return err
		}
		if !s.known[row.JobType] {
			return unknownKind(row.JobType, "run")
		}
		slot := row.Now.UTC().Truncate(time.Second)
		ids, err := s.queue.Enqueue(ctx, tx, jobs.NewJob{OrgID: orgID, Type: row.JobType, Payload: slotPayload(row.Payload, slot), IdempotencyKey: key})
		if err != nil {
			return fmt.Errorf("enqueue run: %w", err)
		}
		if len(ids) == 1 {
			jobID = ids[0]
			return nil
		}
		found, ok, err := db.Get[int64](ctx, tx, jobByKeySQL, orgID, row.JobType, key)
		if err != nil {
			return fmt.Errorf("find enqueued run: %w", err)
		}
		if !ok {
			// Pruned since: the key's first run is long finished and forgotten.
			return apperr.Errorf(apperr.Conflict, "the run of this Idempotency-Key has been pruned; use another key")
		}
		jobID = found
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("run cron task: %w", err)
	}
	return jobID, nil
}

// getTask reads the org's cron task id (locked when lock is true); a missing one is NotFound.
func (s *Service) getTask(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, lock bool) (taskRow, error) {
	q := getCronTaskSQL
	if lock {
		q = lockCronTaskSQL
	}
	row, ok, err := db.Get[taskRow](ctx, tx, q, orgID, id)
	if err != nil {
		return taskRow{}, fmt.Errorf("read cron task: %w", err)
	}
	if !ok {
		return taskRow{}, apperr.Errorf(apperr.NotFound, "cron task %s not found", id)
	}
	return row, nil
}

// unknownKind refuses to enable or run a task of a job kind that nothing works.
func unknownKind(jobType, what string) error {
	return apperr.Errorf(apperr.Conflict, "job type %s has no worker yet: a %s task's jobs would only be dead-lettered", jobType, what).
		With("jobType", jobType)
}

// pendingRow is a row of listScheduledSQL.
type pendingRow struct {
	ID         uuid.UUID
	JobType    string
	Payload    []byte
	RunAt      time.Time
	EntityType *string
	EntityID   *uuid.UUID
	CreatedAt  time.Time
}

func (r pendingRow) task() ScheduledTask {
	return ScheduledTask{
		ID: r.ID, JobType: r.JobType, Payload: json.RawMessage(r.Payload), RunAt: r.RunAt.UTC(),
		EntityType: r.EntityType, EntityID: r.EntityID, CreatedAt: r.CreatedAt.UTC(),
	}
}

// pendingKeyset is the order of ScheduledTasks: the soonest first, ties by id.
var pendingKeyset = page.Asc(
	page.Time("s.run_at", "r", func(v ScheduledTask) time.Time { return v.RunAt }),
	page.UUID("s.id", "i", func(v ScheduledTask) uuid.UUID { return v.ID }),
)

// ScheduledTasks returns a page of the org's pending one-off tasks, the soonest first. A cursor
// of another list is apperr.BadRequest.
func (s *Service) ScheduledTasks(ctx context.Context, orgID uuid.UUID, p page.Request) (page.Page[ScheduledTask], error) {
	var a db.Args
	q := listScheduledSQL
	a.Add(db.UUID(orgID))
	tail, err := pendingKeyset.Tail(p.Cursor, p.Limit, &a)
	if err != nil {
		return page.Page[ScheduledTask]{}, fmt.Errorf("list scheduled tasks: %w", err)
	}
	out := []ScheduledTask{}
	err = s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		rows, err := db.Select[pendingRow](ctx, tx, q+tail, a...)
		for _, r := range rows {
			out = append(out, r.task())
		}
		return err
	})
	if err != nil {
		return page.Page[ScheduledTask]{}, fmt.Errorf("list scheduled tasks: %w", err)
	}
	return pendingKeyset.Page(out, p.Limit), nil
}

// cancelledRow is a row of cancelScheduledSQL.
type cancelledRow struct {
	JobType string
	RunAt   time.Time
}

// CancelScheduledTask cancels the org's pending one-off task id, so that it never runs, and
// emits scheduled_task.cancelled. A task the scheduler has already turned into a job is
// apperr.Conflict (the job is in the queue: GET /observability/jobs); a missing or already
// cancelled one apperr.NotFound, as the list no longer shows it.
func (s *Service) CancelScheduledTask(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID) error {
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		row, ok, err := db.Get[cancelledRow](ctx, tx, cancelScheduledSQL, orgID, id)
		if err != nil {
			return fmt.Errorf("cancel scheduled task: %w", err)
		}
		if !ok {
			status, found, err := db.Get[string](ctx, tx, scheduledStatusSQL, orgID, id)
			if err != nil {
				return fmt.Errorf("read scheduled task: %w", err)
			}
			if !found || status == "cancelled" {
				return apperr.Errorf(apperr.NotFound, "scheduled task %s not found", id)
			}
			return apperr.Errorf(apperr.Conflict, "scheduled task %s is %s: it has been handed to the job queue", id, status).
				With("taskStatus", status)
		}
		return s.emitScheduled(ctx, tx, orgID, actor, EventScheduledTaskCancelled, id, EventScheduledTaskCancelled+":"+id.String(),
			ScheduledTaskCancelledPayload{JobType: row.JobType, RunAt: row.RunAt.UTC()})
	})
	if err != nil {
		return fmt.Errorf("cancel scheduled task: %w", err)
	}
	return nil
}
