package contract

import (
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/machine"
	"example.com/crm/pkg/page"
)

// EntityType is the events.entity_type of every event about a contract.
const EntityType = "contract"

// Contract is a contract as the API shows it (API.md field names). LeadID is the deal's lead.
type Contract struct {
	ID               uuid.UUID `json:"id"`
	DealID           uuid.UUID `json:"dealId"`
	LeadID           uuid.UUID `json:"leadId"`
	Status           Status    `json:"status"`
	DocumentSHA256   *string   `json:"documentSha256"`
	GeneratedAt      time.Time `json:"generatedAt"`
	CausationEventID *int64    `json:"causationEventId"`
}

// Status is a contract's status.
type Status string

// The statuses of a contract: generated is the start; signed and void are final.
const (
	StatusGenerated Status = "generated"
	StatusSent      Status = "sent"
	StatusSigned    Status = "signed"
	StatusVoid      Status = "void"
)

// transitions is the status machine as data: the statuses each status may move to.
var transitions = machine.Machine[Status]{
	StatusGenerated: {StatusSent, StatusVoid},
	StatusSent:      {StatusSigned, StatusVoid},
	StatusSigned:    {},
	StatusVoid:      {},
}

// Statuses are the statuses in the machine's order.
var Statuses = []Status{StatusGenerated, StatusSent, StatusSigned, StatusVoid}

// Valid reports whether s is a status.
func (s Status) Valid() bool { return transitions.Valid(s) }

// Allowed are the statuses a contract in status from may move to (none for an unknown one).
func Allowed(from Status) []Status { return transitions.Allowed(from) }

// CanMove reports whether a contract in status from may move to status to.
func CanMove(from, to Status) bool { return transitions.CanMove(from, to) }

// Template is an org's contract template (GET/PUT /settings/contract-template).
type Template struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// ListFilter selects a page of contracts, newest generated first.
type ListFilter struct {
	// DealID, when set, keeps the contract of that deal.
	DealID *uuid.UUID
	Page   page.Request
}

func notFound(id uuid.UUID) error {
	return apperr.Errorf(apperr.NotFound, "contract %s not found", id)
}
