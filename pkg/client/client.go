package client

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/machine"
	"example.com/crm/pkg/page"
)

// EntityType is the events.entity_type of every event about a client.
const EntityType = "client"

// TaskEntityType is the events.entity_type of every event about an onboarding task.
const TaskEntityType = "onboarding_task"

// Client is a client as the API shows it (API.md field names). RenewalDate is a date YYYY-MM-DD.
type Client struct {
	ID               uuid.UUID `json:"id"`
	LeadID           uuid.UUID `json:"leadId"`
	DealID           uuid.UUID `json:"dealId"`
	InvoiceID        uuid.UUID `json:"invoiceId"`
	Name             *string   `json:"name"`
	Email            *string   `json:"email"`
	Company          *string   `json:"company"`
	Status           Status    `json:"status"`
	RenewalDate      *string   `json:"renewalDate"`
	StatusChangedAt  time.Time `json:"statusChangedAt"`
	CausationEventID *int64    `json:"causationEventId"`
	// CreatedAt orders the lists; it is not part of the API's shape.
	CreatedAt time.Time `json:"-"`
}

// Task is an onboarding task as the API shows it. CausationEventID is the client.created event
// whose start_onboarding job created it.
type Task struct {
	ID               uuid.UUID  `json:"id"`
	Position         int        `json:"position"`
	Title            string     `json:"title"`
	Status           TaskStatus `json:"status"`
	DueAt            *time.Time `json:"dueAt"`
	CompletedAt      *time.Time `json:"completedAt"`
	CausationEventID *int64     `json:"causationEventId"`
}

// Status is a client's status.
type Status string

// The statuses of a client: onboarding is the start.
const (
	StatusOnboarding Status = "onboarding"
	StatusActive     Status = "active"
	StatusPaused     Status = "paused"
	StatusChurned    Status = "churned"
)

// transitions is the status machine of API.md as data: onboarding -> active -> paused | churned,
// and back to active.
var transitions = machine.Machine[Status]{
	StatusOnboarding: {StatusActive},
	StatusActive:     {StatusPaused, StatusChurned},
	StatusPaused:     {StatusActive},
	StatusChurned:    {StatusActive},
}

// Statuses are the client statuses, in the order of the machine.
func Statuses() []string {
	return []string{string(StatusOnboarding), string(StatusActive), string(StatusPaused), string(StatusChurned)}
}

// Valid reports whether s is a status.
func (s Status) Valid() bool { return transitions.Valid(s) }

// Allowed are the statuses a client in status from may move to (none for an unknown one).
func Allowed(from Status) []Status { return transitions.Allowed(from) }

// CanMove reports whether a client in status from may move to status to.
func CanMove(from, to Status) bool { return transitions.CanMove(from, to) }

// TaskStatus is an onboarding task's status: pending, done or skipped; any may become any other.
type TaskStatus string

// The statuses of an onboarding task.
const (
	TaskPending TaskStatus = "pending"
	TaskDone    TaskStatus = "done"
	TaskSkipped TaskStatus = "skipped"
)

// Valid reports whether s is a task status.
func (s TaskStatus) Valid() bool { return s == TaskPending || s == TaskDone || s == TaskSkipped }

// ListFilter selects a page of clients, newest first.
type ListFilter struct {
	// Status, when set, keeps clients in that status.
	Status Status
	Page   page.Request
}

// dateLayout is the form of renewalDate.
const dateLayout = "2006-01-02"

// checkDate reports whether d is a valid date YYYY-MM-DD.
func checkDate(d string) bool {
	t, err := time.Parse(dateLayout, d)
	return err == nil && t.Format(dateLayout) == d
}

func invalid(fields ...apperr.FieldError) error {
	return apperr.Errorf(apperr.Invalid, "client input is invalid").WithFields(fields...)
}

func notFound(id uuid.UUID) error {
	return apperr.Errorf(apperr.NotFound, "client %s not found", id)
}

func oneOf(values []string) string {
	return fmt.Sprintf("must be one of: %s", strings.Join(values, ", "))
}
