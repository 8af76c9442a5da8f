package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// ProcessIntake returns the process_intake handler: it turns the raw intake row of its payload
// (intake.ProcessIntakeJob) into a lead, a touchpoint or a rejection (lead.Service.
// ProcessIntakeTx) and completes the job in the same tenant transaction (R7, R21). A rejection
// is a completed job, not an error: the reason is on the raw row. A raw row that no longer
// exists (pruned) is a permanent error.
func ProcessIntake(leads *lead.Service, log *zap.Logger) jobs.Handler {
	if leads == nil || log == nil {
		panic("handler.ProcessIntake: nil dependency")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		var p intake.ProcessIntakeJob
		if err := decodePayload(run, &p); err != nil {
			return err
		}
		var res lead.IntakeResult
		err := run.CompleteInTx(ctx, func(tx *gorm.DB) error {
			var err error
			res, err = leads.ProcessIntakeTx(ctx, tx, run.Job.OrgID, p.IntakeID)
			return err
		})
		if apperr.CodeOf(err) == apperr.NotFound {
			return jobs.Permanent(fmt.Errorf("process intake %s: %w", p.IntakeID, err))
		}
		if err != nil {
			return fmt.Errorf("process intake %s: %w", p.IntakeID, err)
		}
		fields := []zap.Field{
			zap.Int64("job_id", run.Job.ID), zap.String("org_id", run.Job.OrgID.String()),
			zap.String("intake_id", p.IntakeID.String()), zap.String("status", string(res.Status)),
			zap.Bool("already_done", res.AlreadyDone),
		}
		if res.LeadID != nil {
			fields = append(fields, zap.String("lead_id", res.LeadID.String()))
		}
		if res.Status == lead.IntakeRejected {
			fields = append(fields, zap.String("reject_reason", res.RejectReason))
		}
		log.Debug("intake processed", fields...)
		return nil
	}
}
