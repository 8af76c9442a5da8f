package lead

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// ActivityKind is what an activity on a lead's timeline records.
type ActivityKind string

// The activity kinds of lead_activities. People log the first six (LoggableKinds); the others
// are written by the system: escalations and nudges by jobs, system notes by the platform.
const (
	ActivityNote       ActivityKind = "note"
	ActivityTouchpoint ActivityKind = "touchpoint"
	ActivityCall       ActivityKind = "call"
	ActivityEmail      ActivityKind = "email"
	ActivityMeeting    ActivityKind = "meeting"
	ActivityTask       ActivityKind = "task"
	ActivityEscalation ActivityKind = "escalation"
	ActivityNudge      ActivityKind = "nudge"
	ActivitySystem     ActivityKind = "system"
)

// LoggableKinds are the kinds a person may log through the API.
var LoggableKinds = []ActivityKind{ActivityNote, ActivityTouchpoint, ActivityCall, ActivityEmail, ActivityMeeting, ActivityTask}

// Loggable reports whether a person may log an activity of kind k.
func (k ActivityKind) Loggable() bool { return slices.Contains(LoggableKinds, k) }

// Activity is one entry of a lead's timeline.
type Activity struct {
	ID         uuid.UUID    `json:"id" gorm:"column:id"`
	LeadID     uuid.UUID    `json:"leadId" gorm:"column:lead_id"`
	Kind       ActivityKind `json:"kind" gorm:"column:kind"`
	Subject    *string      `json:"subject" gorm:"column:subject"`
	Body       *string      `json:"body" gorm:"column:body"`
	Payload    Doc          `json:"payload" gorm:"column:payload"`
	OccurredAt time.Time    `json:"occurredAt" gorm:"column:occurred_at"`
	CreatedBy  *string      `json:"createdBy" gorm:"column:created_by"`
	CreatedAt  time.Time    `json:"createdAt" gorm:"column:created_at"`
}

func (a *Activity) utc() { a.OccurredAt, a.CreatedAt = a.OccurredAt.UTC(), a.CreatedAt.UTC() }

// NewActivity is the input of AddActivity: a loggable kind, a subject and/or a body, and when
// it happened (nil is now; at most a minute in the future).
type NewActivity struct {
	Kind       ActivityKind
	Subject    string
	Body       string
	OccurredAt *time.Time
}

// maxFuture is how far in the future an activity may be dated (clock skew of the client).
const maxFuture = time.Minute
