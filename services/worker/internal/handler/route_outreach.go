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
	"example.com/crm/pkg/pipeline"
)

// RouteOutreach returns the route_outreach handler: for the lead.qualified event of its payload
// (events.JobPayload) it acts on the lead's recommended path (pipeline.Router.Route) and
// completes the job in the same tenant transaction. followUpAfter is the delay of a nurture
// follow-up (zero is pipeline.DefaultNurtureFollowUp). A lead that cannot be routed (gone, final
// stage, no path) is logged and the job completed: retrying would change nothing.
func RouteOutreach(router *pipeline.Router, log *zap.Logger, followUpAfter time.Duration) jobs.Handler {
	if router == nil || log == nil {
		panic("handler.RouteOutreach: nil dependency")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		in, err := routeInput(run, followUpAfter)
		if err != nil {
			return err
		}
		var res pipeline.RouteResult
		err = run.CompleteInTx(ctx, func(tx *gorm.DB) error {
			out, err := router.Route(ctx, tx, run.Job.OrgID, []pipeline.RouteInput{in})
			if err == nil {
				res = out[0]
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("route lead %s: %w", in.LeadID, err)
		}
		logRouted(log, run, in, res)
		return nil
	}
}

// RouteOutreachBatch returns the batch handler of route_outreach: pipeline.Router.Route over
// the batch's jobs in its transaction, one statement per step for all of their leads.
func RouteOutreachBatch(router *pipeline.Router, log *zap.Logger, followUpAfter time.Duration) jobs.BatchHandler {
	if router == nil || log == nil {
		panic("handler.RouteOutreachBatch: nil dependency")
	}
	return func(ctx context.Context, b *jobs.Batch) error {
		ins := make([]pipeline.RouteInput, len(b.Runs()))
		for i, run := range b.Runs() {
			var err error
			if ins[i], err = routeInput(run, followUpAfter); err != nil {
				return err
			}
		}
		var res []pipeline.RouteResult
		err := b.Exec(ctx, func(tx *gorm.DB) error {
			var err error
			res, err = router.Route(ctx, tx, b.Org(), ins)
			return err
		})
		if err != nil {
			return fmt.Errorf("route %d leads: %w", len(ins), err)
		}
		for i, run := range b.Runs() {
			logRouted(log, run, ins[i], res[i])
		}
		return nil
	}
}

// routeInput reads a route_outreach job's payload: the lead.qualified event it was enqueued
// for. A payload that is not that is permanent.
func routeInput(run *jobs.Run, followUpAfter time.Duration) (pipeline.RouteInput, error) {
	var p events.JobPayload
	if err := decodePayload(run, &p); err != nil {
		return pipeline.RouteInput{}, err
	}
	if p.EntityID == nil || p.EntityType != lead.EntityType {
		return pipeline.RouteInput{}, jobs.Permanentf("route_outreach: event %d is not about a lead", p.EventID)
	}
	path, reason := pipeline.ParseQualified(p.Data)
	return pipeline.RouteInput{LeadID: *p.EntityID, EventID: p.EventID, Path: path, Reason: reason, FollowUpAfter: followUpAfter}, nil
}

// logRouted logs what routing did: a skipped lead at info, a routed one at debug.
func logRouted(log *zap.Logger, run *jobs.Run, in pipeline.RouteInput, res pipeline.RouteResult) {
	fields := []zap.Field{
		zap.Int64("job_id", run.Job.ID), zap.String("org_id", run.Job.OrgID.String()),
		zap.String("lead_id", in.LeadID.String()), zap.Int64("event_id", in.EventID),
		zap.String("path", string(res.Path)), zap.Strings("changes", res.Changes),
	}
	if res.Skipped != "" {
		log.Info("lead not routed", append(fields, zap.String("reason", res.Skipped))...)
		return
	}
	log.Debug("lead routed", fields...)
}

// FollowUpLead returns the follow_up_lead handler: the nurture follow-up that route_outreach
// scheduled (payload pipeline.FollowUpPayload). It runs pipeline.Router.FollowUp and completes the
// job in the same tenant transaction.
func FollowUpLead(router *pipeline.Router, log *zap.Logger) jobs.Handler {
	if router == nil || log == nil {
		panic("handler.FollowUpLead: nil dependency")
	}
	return func(ctx context.Context, run *jobs.Run) error {
		var p pipeline.FollowUpPayload
		if err := decodePayload(run, &p); err != nil {
			return err
		}
		var skipped bool
		err := run.CompleteInTx(ctx, func(tx *gorm.DB) error {
			out, err := router.FollowUp(ctx, tx, run.Job.OrgID, []pipeline.FollowUpPayload{p}, []string{run.Job.IdempotencyKey})
			if err == nil {
				skipped = out[0]
			}
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

// FollowUpLeadBatch returns the batch handler of follow_up_lead: every follow-up of the batch
// in one pipeline.Router.FollowUp, in the batch's transaction, which locks their leads in the
// order of the ids first. A payload it cannot read fails the batch, and each job then runs
// alone through FollowUpLead, which says what is wrong with it.
func FollowUpLeadBatch(router *pipeline.Router, log *zap.Logger) jobs.BatchHandler {
	if router == nil || log == nil {
		panic("handler.FollowUpLeadBatch: nil dependency")
	}
	return func(ctx context.Context, b *jobs.Batch) error {
		ps := make([]pipeline.FollowUpPayload, len(b.Runs()))
		keys := make([]string, len(b.Runs()))
		for i, run := range b.Runs() {
			if err := decodePayload(run, &ps[i]); err != nil {
				return err
			}
			keys[i] = run.Job.IdempotencyKey
		}
		var skipped []bool
		err := b.Exec(ctx, func(tx *gorm.DB) error {
			var err error
			skipped, err = router.FollowUp(ctx, tx, b.Org(), ps, keys)
			return err
		})
		if err != nil {
			return fmt.Errorf("follow up %d leads: %w", len(ps), err)
		}
		for i, run := range b.Runs() {
			log.Debug("lead followed up", zap.Int64("job_id", run.Job.ID), zap.String("lead_id", ps[i].LeadID.String()),
				zap.Bool("skipped", skipped[i]))
		}
		return nil
	}
}
