package events

import "example.com/crm/pkg/jobs"

// Event types of DESIGN.md. Every state change emits one.
const (
	LeadCreated         = "lead.created"
	LeadEnriched        = "lead.enriched"
	LeadQualified       = "lead.qualified"
	LeadStale           = "lead.stale"
	LeadStageChanged    = "lead.stage_changed"
	LeadUpdated         = "lead.updated"
	LeadDeleted         = "lead.deleted"
	LeadActivityAdded   = "lead.activity_added"
	CallBooked          = "call.booked"
	CallCompleted       = "call.completed"
	CallNoShow          = "call.no_show"
	CallCancelled       = "call.cancelled"
	BuyingSignalHigh    = "buying_signal.high"
	DealCreated         = "deal.created"
	DealStageChanged    = "deal.stage_changed"
	DealWon             = "deal.won"
	DealLost            = "deal.lost"
	DealStalled         = "deal.stalled"
	InvoiceCreated      = "invoice.created"
	InvoicePaid         = "invoice.paid"
	ContractGenerated   = "contract.generated"
	ClientCreated       = "client.created"
	ClientStatusChanged = "client.status_changed"
	IntegrityAlert      = "system.integrity_alert"
	SystemNoop          = "system.noop"
)

// Event types of intake source changes (pkg/intake). Their payloads never hold a secret.
const (
	IntakeSourceCreated       = "intake_source.created"
	IntakeSourceUpdated       = "intake_source.updated"
	IntakeSourceDeleted       = "intake_source.deleted"
	IntakeSourceSecretRotated = "intake_source.secret_rotated"
)

// JobMap is EVENT_JOB_MAP: the jobs that each event type enqueues, in the emitting transaction.
// An event type that is absent triggers nothing.
var JobMap = map[string][]string{
	LeadCreated:      {jobs.TypeEnrichLead, jobs.TypeQualifyLead},
	LeadQualified:    {jobs.TypeRouteOutreach},
	CallCompleted:    {jobs.TypeAnalyzeCall},
	BuyingSignalHigh: {jobs.TypeEscalateLead},
	DealWon:          {jobs.TypeCreateInvoice, jobs.TypeGenerateContract},
	DealStalled:      {jobs.TypeNudgeDeal},
	InvoicePaid:      {jobs.TypeCreateClient},
	ClientCreated:    {jobs.TypeStartOnboarding},
	// system.noop exists for smoke checks and benchmarks of the event path.
	SystemNoop: {jobs.TypeNoop},
}
