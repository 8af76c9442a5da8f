package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
)

// NudgeDeal returns the nudge_deal handler: for the deal.stalled event of its payload
// (events.JobPayload about a deal, data deal.StalledPayload) it nudges the deal's lead once per
// stall (deal.Service.Nudge: a nudge activity and a priority step, keyed in the database on
// the deal and its stage_changed_at) and completes the job in the same tenant transaction, so a
// job run twice nudges once. A deal that is closed, gone, or has changed stage since it stalled
// is logged and the job completed: retrying would change nothing.
func NudgeDeal(deals *deal.Service, log *zap.Logger) jobs.Handler {
	if deals == nil || log == nil {
		panic("handler.NudgeDeal: nil dependency")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		var p events.JobPayload
		if err := decodePayload(run, &p); err != nil {
			return err
		}
		if p.EntityID == nil || p.EntityType != deal.EntityType {
			return jobs.Permanentf("nudge_deal: event %d is not about a deal", p.EventID)
		}
		var since *time.Time
		var data deal.StalledPayload
		if len(p.Data) > 0 && json.Unmarshal(p.Data, &data) == nil && !data.StageChangedAt.IsZero() {
			since = &data.StageChangedAt
		}
		var res deal.NudgeResult
		err := run.CompleteInTx(ctx, func(tx *gorm.DB) error {
			out, err := deals.Nudge(ctx, tx, run.Job.OrgID, []deal.Stall{{DealID: *p.EntityID, Since: since}})
			if err == nil {
				res = out[0]
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("nudge deal %s: %w", *p.EntityID, err)
		}
		fields := []zap.Field{
			zap.Int64("job_id", run.Job.ID), zap.String("org_id", run.Job.OrgID.String()),
			zap.String("deal_id", p.EntityID.String()), zap.Int64("event_id", p.EventID),
			zap.Bool("nudged", res.Nudged), zap.String("priority", string(res.Priority)),
		}
		if res.Skipped != "" {
			log.Info("deal not nudged", append(fields, zap.String("reason", res.Skipped))...)
			return nil
		}
		log.Debug("deal nudged", fields...)
		return nil
	}
}
