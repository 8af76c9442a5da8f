package lead

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
)
