package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/jobs"
)

// NudgeDeal is the nudge_deal kind: for the deal.stalled event of each job (deal.NudgeDealArgs,
// data deal.StalledPayload) it nudges the deal's lead once per stall (deal.Service.Nudge: a
// nudge activity and a priority step, keyed in the database on the deal and the instant the
// stall's clock started) in the job's transaction, so a job run twice nudges once. A deal that is
// closed, gone, or has changed stage since it stalled is logged and the job completed: retrying
// would change nothing. Its jobs run alone.
func NudgeDeal(deals *deal.Service, log *zap.Logger) jobs.Kind {
	if deals == nil || log == nil {
		panic("handler.NudgeDeal: nil dependency")
	}
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[deal.NudgeDealArgs]) error {
		for _, j := range js {
			p := j.Args
			var since, clock *time.Time
			var data deal.StalledPayload
			if len(p.Data) > 0 && json.Unmarshal(p.Data, &data) == nil {
				if !data.StageChangedAt.IsZero() {
					since = &data.StageChangedAt
				}
				if !data.Since.IsZero() {
					clock = &data.Since
				}
			}
			var res deal.NudgeResult
			err := tx.Exec(ctx, func(db *gorm.DB) error {
				out, err := deals.Nudge(ctx, db, j.OrgID, []deal.Stall{{DealID: *p.EntityID, Since: since, ClockAt: clock}})
				if err == nil {
					res = out[0]
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("nudge deal %s: %w", *p.EntityID, err)
			}
			fields := []zap.Field{
				zap.Int64("job_id", j.ID), zap.String("org_id", j.OrgID.String()),
				zap.String("deal_id", p.EntityID.String()), zap.Int64("event_id", p.EventID),
				zap.Bool("nudged", res.Nudged), zap.String("priority", string(res.Priority)),
			}
			if res.Skipped != "" {
				log.Info("deal not nudged", append(fields, zap.String("reason", res.Skipped))...)
				continue
			}
			log.Debug("deal nudged", fields...)
		}
		return nil
	})
}
