package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"example.com/crm/pkg/integrity"
	"example.com/crm/pkg/jobs"
)

// CheckIntegrity is the check_integrity kind: one run of the watchdog over the job's org
// (integrity.Service.Check), fired by the org's cron task with its slot. The run commits in
// chunks of its own (db.DB.Chunks) and writes nothing in the job's transaction, so the runtime
// completes the job after it returns. Its jobs run alone: one sweep of one org per slot.
func CheckIntegrity(watchdog *integrity.Service, log *zap.Logger) jobs.Kind {
	if watchdog == nil || log == nil {
		panic("handler.CheckIntegrity: nil dependency")
	}
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, _ *jobs.Batch, js []jobs.Attempt[integrity.CheckIntegrityArgs]) error {
		for _, j := range js {
			rep, err := watchdog.Check(ctx, j.OrgID)
			if err != nil {
				return fmt.Errorf("check integrity of org %s: %w", j.OrgID, err)
			}
			log.Info("integrity checked", zap.Int64("job_id", j.ID), zap.String("org_id", j.OrgID.String()),
				zap.Time("slot", j.Args.Slot), zap.Any("opened", rep.Opened), zap.Any("resolved", rep.Resolved),
				zap.Int("chunks", rep.Chunks))
		}
		return nil
	})
}
