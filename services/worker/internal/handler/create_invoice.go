package handler

import (
	"github.com/google/uuid"
	"go.uber.org/zap"

	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
)

// CreateInvoice is the create_invoice kind: for the deal.won event of each job
// (invoice.CreateInvoiceArgs) it invoices the deal (invoice.Service.Create) in the batch's
// transaction, which also completes the jobs, so the invoices' numbers are taken and kept with
// the invoices or given back with a failed batch: gapless. Its jobs share a transaction (the work
// only reads and writes the database; rendering is CPU), so a batch takes its numbers in one
// statement. A deal invoiced already, gone or not won is logged and its job completed: retrying
// would change nothing.
func CreateInvoice(invoices *invoice.Service, log *zap.Logger) jobs.Kind {
	if invoices == nil {
		panic("handler.CreateInvoice: nil dependency")
	}
	return causedKind[invoice.CreateInvoiceArgs](caused[invoice.Won, invoice.CreateResult]{
		work: "create %d invoices", entity: "deal_id",
		in:  func(eventID int64, id uuid.UUID) invoice.Won { return invoice.Won{EventID: eventID, DealID: id} },
		use: invoices.Create,
		outcome: func(r invoice.CreateResult) (string, []zap.Field) {
			return r.Skipped, []zap.Field{zap.String("invoice_id", r.Invoice.ID.String()), zap.String("number", r.Invoice.Number)}
		},
		made: "deal invoiced", skipped: "deal not invoiced",
	}, log)
}
