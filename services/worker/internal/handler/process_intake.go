package handler

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
)

// ProcessIntake is the process_intake kind: it turns the raw intake rows of its jobs
// (intake.ProcessIntakeJob) into leads, touchpoints or rejections through
// intake.Processor.Process, one statement per step for all of a batch's rows, in the jobs'
// transaction. A rejection is a completed job, not an error: the reason is on the raw row. Its
// jobs share transactions; a batch that fails (a row gone, or named twice) runs again job by
// job, where a raw row that no longer exists (pruned) is a permanent error.
func ProcessIntake(proc *intake.Processor, log *zap.Logger) jobs.Kind {
	if proc == nil || log == nil {
		panic("handler.ProcessIntake: nil dependency")
	}
	return jobs.NewKind(jobs.Shared, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[intake.ProcessIntakeJob]) error {
		ids := make([]uuid.UUID, len(js))
		for i, j := range js {
			ids[i] = j.Args.IntakeID
		}
		var res []intake.Result
		err := tx.Exec(ctx, func(db *gorm.DB) error {
			var err error
			res, err = proc.Process(ctx, db, tx.Org(), ids)
			return err
		})
		if len(js) == 1 && apperr.CodeOf(err) == apperr.NotFound {
			return jobs.Permanent(fmt.Errorf("process intake %s: %w", ids[0], err))
		}
		if err != nil {
			return fmt.Errorf("process %d intake rows: %w", len(ids), err)
		}
		for i, j := range js {
			logIntake(log, j.Job, ids[i], res[i])
		}
		return nil
	})
}

// logIntake logs what process_intake did with the raw row intakeID of job.
func logIntake(log *zap.Logger, job *jobs.Job, intakeID uuid.UUID, res intake.Result) {
	fields := []zap.Field{
		zap.Int64("job_id", job.ID), zap.String("org_id", job.OrgID.String()),
		zap.String("intake_id", intakeID.String()), zap.String("status", string(res.Status)),
		zap.Bool("already_done", res.AlreadyDone),
	}
	if res.LeadID != nil {
		fields = append(fields, zap.String("lead_id", res.LeadID.String()))
	}
	if res.Status == intake.SubmissionRejected {
		fields = append(fields, zap.String("reject_reason", res.RejectReason))
	}
	log.Debug("intake processed", fields...)
}
