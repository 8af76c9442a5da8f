package client

// The reads and writes of the clients (their statements are in queries.go), in the transaction
// they are given.

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// clientRow is a row of clientColumns.
type clientRow struct {
	ID               uuid.UUID  `gorm:"column:id"`
	LeadID           uuid.UUID  `gorm:"column:lead_id"`
	DealID           uuid.UUID  `gorm:"column:deal_id"`
	InvoiceID        uuid.UUID  `gorm:"column:invoice_id"`
	Name             *string    `gorm:"column:name"`
	Email            *string    `gorm:"column:email"`
	Company          *string    `gorm:"column:company"`
	Status           string     `gorm:"column:status"`
	RenewalDate      *string    `gorm:"column:renewal_date"`
	StatusChangedAt  time.Time  `gorm:"column:status_changed_at"`
	CausationEventID *int64     `gorm:"column:causation_event_id"`
	OnboardedAt      *time.Time `gorm:"column:onboarded_at"`
	CreatedAt        time.Time  `gorm:"column:created_at"`
}

func (r clientRow) client() Client {
	return Client{
		ID: r.ID, LeadID: r.LeadID, DealID: r.DealID, InvoiceID: r.InvoiceID, Name: r.Name, Email: r.Email,
		Company: r.Company, Status: Status(r.Status), RenewalDate: r.RenewalDate, StatusChangedAt: r.StatusChangedAt.UTC(),
		CausationEventID: r.CausationEventID, CreatedAt: r.CreatedAt.UTC(),
	}
}

// taskRow is a row of taskColumns.
type taskRow struct {
	ID               uuid.UUID  `gorm:"column:id"`
	Position         int        `gorm:"column:position"`
	Title            string     `gorm:"column:title"`
	Status           string     `gorm:"column:status"`
	DueAt            *time.Time `gorm:"column:due_at"`
	CompletedAt      *time.Time `gorm:"column:completed_at"`
	CausationEventID *int64     `gorm:"column:causation_event_id"`
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r taskRow) task() Task {
	return Task{
		ID: r.ID, Position: r.Position, Title: r.Title, Status: TaskStatus(r.Status), DueAt: utc(r.DueAt),
		CompletedAt: utc(r.CompletedAt), CausationEventID: r.CausationEventID,
	}
}

// getClient reads the org's client id (locked when lock is true) with its onboarded_at; a
// missing one is NotFound.
func getClient(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, lock bool) (clientRow, error) {
	q := getClientSQL
	if lock {
		q = lockClientSQL
	}
	rows, err := db.Select[clientRow](ctx, tx, q, orgID, id)
	if err != nil {
		return clientRow{}, fmt.Errorf("read client: %w", err)
	}
	if len(rows) == 0 {
		return clientRow{}, notFound(id)
	}
	return rows[0], nil
}

// listTasks reads the client's tasks in their order.
func listTasks(ctx context.Context, tx *gorm.DB, orgID, clientID uuid.UUID) ([]Task, error) {
	rows, err := db.Select[taskRow](ctx, tx, listTasksSQL, orgID, clientID)
	if err != nil {
		return nil, fmt.Errorf("read onboarding tasks: %w", err)
	}
	out := make([]Task, len(rows))
	for i, r := range rows {
		out[i] = r.task()
	}
	return out, nil
}

// lockTask reads and locks the client's task id; a missing one is NotFound.
func lockTask(ctx context.Context, tx *gorm.DB, orgID, clientID, id uuid.UUID) (Task, error) {
	rows, err := db.Select[taskRow](ctx, tx, lockTaskSQL, orgID, clientID, id)
	if err != nil {
		return Task{}, fmt.Errorf("read onboarding task: %w", err)
	}
	if len(rows) == 0 {
		return Task{}, apperr.Errorf(apperr.NotFound, "onboarding task %s not found", id)
	}
	return rows[0].task(), nil
}

// taskCounts is a row of taskCountsSQL.
type taskCounts struct {
	Pending int `gorm:"column:pending"`
	Done    int `gorm:"column:done"`
	Skipped int `gorm:"column:skipped"`
}

// keyset is the order of List: newest first, ties by id.
var keyset = page.Desc(
	page.Time("c.created_at", "t", func(v Client) time.Time { return v.CreatedAt }),
	page.UUID("c.id", "i", func(v Client) uuid.UUID { return v.ID }),
)
