package handler

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// RouteOutreach returns the route_outreach handler: for the lead.qualified event of its payload
// (events.JobPayload) it acts on the lead's recommended path (lead.Service.RouteTx) and
// completes the job in the same tenant transaction. followUpAfter is the delay of a nurture
// follow-up (zero is lead.DefaultNurtureFollowUp). A lead that cannot be routed (gone, final
// stage, no path) is logged and the job completed: retrying would change nothing.
func RouteOutreach(leads *lead.Service, log *zap.Logger, followUpAfter time.Duration) jobs.Handler {
	if leads == nil || log == nil {
		panic("handler.RouteOutreach: nil dependency")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		var p events.JobPayload
		if err := decodePayload(run, &p); err != nil {
			return err
		}
		if p.EntityID == nil || p.EntityType != lead.EntityType {
			return jobs.Permanentf("route_outreach: event %d is not about a lead", p.EventID)
		}
		path, reason := lead.ParseQualified(p.Data)
		in := lead.RouteInput{LeadID: *p.EntityID, EventID: p.EventID, Path: path, Reason: reason, FollowUpAfter: followUpAfter}
		var res lead.RouteResult
		err := run.CompleteInTx(ctx, func(tx *gorm.DB) error {
			var err error
			res, err = leads.RouteTx(ctx, tx, run.Job.OrgID, in)
			return err
		})
		if err != nil {
			return fmt.Errorf("route lead %s: %w", in.LeadID, err)
		}
		fields := []zap.Field{
			zap.Int64("job_id", run.Job.ID), zap.String("org_id", run.Job.OrgID.String()),
			zap.String("lead_id", in.LeadID.String()), zap.Int64("event_id", p.EventID),
			zap.String("path", string(res.Path)), zap.Strings("changes", res.Changes),
		}
		if res.Skipped != "" {
			log.Info("lead not routed", append(fields, zap.String("reason", res.Skipped))...)
			return nil
		}
		log.Debug("lead routed", fields...)
		return nil
	}
}

// FollowUpLead returns the follow_up_lead handler: the nurture follow-up that route_outreach
// scheduled (payload lead.FollowUpPayload). It runs lead.Service.FollowUpTx and completes the
// job in the same tenant transaction.
func FollowUpLead(leads *lead.Service, log *zap.Logger) jobs.Handler {
	if leads == nil || log == nil {
		panic("handler.FollowUpLead: nil dependency")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		var p lead.FollowUpPayload
		if err := decodePayload(run, &p); err != nil {
			return err
		}
		var skipped bool
		err := run.CompleteInTx(ctx, func(tx *gorm.DB) error {
			var err error
			skipped, err = leads.FollowUpTx(ctx, tx, run.Job.OrgID, p, run.Job.IdempotencyKey)
			return err
		})
		if err != nil {
			return fmt.Errorf("follow up lead %s: %w", p.LeadID, err)
		}
		log.Debug("lead followed up", zap.Int64("job_id", run.Job.ID), zap.String("lead_id", p.LeadID.String()),
			zap.Bool("skipped", skipped))
		return nil
	}
}
