package client

import "github.com/google/uuid"

// The payloads of the events this package emits. Each event's idempotency key names the change
// it records:
//
//	client.created         "client.created:<client id>"
//	client.onboarded       "client.onboarded:<client id>" (once)
//	client.status_changed  "client.status_changed:<client id>:<unix nanos of the change>"
//	client.renewal_due     "client.renewal_due:<client id>:<renewal date>" (once per renewal)
//	client.onboarding_started       "client.onboarding_started:<client id>" (once)
//	onboarding_task.status_changed  "onboarding_task.status_changed:<task id>:<unix nanos of the change>"

// CreatedPayload is the payload of client.created: the client and the invoice.paid event whose
// job created it.
type CreatedPayload struct {
	Client           Client `json:"client"`
	CausationEventID int64  `json:"causationEventId"`
}

// OnboardedPayload is the payload of client.onboarded: how many tasks were done and skipped.
type OnboardedPayload struct {
	Done    int `json:"done"`
	Skipped int `json:"skipped"`
}

// StatusChangedPayload is the payload of client.status_changed.
type StatusChangedPayload struct {
	From Status `json:"from"`
	To   Status `json:"to"`
}

// RenewalDuePayload is the payload of client.renewal_due: the renewal, the rule that made it due
// (WindowDays, RenewalWindowDays) and the task activity added to the client's lead.
type RenewalDuePayload struct {
	RenewalDate string    `json:"renewalDate"`
	DaysLeft    int       `json:"daysLeft"`
	WindowDays  int       `json:"windowDays"`
	LeadID      uuid.UUID `json:"leadId"`
	ActivityID  uuid.UUID `json:"activityId"`
}

// OnboardingStartedPayload is the payload of client.onboarding_started: the tasks the client was
// given, in their order, and the client.created event whose job gave them.
type OnboardingStartedPayload struct {
	Tasks            []string `json:"tasks"`
	CausationEventID int64    `json:"causationEventId"`
}

// TaskStatusChangedPayload is the payload of onboarding_task.status_changed: the task's client,
// title and position, and its move.
type TaskStatusChangedPayload struct {
	ClientID uuid.UUID  `json:"clientId"`
	Title    string     `json:"title"`
	Position int        `json:"position"`
	From     TaskStatus `json:"from"`
	To       TaskStatus `json:"to"`
}
