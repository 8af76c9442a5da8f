package invoice

import (
	"fmt"

	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
)

// The event types of invoices.
const (
	EventCreated = "invoice.created"
	EventPaid    = "invoice.paid"
	EventVoided  = "invoice.voided"
)

// KindCreateInvoice is the job kind that invoices a won deal.
const KindCreateInvoice = "create_invoice"

// CreateInvoiceArgs are the arguments of create_invoice: the deal.won event that caused it
// (its data is a deal.StageChangedPayload).
type CreateInvoiceArgs struct{ events.JobPayload }

// Kind is create_invoice.
func (CreateInvoiceArgs) Kind() string { return KindCreateInvoice }

// Check refuses an event that is not about a deal.
func (a CreateInvoiceArgs) Check() error {
	if a.EntityID == nil || a.EntityType != deal.EntityType {
		return fmt.Errorf("event %d is not about a deal", a.EventID)
	}
	return nil
}

// EventJobs are the jobs the events of other domains enqueue here: a won deal is invoiced.
func EventJobs() []events.Mapping {
	return []events.Mapping{events.Map(deal.EventWon, CreateInvoiceArgs{})}
}

// JobKinds are the invoice job kinds.
func JobKinds() []jobs.Args { return []jobs.Args{CreateInvoiceArgs{}} }
