package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	// The zone database travels in the binaries, so that the api, which checks a task's zone,
	// and the scheduler, which evaluates it, know the same zones whatever their hosts have.
	_ "time/tzdata"

	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
)

// Result counts what one Tick enqueued.
type Result struct {
	CronFired       int
	ScheduledQueued int
	// Invalid counts cron tasks skipped because their expression or time zone is broken.
	Invalid int
	// CronRead counts the cron tasks the tick read: those whose next slot had come or had not
	// been computed yet. Between slots it is zero however many tasks there are.
	CronRead int
}

// Scheduler enqueues due cron slots and scheduled tasks.
type Scheduler struct {
	d     *db.DB
	queue *jobs.Queue
	log   *zap.Logger
}

// New returns a Scheduler on d. Its transactions are not scoped to an org: the scheduler is
// system work over the schedules of every org.
func New(d *db.DB, queue *jobs.Queue, log *zap.Logger) *Scheduler {
	if d == nil || queue == nil || log == nil {
		panic("schedule.New: nil dependency")
	}
	return &Scheduler{d: d, queue: queue, log: log}
}

// maxLookback bounds how far back a task's missed slots are searched.
const maxLookback = 31 * 24 * time.Hour

// scheduledBatch bounds the one-off tasks moved by one Tick.
const scheduledBatch = 1000

type cronRow struct {
	OrgID      uuid.UUID
	ID         uuid.UUID
	JobType    string
	CronExpr   string
	Timezone   string
	Payload    []byte
	LastSlotAt *time.Time
	CreatedAt  time.Time
	Now        time.Time
}

// Tick enqueues every cron slot that is due and every scheduled task whose time has come, in
// one transaction: the jobs and the advanced schedule commit together.
func (s *Scheduler) Tick(ctx context.Context) (Result, error) {
	var res Result
	err := s.d.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if res.CronFired, res.Invalid, res.CronRead, err = s.fireCron(ctx, tx); err != nil {
			return err
		}
		res.ScheduledQueued, err = s.moveScheduled(ctx, tx)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("schedule tick: %w", err)
	}
	return res, nil
}

// fireCron enqueues the latest due slot of each enabled cron task whose next slot has come, and
// writes each task it took back with its next slot, one statement for all of them at each step.
// The tasks are taken FOR UPDATE SKIP LOCKED and decided on the locked rows, so a task another
// scheduler is firing is left to it.
func (s *Scheduler) fireCron(ctx context.Context, tx *gorm.DB) (fired, invalid, read int, err error) {
	schedules := parsedSchedules{}
	rows, err := db.Select[cronRow](ctx, tx, dueCronTasksSQL)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("take cron tasks: %w", err)
	}
	if len(rows) == 0 {
		return 0, 0, 0, nil
	}
	var batch []jobs.NewJob
	var orgs, ids []uuid.UUID
	var fires []bool
	var slots, nexts []time.Time
	for _, r := range rows {
		slot, due, next, err := schedules.decide(r.CronExpr, r.Timezone, startOf(r), r.Now)
		if err != nil {
			invalid++
			s.log.Warn("cron task skipped: invalid schedule", zap.Stringer("org_id", r.OrgID),
				zap.Stringer("task_id", r.ID), zap.String("cron_expr", r.CronExpr), zap.Error(err))
		}
		if due {
			key := "cron:" + r.ID.String() + ":" + strconv.FormatInt(slot.Unix(), 10)
			batch = append(batch, jobs.NewJob{OrgID: r.OrgID, Type: r.JobType, Payload: slotPayload(r.Payload, slot), IdempotencyKey: key})
		}
		orgs, ids, fires = append(orgs, r.OrgID), append(ids, r.ID), append(fires, due)
		slots, nexts = append(slots, slot), append(nexts, next)
	}
	if len(batch) > 0 {
		if _, err := s.queue.Enqueue(ctx, tx, batch...); err != nil {
			return 0, 0, 0, fmt.Errorf("enqueue %d cron tasks: %w", len(batch), err)
		}
	}
	if _, err := db.Exec(ctx, tx, advanceCronTasksSQL, db.UUIDs(orgs), db.UUIDs(ids), fires, slots, nexts); err != nil {
		return 0, 0, 0, fmt.Errorf("advance %d cron tasks: %w", len(rows), err)
	}
	return len(batch), invalid, len(rows), nil
}

// recheckAfter is how long a tick leaves a task it cannot compute a next slot for (a broken
// expression or zone, or one that matches no time in the parser's horizon) before reading it
// again: it is logged that often rather than on every tick. A change of its schedule clears
// next_slot_at, so a fix takes effect at the next tick.
const recheckAfter = time.Hour

// parsedSchedules holds the schedules one tick has parsed, by expression and zone: the tasks of
// many orgs share a few schedules, and a zone is loaded from the embedded database each time.
type parsedSchedules map[[2]string]parsedSchedule

type parsedSchedule struct {
	sched cron.Schedule
	loc   *time.Location
	err   error
}

// latest is LatestSlot through the cache.
func (p parsedSchedules) latest(expr, tz string, after, now time.Time) (time.Time, bool, error) {
	k := [2]string{expr, tz}
	ps, ok := p[k]
	if !ok {
		ps.sched, ps.loc, ps.err = parse(expr, tz)
		p[k] = ps
	}
	if ps.err != nil {
		return time.Time{}, false, ps.err
	}
	slot, due := latest(ps.sched, ps.loc, after, now)
	return slot, due, nil
}

// decide is what a tick does with a task whose slots are accounted for up to after, seen at now:
// the latest slot in (after, now] when one is due (fire it), and the slot to store as its
// next_slot_at: the first slot after the fired one, or after both after and now. A broken
// schedule is err, with now+recheckAfter as next.
func (p parsedSchedules) decide(expr, tz string, after, now time.Time) (slot time.Time, due bool, next time.Time, err error) {
	slot, due, err = p.latest(expr, tz, after, now)
	if err != nil {
		return time.Time{}, false, now.Add(recheckAfter).UTC(), err
	}
	if due {
		after = slot
	}
	ps := p[[2]string{expr, tz}]
	next, ok := following(ps.sched, ps.loc, after, now)
	if !ok {
		next = now.Add(recheckAfter).UTC()
	}
	return slot, due, next, nil
}

// following is the first slot after both after and now; ok is false when the schedule matches
// no time in the parser's horizon (five years).
func following(sched cron.Schedule, loc *time.Location, after, now time.Time) (time.Time, bool) {
	// A slot fired by a clock a little ahead of now is past already: look after it.
	from := now
	if after.After(from) {
		from = after
	}
	next := sched.Next(from.In(loc))
	return next.UTC(), !next.IsZero()
}

// startOf is the instant after which a task's next slot is looked for.
func startOf(r cronRow) time.Time { return accountedFrom(r.LastSlotAt, r.CreatedAt) }

// accountedFrom is the instant up to which a task's slots are accounted for: its last_slot_at,
// or its creation when it has none.
func accountedFrom(last *time.Time, created time.Time) time.Time {
	if last != nil {
		return *last
	}
	return created
}

// slotPayload adds the slot to the task's payload object, so a handler knows which period it
// covers ({"slot": RFC 3339}); a payload that is not an object is used as it is.
func slotPayload(payload []byte, slot time.Time) json.RawMessage {
	m := map[string]any{}
	if len(payload) > 0 && json.Unmarshal(payload, &m) != nil {
		return payload
	}
	m["slot"] = slot.UTC().Format(time.RFC3339)
	b, err := json.Marshal(m)
	if err != nil {
		return payload
	}
	return b
}

// LatestSlot returns the latest slot of the 5-field cron expression expr, evaluated in time zone
// tz, that lies in (after, now]; ok is false when there is none. Slots before now-31d are not
// searched.
func LatestSlot(expr, tz string, after, now time.Time) (slot time.Time, ok bool, err error) {
	sched, loc, err := parse(expr, tz)
	if err != nil {
		return time.Time{}, false, err
	}
	slot, ok = latest(sched, loc, after, now)
	return slot, ok, nil
}

// NextSlot returns the slot the scheduler fires next for a task whose slots are accounted for up
// to after (its last_slot_at, or its creation), seen at now: the latest slot in (after, now] when
// one is due (a tick fires it as soon as it runs), else the first slot after both now and after.
// ok is false when the expression matches no time in the parser's horizon (five years). It
// applies LatestSlot's rules, catch-up and lookback included, so that what the API shows is what
// Tick does.
func NextSlot(expr, tz string, after, now time.Time) (slot time.Time, ok bool, err error) {
	sched, loc, err := parse(expr, tz)
	if err != nil {
		return time.Time{}, false, err
	}
	if slot, ok = latest(sched, loc, after, now); ok {
		return slot, true, nil
	}
	slot, ok = following(sched, loc, after, now)
	return slot, ok, nil
}

// latest is LatestSlot on a parsed schedule.
func latest(sched cron.Schedule, loc *time.Location, after, now time.Time) (slot time.Time, ok bool) {
	if floor := now.Add(-maxLookback); after.Before(floor) {
		after = floor
	}
	for next := sched.Next(after.In(loc)); !next.IsZero() && !next.After(now); next = sched.Next(next) {
		slot, ok = next, true
	}
	return slot.UTC(), ok
}

// parse reads a task's expression and zone as the scheduler evaluates them.
func parse(expr, tz string) (cron.Schedule, *time.Location, error) {
	loc, err := ParseZone(tz)
	if err != nil {
		return nil, nil, fmt.Errorf("time zone %q: %w", tz, err)
	}
	sched, err := ParseExpr(expr)
	if err != nil {
		return nil, nil, fmt.Errorf("cron expression %q: %w", expr, err)
	}
	return sched, loc, nil
}

// ParseExpr parses a standard 5-field cron expression (minute hour day-of-month month
// day-of-week; names such as MON and JAN, ranges, lists and steps allowed), the only form
// cron_tasks.cron_expr holds: descriptors (@daily) and a CRON_TZ= prefix are refused, the zone
// being the task's own column. Its error is the parser's reason.
func ParseExpr(expr string) (cron.Schedule, error) {
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields (minute hour day-of-month month day-of-week), found %d", len(fields))
	}
	return cron.ParseStandard(strings.Join(fields, " "))
}

// ParseZone loads the IANA time zone tz. "" and "Local" are refused: either would evaluate a
// schedule in whatever zone the host of the scheduler has.
func ParseZone(tz string) (*time.Location, error) {
	switch {
	case tz == "":
		return nil, errors.New("is empty")
	case tz == "Local":
		return nil, errors.New("names the host's zone; name an IANA zone such as Europe/Berlin")
	case len(tz) > maxZoneLen:
		return nil, fmt.Errorf("is longer than %d characters", maxZoneLen)
	}
	return time.LoadLocation(tz)
}

// maxZoneLen bounds a zone name (the longest IANA names are about 30 characters).
const maxZoneLen = 64

type scheduledRow struct {
	OrgID   uuid.UUID
	ID      uuid.UUID
	JobType string
	Payload []byte
}

// moveScheduled enqueues up to scheduledBatch one-off tasks whose time has come.
func (s *Scheduler) moveScheduled(ctx context.Context, tx *gorm.DB) (int, error) {
	rows, err := db.Select[scheduledRow](ctx, tx, takeDueScheduledSQL, scheduledBatch)
	if err != nil {
		return 0, fmt.Errorf("take due scheduled tasks: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	batch := make([]jobs.NewJob, len(rows))
	for i, r := range rows {
		batch[i] = jobs.NewJob{OrgID: r.OrgID, Type: r.JobType, Payload: json.RawMessage(r.Payload), IdempotencyKey: "scheduled:" + r.ID.String()}
	}
	if _, err := s.queue.Enqueue(ctx, tx, batch...); err != nil {
		return 0, fmt.Errorf("enqueue scheduled tasks: %w", err)
	}
	return len(rows), nil
}
