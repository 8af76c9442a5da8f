package lead

import (
	"errors"
	"time"

	"example.com/crm/pkg/jobs"
)

// The lead's event types. Every change of a lead emits one; the lead pipeline (pkg/pipeline)
// emits lead.enriched and lead.qualified, and maps lead.created and lead.qualified to its jobs.
const (
	EventCreated       = "lead.created"
	EventEnriched      = "lead.enriched"
	EventQualified     = "lead.qualified"
	EventStageChanged  = "lead.stage_changed"
	EventUpdated       = "lead.updated"
	EventDeleted       = "lead.deleted"
	EventActivityAdded = "lead.activity_added"
	// EventGhostRiskRaised records one silence period counted by recalc_ghost_risk
	// (GhostRiskRaisedPayload). Ghost risk is derived data, like the score: the lead's version
	// does not move, so lead.updated (keyed by version) cannot carry it.
	EventGhostRiskRaised = "lead.ghost_risk_raised"
	// EventPriorityChanged records a priority set by recalc_auto_priority's rule table
	// (PriorityChangedPayload); the priorities people and the other jobs set are lead.updated.
	EventPriorityChanged = "lead.priority_changed"
)

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

// JobKinds are the lead's job kinds: its recurring sweeps.
func JobKinds() []jobs.Args {
	return []jobs.Args{RecalcGhostRiskArgs{}, RecalcAutoPriorityArgs{}}
}
