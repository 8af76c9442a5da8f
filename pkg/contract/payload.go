package contract

// The payloads of the events this package emits. Each event's idempotency key names the change
// it records:
//
//	contract.generated       "contract.generated:<contract id>"
//	contract.status_changed  "contract.status_changed:<contract id>:<to>" (the machine has no
//	                         cycles, so a contract reaches each status at most once)

// GeneratedPayload is the payload of contract.generated: the contract and the deal.won event
// whose job generated it.
type GeneratedPayload struct {
	Contract         Contract `json:"contract"`
	CausationEventID int64    `json:"causationEventId"`
}

// StatusChangedPayload is the payload of contract.status_changed.
type StatusChangedPayload struct {
	DealID string `json:"dealId"`
	From   Status `json:"from"`
	To     Status `json:"to"`
}
