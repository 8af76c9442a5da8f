package handler

import (
	"github.com/google/uuid"
	"go.uber.org/zap"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/jobs"
)

// StartOnboarding is the start_onboarding kind: for the client.created event of each job
// (client.StartOnboardingArgs) it gives the client the org's onboarding checklist
// (client.Service.StartOnboarding) in the batch's transaction, which also completes the jobs.
// Its jobs share a transaction. A client gone or with its tasks already is logged and its job
// completed: retrying would change nothing.
func StartOnboarding(clients *client.Service, log *zap.Logger) jobs.Kind {
	if clients == nil {
		panic("handler.StartOnboarding: nil dependency")
	}
	return causedKind[client.StartOnboardingArgs](caused[client.Created, client.StartResult]{
		work: "start onboarding of %d clients", entity: "client_id",
		in: func(eventID int64, id uuid.UUID) client.Created {
			return client.Created{EventID: eventID, ClientID: id}
		},
		use: clients.StartOnboarding,
		outcome: func(r client.StartResult) (string, []zap.Field) {
			return r.Skipped, []zap.Field{zap.Int("tasks", len(r.Tasks))}
		},
		made: "onboarding started", skipped: "onboarding not started",
	}, log)
}
