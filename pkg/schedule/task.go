package schedule

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/events"
)

// The entity types of the events about schedules.
const (
	CronTaskEntity      events.Entity = "cron_task"
	ScheduledTaskEntity events.Entity = "scheduled_task"
)

// The event types of the changes people make to schedules. No job is mapped to them: they are
// the record of who changed what.
const (
	// EventCronTaskUpdated records a change of a cron task's expression, zone or enabled flag.
	EventCronTaskUpdated = "cron_task.updated"
	// EventScheduledTaskCancelled records a pending one-off task cancelled before it ran.
	EventScheduledTaskCancelled = "scheduled_task.cancelled"
)

// CronTask is a recurring task of an org as the API shows it.
type CronTask struct {
	ID       uuid.UUID `json:"id"`
	Name     string    `json:"name"`
	JobType  string    `json:"jobType"`
	CronExpr string    `json:"cronExpr"`
	Timezone string    `json:"timezone"`
	Enabled  bool      `json:"enabled"`
	// Payload is the job payload of each fire, to which the slot is added ({"slot": RFC 3339}).
	Payload json.RawMessage `json:"payload"`
	// LastSlotAt is the slot up to which the task's slots are accounted for: the last one fired,
	// or the last one that had passed when its schedule was changed or it was enabled.
	LastSlotAt *time.Time `json:"lastSlotAt"`
	// NextSlotAt is the slot the scheduler fires next (NextSlot); nil when the task is disabled
	// or its schedule matches no time.
	NextSlotAt *time.Time `json:"nextSlotAt"`
}

// CronPatch is a change of a cron task: only the members given change; at least one is given.
type CronPatch struct {
	CronExpr *string
	Timezone *string
	Enabled  *bool
}

// cronSettings are the members of a cron task that a CronPatch changes, as the event records
// them.
type cronSettings struct {
	CronExpr string `json:"cronExpr"`
	Timezone string `json:"timezone"`
	Enabled  bool   `json:"enabled"`
}

// CronTaskUpdatedPayload is the payload of cron_task.updated.
type CronTaskUpdatedPayload struct {
	From cronSettings `json:"from"`
	To   cronSettings `json:"to"`
	// LastSlotAt is where the task's slots are accounted for after the change.
	LastSlotAt *time.Time `json:"lastSlotAt"`
}

// ScheduledTask is a pending one-off task of an org (a follow-up at a given time, say): the job
// the scheduler enqueues at RunAt.
type ScheduledTask struct {
	ID      uuid.UUID       `json:"id"`
	JobType string          `json:"jobType"`
	Payload json.RawMessage `json:"payload"`
	RunAt   time.Time       `json:"runAt"`
	// EntityType and EntityID name what the task is about (lead, deal, ...), when it says.
	EntityType *string    `json:"entityType"`
	EntityID   *uuid.UUID `json:"entityId"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// ScheduledTaskCancelledPayload is the payload of scheduled_task.cancelled.
type ScheduledTaskCancelledPayload struct {
	JobType string    `json:"jobType"`
	RunAt   time.Time `json:"runAt"`
}
