package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"gorm.io/gorm"

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
	if invoices == nil || log == nil {
		panic("handler.CreateInvoice: nil dependency")
	}
	return jobs.NewKind(jobs.Shared, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[invoice.CreateInvoiceArgs]) error {
		wons := make([]invoice.Won, len(js))
		for i, j := range js {
			wons[i] = invoice.Won{EventID: j.Args.EventID, DealID: *j.Args.EntityID}
		}
		var res []invoice.CreateResult
		err := tx.Exec(ctx, func(db *gorm.DB) error {
			var err error
			res, err = invoices.Create(ctx, db, tx.Org(), wons)
			return err
		})
		if err != nil {
			return fmt.Errorf("create %d invoices: %w", len(wons), err)
		}
		for i, r := range res {
			fields := []zap.Field{
				zap.Int64("job_id", js[i].ID), zap.String("org_id", js[i].OrgID.String()),
				zap.String("deal_id", wons[i].DealID.String()), zap.Int64("event_id", wons[i].EventID),
			}
			if r.Skipped != "" {
				log.Info("deal not invoiced", append(fields, zap.String("reason", r.Skipped))...)
				continue
			}
			log.Debug("deal invoiced", append(fields, zap.String("invoice_id", r.Invoice.ID.String()),
				zap.String("number", r.Invoice.Number))...)
		}
		return nil
	})
}
