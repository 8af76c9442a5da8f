package deal

import (
	"fmt"
	"time"

	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
)

// The event types of deals (and EventUpdated, in payload.go).
const (
	EventCreated      = "deal.created"
	EventStageChanged = "deal.stage_changed"
	EventWon          = "deal.won"
	EventLost         = "deal.lost"
	EventStalled      = "deal.stalled"
)

// KindNudgeDeal is the job kind that nudges the lead of a stalled deal.
const KindNudgeDeal = "nudge_deal"

// KindCheckDealDecay is the cron task's job kind that reports stalled deals (DecaySweep).
const KindCheckDealDecay = "check_deal_decay"

// CheckDecayArgs are the arguments of check_deal_decay: the cron slot the sweep measures at
// (the scheduler adds it to the task's payload; zero measures at the database's now).
type CheckDecayArgs struct {
	Slot time.Time `json:"slot"`
}

// Kind is check_deal_decay.
func (CheckDecayArgs) Kind() string { return KindCheckDealDecay }

// NudgeDealArgs are the arguments of nudge_deal: the deal.stalled event that caused it (its data
// is a StalledPayload).
type NudgeDealArgs struct{ events.JobPayload }

// Kind is nudge_deal.
func (NudgeDealArgs) Kind() string { return KindNudgeDeal }

// Check refuses an event that is not about a deal.
func (a NudgeDealArgs) Check() error {
	if a.EntityID == nil || a.EntityType != EntityType {
		return fmt.Errorf("event %d is not about a deal", a.EventID)
	}
	return nil
}

// EventJobs are the jobs the deal events enqueue: a stalled deal is nudged. deal.won is mapped
// by the domains that act on it (pkg/invoice: create_invoice).
func EventJobs() []events.Mapping {
	return []events.Mapping{events.Map(EventStalled, NudgeDealArgs{})}
}

// JobKinds are the deal job kinds.
func JobKinds() []jobs.Args { return []jobs.Args{NudgeDealArgs{}, CheckDecayArgs{}} }

// CronTasks are the recurring tasks every org starts with for the deal kinds: the decay check
// every hour.
func CronTasks() []org.CronTask {
	return []org.CronTask{{Name: "deal decay", JobType: KindCheckDealDecay, Cron: "0 * * * *"}}
}
