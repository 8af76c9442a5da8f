package events

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
