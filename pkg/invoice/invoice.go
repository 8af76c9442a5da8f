package invoice

import (
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/machine"
	"example.com/crm/pkg/page"
)

// EntityType is the events.entity_type of every event about an invoice.
const EntityType = "invoice"

// Invoice is an invoice as the API shows it (API.md field names). LeadID is the deal's lead.
type Invoice struct {
	ID               uuid.UUID  `json:"id"`
	Number           string     `json:"number"`
	DealID           uuid.UUID  `json:"dealId"`
	LeadID           uuid.UUID  `json:"leadId"`
	Amount           int64      `json:"amount"`
	Currency         string     `json:"currency"`
	Status           Status     `json:"status"`
	IssuedAt         time.Time  `json:"issuedAt"`
	DueAt            *time.Time `json:"dueAt"`
	PaidAt           *time.Time `json:"paidAt"`
	PaymentReference *string    `json:"paymentReference"`
	VoidedAt         *time.Time `json:"voidedAt"`
	VoidReason       *string    `json:"voidReason"`
	CausationEventID *int64     `json:"causationEventId"`
	// CreatedAt orders the lists; it is not part of the API's shape.
	CreatedAt time.Time `json:"-"`
}

// Status is an invoice's status.
type Status string

// The statuses of an invoice: issued is the start; paid and void are final.
const (
	StatusIssued Status = "issued"
	StatusPaid   Status = "paid"
	StatusVoid   Status = "void"
)

// transitions is the status machine as data: the statuses each status may move to.
var transitions = machine.Machine[Status]{
	StatusIssued: {StatusPaid, StatusVoid},
	StatusPaid:   {},
	StatusVoid:   {},
}

// Valid reports whether s is a status.
func (s Status) Valid() bool { return transitions.Valid(s) }

// Allowed are the statuses an invoice in status from may move to (none for an unknown one).
func Allowed(from Status) []Status { return transitions.Allowed(from) }

// CanMove reports whether an invoice in status from may move to status to.
func CanMove(from, to Status) bool { return transitions.CanMove(from, to) }

// Payment is the input of Pay: when the money arrived (nil is now; never in the future) and the
// bank's or PSP's reference (optional).
type Payment struct {
	PaidAt    *time.Time
	Reference *string
}

// ListFilter selects a page of invoices, newest issued first.
type ListFilter struct {
	// Status, when set, keeps invoices in that status.
	Status Status
	// DealID, when set, keeps the invoice of that deal.
	DealID *uuid.UUID
	Page   page.Request
}

// Limits of the free-text fields.
const (
	MaxReferenceLen  = 200
	MaxVoidReasonLen = 1000
)

func invalid(fields ...apperr.FieldError) error {
	return apperr.Errorf(apperr.Invalid, "invoice input is invalid").WithFields(fields...)
}

func notFound(id uuid.UUID) error {
	return apperr.Errorf(apperr.NotFound, "invoice %s not found", id)
}

// hasControl reports whether s holds a control character.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}
