package client

// The payloads of the events this package emits. Each event's idempotency key names the change
// it records:
//
//	client.created         "client.created:<client id>"
//	client.onboarded       "client.onboarded:<client id>" (once)
//	client.status_changed  "client.status_changed:<client id>:<unix nanos of the change>"

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
