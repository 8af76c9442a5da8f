package lead

import (
	"time"

	"example.com/crm/pkg/jobs"
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

// JobKinds are the lead job kinds (the lead pipeline's are pkg/pipeline's).
func JobKinds() []jobs.Args { return []jobs.Args{CheckStaleArgs{}} }
