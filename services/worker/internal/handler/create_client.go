package handler

import (
	"github.com/google/uuid"
	"go.uber.org/zap"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/jobs"
)

// CreateClient is the create_client kind: for the invoice.paid event of each job
// (client.CreateClientArgs) it makes the invoice's client (client.Service.Create) in the batch's
// transaction, which also completes the jobs, so a client and its client.created exist exactly
// when the job is done. Its jobs share a transaction (the work only reads and writes the
// database). An invoice with a client already, gone or not paid is logged and its job completed:
// retrying would change nothing.
func CreateClient(clients *client.Service, log *zap.Logger) jobs.Kind {
	if clients == nil {
		panic("handler.CreateClient: nil dependency")
	}
	return causedKind[client.CreateClientArgs](caused[client.Paid, client.CreateResult]{
		work: "create %d clients", entity: "invoice_id",
		in:  func(eventID int64, id uuid.UUID) client.Paid { return client.Paid{EventID: eventID, InvoiceID: id} },
		use: clients.Create,
		outcome: func(r client.CreateResult) (string, []zap.Field) {
			return r.Skipped, []zap.Field{zap.String("client_id", r.Client.ID.String())}
		},
		made: "client created", skipped: "client not created",
	}, log)
}
