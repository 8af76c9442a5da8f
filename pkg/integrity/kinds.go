package integrity

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
)

// EntityType is the events.entity_type of the events about an alert: the alert is the entity,
// and its payload names the offending entity (AlertPayload).
const EntityType = "integrity_alert"

// The event types of the watchdog. No job reacts to either: they are the history of the alerts.
const (
	// EventAlert is emitted once per opened alert, key "system.integrity_alert:<alert id>".
	EventAlert = "system.integrity_alert"
	// EventResolved is emitted once per resolved alert, by a run that found the condition gone or
	// by a person (Resolve), key "system.integrity_alert_resolved:<alert id>".
	EventResolved = "system.integrity_alert_resolved"
)

// KindCheckIntegrity is the job kind of the check_integrity cron task.
const KindCheckIntegrity = "check_integrity"

// CheckActor is the actor of what a check run writes.
const CheckActor = "job:" + KindCheckIntegrity

// CheckIntegrityArgs are the arguments of check_integrity: the cron slot it was fired for (the
// scheduler adds it to the payload). A run checks the org as it is when it runs; the slot only
// names the run in the logs.
type CheckIntegrityArgs struct {
	Slot time.Time `json:"slot"`
}

// Kind is check_integrity.
func (CheckIntegrityArgs) Kind() string { return KindCheckIntegrity }

// JobKinds are the watchdog's job kinds.
func JobKinds() []jobs.Args { return []jobs.Args{CheckIntegrityArgs{}} }

// AlertPayload is the payload of system.integrity_alert: the alert as it was opened.
type AlertPayload struct {
	AlertID    uuid.UUID       `json:"alertId"`
	CheckName  string          `json:"checkName"`
	Severity   string          `json:"severity"`
	EntityType *string         `json:"entityType"`
	EntityID   *uuid.UUID      `json:"entityId"`
	Detail     json.RawMessage `json:"detail"`
}

// How an alert was resolved (ResolvedPayload.By).
const (
	ResolvedByCheck = "check"
	ResolvedByHand  = "hand"
)

// ResolvedPayload is the payload of system.integrity_alert_resolved.
type ResolvedPayload struct {
	AlertID    uuid.UUID  `json:"alertId"`
	CheckName  string     `json:"checkName"`
	EntityType *string    `json:"entityType"`
	EntityID   *uuid.UUID `json:"entityId"`
	// By is ResolvedByCheck (a run found the condition gone) or ResolvedByHand.
	By string `json:"by"`
}

// CronTasks are the recurring tasks every org starts with for the watchdog: its checks every ten
// minutes (the grace of its lifecycle checks is longer, so a finding is never a job in flight).
func CronTasks() []org.CronTask {
	return []org.CronTask{{Name: "integrity watchdog", JobType: KindCheckIntegrity, Cron: "*/10 * * * *"}}
}
