package handler

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/pipeline"
)

// RouteOutreach is the route_outreach kind: for the lead.qualified event of each job
// (pipeline.RouteOutreachArgs) it acts on the lead's recommended path in the jobs' transaction.
// followUpAfter is the delay of a nurture follow-up (zero is pipeline.DefaultNurtureFollowUp). A lead
// that cannot be routed (gone, final stage, no path) is logged and the job completed: retrying
// would change nothing. Its jobs share transactions: pipeline.Router.Route takes a batch's
// leads together, one statement per step for all of them.
func RouteOutreach(router *pipeline.Router, log *zap.Logger, followUpAfter time.Duration) jobs.Kind {
	if router == nil || log == nil {
		panic("handler.RouteOutreach: nil dependency")
	}
	return jobs.NewKind(jobs.Shared, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[pipeline.RouteOutreachArgs]) error {
		ins := make([]pipeline.RouteInput, len(js))
		for i, j := range js {
			p := j.Args
			path, reason := pipeline.ParseQualified(p.Data)
			ins[i] = pipeline.RouteInput{LeadID: *p.EntityID, EventID: p.EventID, Path: path, Reason: reason, FollowUpAfter: followUpAfter}
		}
		res := make([]pipeline.RouteResult, len(js))
		err := tx.Exec(ctx, func(db *gorm.DB) error {
			var err error
			res, err = router.Route(ctx, db, tx.Org(), ins)
			return err
		})
		if len(js) == 1 && err != nil {
			return fmt.Errorf("route lead %s: %w", ins[0].LeadID, err)
		}
		if err != nil {
			return fmt.Errorf("route %d leads: %w", len(ins), err)
		}
		for i, j := range js {
			logRouted(log, j.Job, ins[i], res[i])
		}
		return nil
	})
}

// logRouted logs what routing did: a skipped lead at info, a routed one at debug.
func logRouted(log *zap.Logger, job *jobs.Job, in pipeline.RouteInput, res pipeline.RouteResult) {
	fields := []zap.Field{
		zap.Int64("job_id", job.ID), zap.String("org_id", job.OrgID.String()),
		zap.String("lead_id", in.LeadID.String()), zap.Int64("event_id", in.EventID),
		zap.String("path", string(res.Path)), zap.Strings("changes", res.Changes),
	}
	if res.Skipped != "" {
		log.Info("lead not routed", append(fields, zap.String("reason", res.Skipped))...)
		return
	}
	log.Debug("lead routed", fields...)
}

// FollowUpLead is the follow_up_lead kind: the nurture follow-ups that route_outreach scheduled
// (pipeline.FollowUpPayload), in the jobs' transaction. Its jobs share transactions: pipeline.Router.FollowUp takes a batch's
// leads together and locks them in the order of their ids first.
func FollowUpLead(router *pipeline.Router, log *zap.Logger) jobs.Kind {
	if router == nil || log == nil {
		panic("handler.FollowUpLead: nil dependency")
	}
	return jobs.NewKind(jobs.Shared, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[pipeline.FollowUpPayload]) error {
		ps := make([]pipeline.FollowUpPayload, len(js))
		keys := make([]string, len(js))
		for i, j := range js {
			ps[i], keys[i] = j.Args, j.IdempotencyKey
		}
		skipped := make([]bool, len(js))
		err := tx.Exec(ctx, func(db *gorm.DB) error {
			var err error
			skipped, err = router.FollowUp(ctx, db, tx.Org(), ps, keys)
			return err
		})
		if len(js) == 1 && err != nil {
			return fmt.Errorf("follow up lead %s: %w", ps[0].LeadID, err)
		}
		if err != nil {
			return fmt.Errorf("follow up %d leads: %w", len(ps), err)
		}
		for i, j := range js {
			log.Debug("lead followed up", zap.Int64("job_id", j.ID), zap.String("lead_id", ps[i].LeadID.String()),
				zap.Bool("skipped", skipped[i]))
		}
		return nil
	})
}
