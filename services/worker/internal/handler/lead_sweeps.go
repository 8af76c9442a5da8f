package handler

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/rules"
)

// OrgDays reads a number of days of an org's rules inside a tenant transaction of that org.
type OrgDays func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID) (int, error)

// SilenceDays is the OrgDays of recalc_ghost_risk: the ghostRiskSilenceDays of the org's rules
// (/settings/rules), read as the other checks read theirs.
func SilenceDays(orgRules org.Setting[rules.Rules]) OrgDays {
	return func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID) (int, error) {
		r, err := orgRules.Get(ctx, tx, orgID)
		return r.GhostRiskSilenceDays, err
	}
}

// RecalcGhostRisk is the recalc_ghost_risk kind: each job sweeps its org as of its slot
// (lead.Service.RecalcGhostRisk) with the silence days silenceDays reads for the org. The sweep
// commits in chunks of its own, not in the job's transaction, and is idempotent per slot and per
// silence period, so a job retried after a failure halfway counts nothing twice. Its jobs run
// alone.
func RecalcGhostRisk(d *db.DB, leads *lead.Service, silenceDays OrgDays, log *zap.Logger) jobs.Kind {
	if d == nil || leads == nil || silenceDays == nil || log == nil {
		panic("handler.RecalcGhostRisk: nil dependency")
	}
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, _ *jobs.Batch, js []jobs.Attempt[lead.RecalcGhostRiskArgs]) error {
		for _, j := range js {
			var days int
			err := d.Tx(ctx, j.OrgID, func(tx *gorm.DB) error {
				var err error
				days, err = silenceDays(ctx, tx, j.OrgID)
				return err
			})
			if err != nil {
				return fmt.Errorf("read ghost risk silence days: %w", err)
			}
			res, err := leads.RecalcGhostRisk(ctx, j.OrgID, j.Args.Slot, days)
			if err != nil {
				return err
			}
			log.Info("ghost risk recalculated", zap.Int64("job_id", j.ID), zap.String("org_id", j.OrgID.String()),
				zap.Time("slot", j.Args.Slot), zap.Int("silence_days", days), zap.Int("chunks", res.Chunks), zap.Int("raised", res.Changed))
		}
		return nil
	})
}

// RecalcAutoPriority is the recalc_auto_priority kind: each job sweeps its org as of its slot with
// the rule table (lead.Service.RecalcAutoPriority with rules). The sweep commits in chunks of its
// own and writes only leads whose priority differs from the table's, so a retried job changes
// nothing twice. Its jobs run alone.
func RecalcAutoPriority(leads *lead.Service, rules lead.PriorityRules, log *zap.Logger) jobs.Kind {
	if leads == nil || log == nil {
		panic("handler.RecalcAutoPriority: nil dependency")
	}
	if err := rules.Check(); err != nil {
		panic("handler.RecalcAutoPriority: " + err.Error())
	}
	return jobs.NewKind(jobs.Alone, func(ctx context.Context, _ *jobs.Batch, js []jobs.Attempt[lead.RecalcAutoPriorityArgs]) error {
		for _, j := range js {
			res, err := leads.RecalcAutoPriority(ctx, j.OrgID, j.Args.Slot, rules)
			if err != nil {
				return err
			}
			log.Info("auto priority recalculated", zap.Int64("job_id", j.ID), zap.String("org_id", j.OrgID.String()),
				zap.Time("slot", j.Args.Slot), zap.Int("chunks", res.Chunks), zap.Int("changed", res.Changed),
				zap.String("walk", res.Walk))
		}
		return nil
	})
}
