package lead

import (
	"errors"
	"time"

	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
)

// The lead's event types. Every change of a lead emits one; the lead pipeline (pkg/pipeline)
// emits lead.enriched and lead.qualified, and maps lead.created and lead.qualified to its jobs.
// check_lead_stale (StaleSweep) emits lead.stale, which no job follows.
const (
	EventCreated       = "lead.created"
	EventEnriched      = "lead.enriched"
	EventQualified     = "lead.qualified"
	EventStageChanged  = "lead.stage_changed"
	EventUpdated       = "lead.updated"
	EventDeleted       = "lead.deleted"
	EventActivityAdded = "lead.activity_added"
	EventStale         = "lead.stale"
	// EventGhostRiskRaised records one silence period counted by recalc_ghost_risk
	// (GhostRiskRaisedPayload). Ghost risk is derived data, like the score: the lead's version
	// does not move, so lead.updated (keyed by version) cannot carry it.
	EventGhostRiskRaised = "lead.ghost_risk_raised"
	// EventPriorityChanged records a priority set by recalc_auto_priority's rule table
	// (PriorityChangedPayload); the priorities people and the other jobs set are lead.updated.
	EventPriorityChanged = "lead.priority_changed"
)

// KindCheckLeadStale is the cron task's job kind that reports stale leads (StaleSweep).
const KindCheckLeadStale = "check_lead_stale"

// CheckStaleArgs are the arguments of check_lead_stale: the cron slot the sweep measures at
// (the scheduler adds it to the task's payload; zero measures at the database's now).
type CheckStaleArgs struct {
	Slot time.Time `json:"slot"`
}

// Kind is check_lead_stale.
func (CheckStaleArgs) Kind() string { return KindCheckLeadStale }

// The job kinds of the lead's recurring sweeps, fired by the org's cron tasks. Each job sweeps
// one org as of its slot, alone (jobs.Alone): the sweep commits chunk by chunk in transactions of
// its own, never in the job's.
const (
	KindRecalcGhostRisk    = "recalc_ghost_risk"
	KindRecalcAutoPriority = "recalc_auto_priority"
)

// The actors of the sweeps' events.
const (
	GhostRiskActor    = "job:" + KindRecalcGhostRisk
	AutoPriorityActor = "job:" + KindRecalcAutoPriority
)

// RecalcGhostRiskArgs are the arguments of recalc_ghost_risk: the cron slot the sweep runs as of
// (the scheduler adds it to the task's payload).
type RecalcGhostRiskArgs struct {
	Slot time.Time `json:"slot"`
}

// Kind is recalc_ghost_risk.
func (RecalcGhostRiskArgs) Kind() string { return KindRecalcGhostRisk }

// Check refuses a payload without a slot.
func (a RecalcGhostRiskArgs) Check() error { return checkSlot(a.Slot) }

// RecalcAutoPriorityArgs are the arguments of recalc_auto_priority: the cron slot the sweep runs
// as of.
type RecalcAutoPriorityArgs struct {
	Slot time.Time `json:"slot"`
}

// Kind is recalc_auto_priority.
func (RecalcAutoPriorityArgs) Kind() string { return KindRecalcAutoPriority }

// Check refuses a payload without a slot.
func (a RecalcAutoPriorityArgs) Check() error { return checkSlot(a.Slot) }

func checkSlot(slot time.Time) error {
	if slot.IsZero() {
		return errors.New("the payload has no slot")
	}
	return nil
}

// JobKinds are the lead's job kinds: its recurring checks (the lead pipeline's kinds are
// pkg/pipeline's).
func JobKinds() []jobs.Args {
	return []jobs.Args{CheckStaleArgs{}, RecalcGhostRiskArgs{}, RecalcAutoPriorityArgs{}}
}

// CronTasks are the recurring tasks every org starts with for the lead kinds: the stale check
// and the priorities every hour, the ghost risk every morning.
func CronTasks() []org.CronTask {
	return []org.CronTask{
		{Name: "lead stale", JobType: KindCheckLeadStale, Cron: "15 * * * *"},
		{Name: "auto priority", JobType: KindRecalcAutoPriority, Cron: "30 * * * *"},
		{Name: "ghost risk", JobType: KindRecalcGhostRisk, Cron: "0 6 * * *"},
	}
}
