package handler

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/call"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// EscalateLead returns the escalate_lead handler: for the buying_signal.high event of its
// payload (events.JobPayload about a call) it runs call.Service.Escalate in the job's
// CompleteInTx: the call's lead gets priority urgent and an escalation activity, once per call
// however often the job runs (the activity's dedup key decides).
func EscalateLead(calls *call.Service, log *zap.Logger) jobs.Handler {
	if calls == nil || log == nil {
		panic("handler.EscalateLead: nil dependency")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		p, err := callPayload(run)
		if err != nil {
			return err
		}
		var res lead.EscalationResult
		err = run.CompleteInTx(ctx, func(tx *gorm.DB) error {
			out, err := calls.Escalate(ctx, tx, run.Job.OrgID, []uuid.UUID{*p.EntityID})
			if err == nil {
				res = out[0]
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("escalate lead of call %s: %w", p.EntityID, err)
		}
		fields := []zap.Field{
			zap.Int64("job_id", run.Job.ID), zap.String("org_id", run.Job.OrgID.String()),
			zap.String("call_id", p.EntityID.String()), zap.Int64("event_id", p.EventID),
		}
		if !res.Escalated {
			log.Info("lead not escalated", append(fields, zap.String("reason", res.Skipped))...)
			return nil
		}
		log.Info("lead escalated", append(fields, zap.Bool("priority_changed", res.PriorityChanged))...)
		return nil
	}
}
