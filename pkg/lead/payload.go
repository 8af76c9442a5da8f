package lead

import (
	"time"

	"github.com/google/uuid"
)

// EntityType is the events.entity_type of every event about a lead.
const EntityType = "lead"

// The payloads of the events this package emits. Each event's idempotency key names the change
// it records, so a retried transaction can never record one change twice:
//
//	lead.created        "lead.created:<lead id>"
//	lead.updated        "lead.updated:<lead id>:<new version>"
//	lead.stage_changed  "lead.stage_changed:<lead id>:<new version>"
//	lead.deleted        "lead.deleted:<lead id>"
//	lead.activity_added "lead.activity_added:<activity id>"
//	lead.stale          "lead.stale:<lead id>:<StalePayload.Since in microseconds>"
//	lead.ghost_risk_raised "lead.ghost_risk_raised:<lead id>:<slot, unix seconds>"
//	lead.priority_changed  "lead.priority_changed:<lead id>:<new version>"

// CreatedPayload is the payload of lead.created: how the lead came in ("api" for a lead created
// by hand) and the lead as created.
type CreatedPayload struct {
	Via  string `json:"via"`
	Lead Lead   `json:"lead"`
}

// ViaAPI marks a lead created by hand through the API.
const ViaAPI = "api"

// UpdatedPayload is the payload of lead.updated: the fields that changed, by their API names,
// and the version the update made.
type UpdatedPayload struct {
	Version int               `json:"version"`
	Changes map[string]Change `json:"changes"`
}

// Change is one field's old and new value (null when empty).
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// StageChangedPayload is the payload of lead.stage_changed.
type StageChangedPayload struct {
	From    Stage   `json:"from"`
	To      Stage   `json:"to"`
	Reason  *string `json:"reason"`
	Version int     `json:"version"`
}

// DeletedPayload is the payload of lead.deleted: the stage and version the lead had.
type DeletedPayload struct {
	Stage   Stage `json:"stage"`
	Version int   `json:"version"`
}

// ActivityAddedPayload is the payload of lead.activity_added.
type ActivityAddedPayload struct {
	ActivityID uuid.UUID    `json:"activityId"`
	Kind       ActivityKind `json:"kind"`
	Subject    *string      `json:"subject"`
	OccurredAt time.Time    `json:"occurredAt"`
}

// diff lists the editable fields that differ between a and b, by API name.
func diff(a, b Lead) map[string]Change {
	out := map[string]Change{}
	fields := []struct {
		name string
		a, b *string
	}{
		{"firstName", a.FirstName, b.FirstName}, {"lastName", a.LastName, b.LastName}, {"name", a.Name, b.Name},
		{"email", a.Email, b.Email}, {"phone", a.Phone, b.Phone}, {"company", a.Company, b.Company},
		{"website", a.Website, b.Website}, {"domain", a.Domain, b.Domain}, {"title", a.Title, b.Title},
		{"profileLink", a.ProfileLink, b.ProfileLink}, {"source", a.Source, b.Source}, {"notes", a.Notes, b.Notes},
	}
	for _, f := range fields {
		if str(f.a) != str(f.b) {
			out[f.name] = Change{From: f.a, To: f.b}
		}
	}
	if a.Priority != b.Priority {
		out["priority"] = Change{From: a.Priority, To: b.Priority}
	}
	if !sameJSON(a.Extra, b.Extra) {
		out["extra"] = Change{From: a.Extra, To: b.Extra}
	}
	return out
}

// StalePayload is the payload of lead.stale, which check_lead_stale (StaleSweep) emits for an
// open lead without activity for its org's leadStaleDays. It records the rule applied: the
// lead's stage, the days, and Since, the instant its silence started (its last activity, or its
// creation when it has none; LastActivityAt is null then). One stale period is reported once:
// the key names the lead and Since, and an activity starts a new period.
type StalePayload struct {
	LeadID         uuid.UUID  `json:"leadId"`
	Stage          Stage      `json:"stage"`
	Days           int        `json:"days"`
	Since          time.Time  `json:"since"`
	LastActivityAt *time.Time `json:"lastActivityAt"`
}

// GhostRiskRaisedPayload is the payload of lead.ghost_risk_raised: the ghost risk before and
// after, and the rule that raised it.
type GhostRiskRaisedPayload struct {
	From int           `json:"from"`
	To   int           `json:"to"`
	Rule GhostRiskRule `json:"rule"`
}

// GhostRiskRule is the rule recalc_ghost_risk applied: the lead, in Stage, had been silent since
// SilentSince (its last touchpoint or stage change) for at least SilenceDays as of Slot, with no
// period counted in the last SilenceDays.
type GhostRiskRule struct {
	Name        string    `json:"name"`
	SilenceDays int       `json:"silenceDays"`
	SilentSince time.Time `json:"silentSince"`
	Stage       Stage     `json:"stage"`
	Slot        time.Time `json:"slot"`
}

// GhostRiskRuleSilence is the name of recalc_ghost_risk's rule.
const GhostRiskRuleSilence = "silence"

// PriorityChangedPayload is the payload of lead.priority_changed: the priority before and after,
// the version the change made, the row of the table that fired (PriorityRules) and what it saw.
type PriorityChangedPayload struct {
	From    Priority       `json:"from"`
	To      Priority       `json:"to"`
	Version int            `json:"version"`
	Rule    string         `json:"rule"`
	Inputs  PriorityInputs `json:"inputs"`
}
