package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/jobs"
)

// RenewalReminder is the renewal_reminder kind: one run of the renewal reminder over the job's
// org (client.Service.RemindRenewals), fired by the org's cron task with its slot. The run commits
// in chunks of its own (db.DB.Chunks) and writes nothing in the job's transaction, so the runtime
// completes the job after it returns. Its jobs run alone: one sweep of one org per slot.
func RenewalReminder(clients *client.Service, log *zap.Logger) jobs.Kind {
	if clients == nil || log == nil {
		panic("handler.RenewalReminder: nil dependency")
	}
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, _ *jobs.Batch, js []jobs.Attempt[client.RenewalReminderArgs]) error {
		for _, j := range js {
			rep, err := clients.RemindRenewals(ctx, j.OrgID)
			if err != nil {
				return fmt.Errorf("remind renewals of org %s: %w", j.OrgID, err)
			}
			log.Info("renewals reminded", zap.Int64("job_id", j.ID), zap.String("org_id", j.OrgID.String()),
				zap.Time("slot", j.Args.Slot), zap.String("today", rep.Today), zap.Int("reminded", rep.Reminded),
				zap.Int("chunks", rep.Chunks))
		}
		return nil
	})
}
