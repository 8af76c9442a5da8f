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

// ProcessIntake returns the process_intake handler: it turns the raw intake row of its payload
// (intake.ProcessIntakeJob) into a lead, a touchpoint or a rejection (intake.Processor.
// Process) and completes the job in the same tenant transaction (R7, R21). A rejection
// is a completed job, not an error: the reason is on the raw row. A raw row that no longer
// exists (pruned) is a permanent error.
func ProcessIntake(proc *intake.Processor, log *zap.Logger) jobs.Handler {
	if proc == nil || log == nil {
		panic("handler.ProcessIntake: nil dependency")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		var p intake.ProcessIntakeJob
		if err := decodePayload(run, &p); err != nil {
			return err
		}
		var res intake.Result
		err := run.CompleteInTx(ctx, func(tx *gorm.DB) error {
			out, err := proc.Process(ctx, tx, run.Job.OrgID, []uuid.UUID{p.IntakeID})
			if err == nil {
				res = out[0]
			}
			return err
		})
		if apperr.CodeOf(err) == apperr.NotFound {
			return jobs.Permanent(fmt.Errorf("process intake %s: %w", p.IntakeID, err))
		}
		if err != nil {
			return fmt.Errorf("process intake %s: %w", p.IntakeID, err)
		}
		logIntake(log, run, p.IntakeID, res)
		return nil
	}
}

// ProcessIntakeBatch returns the batch handler of process_intake: the raw rows of every job of
// the batch in one intake.Processor.Process, in the batch's transaction. A payload it
// cannot read, a raw row that no longer exists or a row named by two jobs fails the batch, and
// each job then runs alone through ProcessIntake, which says what is wrong with it.
func ProcessIntakeBatch(proc *intake.Processor, log *zap.Logger) jobs.BatchHandler {
	if proc == nil || log == nil {
		panic("handler.ProcessIntakeBatch: nil dependency")
	}
	return func(ctx context.Context, b *jobs.Batch) error {
		ids := make([]uuid.UUID, len(b.Runs()))
		for i, run := range b.Runs() {
			var p intake.ProcessIntakeJob
			if err := decodePayload(run, &p); err != nil {
				return err
			}
			ids[i] = p.IntakeID
		}
		var res []intake.Result
		err := b.Exec(ctx, func(tx *gorm.DB) error {
			var err error
			res, err = proc.Process(ctx, tx, b.Org(), ids)
			return err
		})
		if err != nil {
			return fmt.Errorf("process %d intake rows: %w", len(ids), err)
		}
		for i, run := range b.Runs() {
			logIntake(log, run, ids[i], res[i])
		}
		return nil
	}
}

// logIntake logs what process_intake did with the raw row intakeID of run's job.
func logIntake(log *zap.Logger, run *jobs.Run, intakeID uuid.UUID, res intake.Result) {
	fields := []zap.Field{
		zap.Int64("job_id", run.Job.ID), zap.String("org_id", run.Job.OrgID.String()),
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
