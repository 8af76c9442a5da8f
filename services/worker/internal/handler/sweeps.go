package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// CheckDealDecay is the check_deal_decay kind: each job sweeps its org's deals as of its slot
// (deal.DecaySweep), emitting one deal.stalled per stall, which enqueues nudge_deal. The sweep
// commits in chunks of its own transactions and never writes through the job's, so its jobs
// run alone; a rerun of a slot emits nothing twice.
func CheckDealDecay(sweep *deal.DecaySweep, log *zap.Logger) jobs.Kind {
	if sweep == nil || log == nil {
		panic("handler.CheckDealDecay: nil dependency")
	}
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, _ *jobs.Batch, js []jobs.Attempt[deal.CheckDecayArgs]) error {
		for _, j := range js {
			res, err := sweep.Run(ctx, j.OrgID, j.Args.Slot)
			if err != nil {
				return fmt.Errorf("check deal decay: %w", err)
			}
			log.Info("deal decay checked", zap.Int64("job_id", j.ID), zap.String("org_id", j.OrgID.String()),
				zap.Time("at", res.At), zap.Int("chunks", res.Chunks), zap.Int("stalled", res.Found), zap.Int("reported", res.Reported), zap.Int("emitted", res.Emitted))
		}
		return nil
	})
}

// CheckLeadStale is the check_lead_stale kind: each job sweeps its org's leads as of its slot
// (lead.StaleSweep), emitting one lead.stale per stale period. Like CheckDealDecay, it runs
// alone and commits in chunks of its own.
func CheckLeadStale(sweep *lead.StaleSweep, log *zap.Logger) jobs.Kind {
	if sweep == nil || log == nil {
		panic("handler.CheckLeadStale: nil dependency")
	}
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, _ *jobs.Batch, js []jobs.Attempt[lead.CheckStaleArgs]) error {
		for _, j := range js {
			res, err := sweep.Run(ctx, j.OrgID, j.Args.Slot)
			if err != nil {
				return fmt.Errorf("check lead staleness: %w", err)
			}
			log.Info("lead staleness checked", zap.Int64("job_id", j.ID), zap.String("org_id", j.OrgID.String()),
				zap.Time("at", res.At), zap.Int("chunks", res.Chunks), zap.Int("stale", res.Found), zap.Int("reported", res.Reported), zap.Int("emitted", res.Emitted))
		}
		return nil
	})
}
