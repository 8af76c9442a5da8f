package handler

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/jobs"
)

// StartOnboarding is the start_onboarding kind: for the client.created event of each job
// (client.StartOnboardingArgs) it gives the client the org's onboarding checklist
// (client.Service.StartOnboarding) in the batch's transaction, which also completes the jobs.
// Its jobs share a transaction. A client gone or with its tasks already is logged and its job
// completed: retrying would change nothing.
func StartOnboarding(clients *client.Service, log *zap.Logger) jobs.Kind {
	if clients == nil || log == nil {
		panic("handler.StartOnboarding: nil dependency")
	}
	return jobs.NewKind(jobs.Shared, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[client.StartOnboardingArgs]) error {
		cs := make([]client.Created, len(js))
		for i, j := range js {
			cs[i] = client.Created{EventID: j.Args.EventID, ClientID: *j.Args.EntityID}
		}
		var res []client.StartResult
		err := tx.Exec(ctx, func(db *gorm.DB) error {
			var err error
			res, err = clients.StartOnboarding(ctx, db, tx.Org(), cs)
			return err
		})
		if err != nil {
			return fmt.Errorf("start onboarding of %d clients: %w", len(cs), err)
		}
		for i, r := range res {
			fields := []zap.Field{
				zap.Int64("job_id", js[i].ID), zap.String("org_id", js[i].OrgID.String()),
				zap.String("client_id", cs[i].ClientID.String()), zap.Int64("event_id", cs[i].EventID),
			}
			if r.Skipped != "" {
				log.Info("onboarding not started", append(fields, zap.String("reason", r.Skipped))...)
				continue
			}
			log.Debug("onboarding started", append(fields, zap.Int("tasks", len(r.Tasks)))...)
		}
		return nil
	})
}
