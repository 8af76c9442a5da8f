package call

import (
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// EntityType is the events.entity_type of every event about a call.
const EntityType = "call"

// Call is a call as the API shows it (API.md field names). Nullable columns are pointers and
// show as null.
type Call struct {
	ID                uuid.UUID         `json:"id" gorm:"column:id"`
	LeadID            uuid.UUID         `json:"leadId" gorm:"column:lead_id"`
	Status            Status            `json:"status" gorm:"column:status"`
	ScheduledAt       time.Time         `json:"scheduledAt" gorm:"column:scheduled_at"`
	DurationMinutes   int               `json:"durationMinutes" gorm:"column:duration_minutes"`
	Transcript        *string           `json:"transcript" gorm:"column:transcript"`
	Notes             *string           `json:"notes" gorm:"column:notes"`
	Summary           *string           `json:"summary" gorm:"column:summary"`
	BuyingSignalScore *int              `json:"buyingSignalScore" gorm:"column:buying_signal_score"`
	SignalPhrases     db.JSON[[]string] `json:"signalPhrases" gorm:"column:signal_phrases"`
	Objections        db.JSON[[]string] `json:"objections" gorm:"column:objections"`
	NextSteps         db.JSON[[]string] `json:"nextSteps" gorm:"column:next_steps"`
	AnalysisModel     *string           `json:"analysisModel" gorm:"column:analysis_model"`
	AnalyzedAt        *time.Time        `json:"analyzedAt" gorm:"column:analyzed_at"`
	CompletedAt       *time.Time        `json:"completedAt" gorm:"column:completed_at"`
	CancelledAt       *time.Time        `json:"cancelledAt" gorm:"column:cancelled_at"`
	NoShowAt          *time.Time        `json:"noShowAt" gorm:"column:no_show_at"`
	Version           int               `json:"version" gorm:"column:version"`
	CreatedAt         time.Time         `json:"createdAt" gorm:"column:created_at"`
	UpdatedAt         time.Time         `json:"updatedAt" gorm:"column:updated_at"`
}

// utc puts the call's times in UTC, as the API shows them.
func (c *Call) utc() {
	c.ScheduledAt, c.CreatedAt, c.UpdatedAt = c.ScheduledAt.UTC(), c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	for _, p := range []**time.Time{&c.AnalyzedAt, &c.CompletedAt, &c.CancelledAt, &c.NoShowAt} {
		if *p != nil {
			t := (*p).UTC()
			*p = &t
		}
	}
	for _, l := range []*db.JSON[[]string]{&c.SignalPhrases, &c.Objections, &c.NextSteps} {
		if l.V == nil {
			l.V = []string{}
		}
	}
}

// eventKey is the idempotency key of the event typ about call id: each happens once per call.
func eventKey(typ string, id uuid.UUID) string { return typ + ":" + id.String() }

// Booking is the input of Book.
type Booking struct {
	LeadID      uuid.UUID
	ScheduledAt time.Time
	// DurationMinutes is 1..MaxDurationMinutes; 0 is DefaultDurationMinutes.
	DurationMinutes int
}

// Completion is the input of Complete: the transcript (required) and notes.
type Completion struct {
	Transcript string
	Notes      string
}

// Limits of the inputs, shared with the API's request validation.
const (
	DefaultDurationMinutes = 30
	MaxDurationMinutes     = 1440
	// MaxTranscriptLen bounds a transcript, in characters: about five hours of talk. The API's
	// body limit (API_BODY_LIMIT_BYTES) may bound it further.
	MaxTranscriptLen = 500_000
	MaxNotesLen      = 10_000
	MaxReasonLen     = 1000
	// MaxAhead is how far in the future a call may be booked.
	MaxAhead = 366 * 24 * time.Hour
)

// ListFilter selects and orders a page of calls.
type ListFilter struct {
	// LeadID, when set, keeps the calls of that lead.
	LeadID *uuid.UUID
	// Status, when set, keeps calls in that status.
	Status Status
	// From and To, when set, keep calls scheduled at or after From and before To.
	From, To *time.Time
	// Sort orders the list by scheduledAt; "" is SortDefault.
	Sort Sort
	Page page.Request
}

// Sort is a list order of calls: by scheduledAt, ascending or descending (leading '-'), ties
// broken by id in the same direction.
type Sort string

// The list orders.
const (
	SortScheduledAsc  Sort = "scheduledAt"
	SortScheduledDesc Sort = "-scheduledAt"
	// SortDefault is the latest scheduled first.
	SortDefault = SortScheduledDesc
)

// Sorts lists the accepted orders.
var Sorts = []Sort{SortScheduledDesc, SortScheduledAsc}

// The payloads of the events this package emits. Each key names the change, so a retried
// transaction or a rerun job never records one change twice:
//
//	call.booked        "call.booked:<call id>"
//	call.completed     "call.completed:<call id>"
//	call.no_show       "call.no_show:<call id>"
//	call.cancelled     "call.cancelled:<call id>"
//	call.analyzed      "call.analyzed:<call id>"
//	buying_signal.high "buying_signal.high:<call id>"

// CallAnalyzed is the event of a stored analysis. No job reacts to it.
const CallAnalyzed = "call.analyzed"

// BookedPayload is the payload of call.booked.
type BookedPayload struct {
	LeadID          uuid.UUID `json:"leadId"`
	ScheduledAt     time.Time `json:"scheduledAt"`
	DurationMinutes int       `json:"durationMinutes"`
	LeadStage       string    `json:"leadStage"`
	Version         int       `json:"version"`
}

// ChangedPayload is the payload of call.completed, call.no_show and call.cancelled.
type ChangedPayload struct {
	LeadID  uuid.UUID `json:"leadId"`
	From    Status    `json:"from"`
	To      Status    `json:"to"`
	Version int       `json:"version"`
	// Reason is a cancellation's reason.
	Reason *string `json:"reason,omitempty"`
	// TranscriptChars is a completed call's transcript length in characters.
	TranscriptChars *int `json:"transcriptChars,omitempty"`
	// GhostRisk is a no-show's change of the lead's ghost risk.
	GhostRisk *GhostRiskChange `json:"ghostRisk,omitempty"`
}

// GhostRiskChange is the lead's ghost risk before and after a no-show.
type GhostRiskChange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// AnalyzedPayload is the payload of call.analyzed.
type AnalyzedPayload struct {
	LeadID            uuid.UUID `json:"leadId"`
	BuyingSignalScore int       `json:"buyingSignalScore"`
	Model             string    `json:"model"`
	Threshold         int       `json:"threshold"`
}

// BuyingSignalPayload is the payload of buying_signal.high, the input of escalate_lead.
type BuyingSignalPayload struct {
	CallID            uuid.UUID `json:"callId"`
	LeadID            uuid.UUID `json:"leadId"`
	BuyingSignalScore int       `json:"buyingSignalScore"`
	Threshold         int       `json:"threshold"`
	Model             string    `json:"model"`
	SignalPhrases     []string  `json:"signalPhrases"`
}
