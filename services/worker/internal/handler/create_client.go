package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"gorm.io/gorm"

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
	if clients == nil || log == nil {
		panic("handler.CreateClient: nil dependency")
	}
	return jobs.NewKind(jobs.Shared, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[client.CreateClientArgs]) error {
		paids := make([]client.Paid, len(js))
		for i, j := range js {
			paids[i] = client.Paid{EventID: j.Args.EventID, InvoiceID: *j.Args.EntityID}
		}
		var res []client.CreateResult
		err := tx.Exec(ctx, func(db *gorm.DB) error {
			var err error
			res, err = clients.Create(ctx, db, tx.Org(), paids)
			return err
		})
		if err != nil {
			return fmt.Errorf("create %d clients: %w", len(paids), err)
		}
		for i, r := range res {
			fields := []zap.Field{
				zap.Int64("job_id", js[i].ID), zap.String("org_id", js[i].OrgID.String()),
				zap.String("invoice_id", paids[i].InvoiceID.String()), zap.Int64("event_id", paids[i].EventID),
			}
			if r.Skipped != "" {
				log.Info("client not created", append(fields, zap.String("reason", r.Skipped))...)
				continue
			}
			log.Debug("client created", append(fields, zap.String("client_id", r.Client.ID.String()))...)
		}
		return nil
	})
}
