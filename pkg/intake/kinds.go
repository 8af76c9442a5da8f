package intake

import "example.com/crm/pkg/jobs"

// The event types of intake source changes. Their payloads never hold a secret.
const (
	EventSourceCreated       = "intake_source.created"
	EventSourceUpdated       = "intake_source.updated"
	EventSourceDeleted       = "intake_source.deleted"
	EventSourceSecretRotated = "intake_source.secret_rotated"
)

// KindProcessIntake is the job kind that turns a stored delivery into a lead, a touchpoint or a
// rejection.
const KindProcessIntake = "process_intake"

// Kind is process_intake: ProcessIntakeJob is that kind's arguments.
func (ProcessIntakeJob) Kind() string { return KindProcessIntake }

// JobKinds are the intake job kinds.
func JobKinds() []jobs.Args { return []jobs.Args{ProcessIntakeJob{}} }
