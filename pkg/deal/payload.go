package deal

import (
	"time"

	"github.com/google/uuid"
)

// EventUpdated is the event of a deal's fields changed through Update (EventJobs maps it to
// nothing).
const EventUpdated = "deal.updated"

// The payloads of the events this package emits. Each event's idempotency key names the change
// it records, so a retried transaction can never record one change twice:
//
//	deal.created        "deal.created:<deal id>"
//	deal.updated        "deal.updated:<deal id>:<new version>"
//	deal.stage_changed  "deal.stage_changed:<deal id>:<new version>"
//	deal.won            "deal.won:<deal id>"   (once: won is final)
//	deal.lost           "deal.lost:<deal id>"  (once: lost is final)

// CreatedPayload is the payload of deal.created: the deal as created and whether its lead was
// converted by it (false when the lead was converted already).
type CreatedPayload struct {
	Deal          Deal `json:"deal"`
	LeadConverted bool `json:"leadConverted"`
}

// UpdatedPayload is the payload of deal.updated: the fields that changed, by their API names,
// and the version the update made.
type UpdatedPayload struct {
	Version int               `json:"version"`
	Changes map[string]Change `json:"changes"`
}

// Change is one field's old and new value.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// StageChangedPayload is the payload of deal.stage_changed, deal.won and deal.lost: the move,
// the probability it set, the lost reason (deal.lost), and the deal's money and lead, which the
// jobs of deal.won (create_invoice, generate_contract) start from.
type StageChangedPayload struct {
	From        Stage       `json:"from"`
	To          Stage       `json:"to"`
	Probability Probability `json:"probability"`
	LostReason  *string     `json:"lostReason"`
	Version     int         `json:"version"`
	LeadID      uuid.UUID   `json:"leadId"`
	DealValue   int64       `json:"dealValue"`
	Currency    string      `json:"currency"`
}

// StalledPayload is the payload of deal.stalled, which check_deal_decay (DecaySweep) emits for
// a deal that has rested in an open stage longer than its org's rules allow, and which enqueues
// nudge_deal (EventJobs). It records the rule applied: the stage, its rotting days, and Since,
// the instant the deal's clock started (its last stage change or the last activity on its lead,
// whichever is later; LastActivityAt is that activity, null when none). Its idempotency key
// names the stall, "deal.stalled:<deal id>:<Since in microseconds since the Unix epoch>", so one
// stall is reported once.
type StalledPayload struct {
	DealID         uuid.UUID  `json:"dealId"`
	Stage          Stage      `json:"stage"`
	StageChangedAt time.Time  `json:"stageChangedAt"`
	Days           int        `json:"days"`
	Since          time.Time  `json:"since"`
	LastActivityAt *time.Time `json:"lastActivityAt"`
}
