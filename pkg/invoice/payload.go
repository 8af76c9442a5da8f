package invoice

import "time"

// The payloads of the events this package emits. Each event's idempotency key names the change
// it records:
//
//	invoice.created  "invoice.created:<invoice id>"
//	invoice.paid     "invoice.paid:<invoice id>"   (once: paid is final)
//	invoice.voided   "invoice.voided:<invoice id>" (once: void is final)

// CreatedPayload is the payload of invoice.created: the invoice and the deal.won event whose job
// created it.
type CreatedPayload struct {
	Invoice          Invoice `json:"invoice"`
	CausationEventID int64   `json:"causationEventId"`
}

// PaidPayload is the payload of invoice.paid.
type PaidPayload struct {
	Number    string    `json:"number"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	PaidAt    time.Time `json:"paidAt"`
	Reference *string   `json:"reference"`
}

// VoidedPayload is the payload of invoice.voided.
type VoidedPayload struct {
	Number string `json:"number"`
	Reason string `json:"reason"`
}
