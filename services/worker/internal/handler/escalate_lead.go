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

// EscalateLead is the escalate_lead kind: for the buying_signal.high event of each job
// (call.EscalateLeadArgs) it runs call.Service.Escalate in the job's transaction: the call's
// lead gets priority urgent and an escalation activity, once per call however often the job
// runs (the activity's dedup key decides). Its jobs run alone.
func EscalateLead(calls *call.Service, log *zap.Logger) jobs.Kind {
	if calls == nil || log == nil {
		panic("handler.EscalateLead: nil dependency")
	}
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[call.EscalateLeadArgs]) error {
		for _, j := range js {
			p := j.Args
			var res lead.EscalationResult
			err := tx.Exec(ctx, func(db *gorm.DB) error {
				out, err := calls.Escalate(ctx, db, j.OrgID, []uuid.UUID{*p.EntityID})
				if err == nil {
					res = out[0]
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("escalate lead of call %s: %w", p.EntityID, err)
			}
			fields := []zap.Field{
				zap.Int64("job_id", j.ID), zap.String("org_id", j.OrgID.String()),
				zap.String("call_id", p.EntityID.String()), zap.Int64("event_id", p.EventID),
			}
			if !res.Escalated {
				log.Info("lead not escalated", append(fields, zap.String("reason", res.Skipped))...)
				continue
			}
			log.Info("lead escalated", append(fields, zap.Bool("priority_changed", res.PriorityChanged))...)
		}
		return nil
	})
}
