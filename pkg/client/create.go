package client

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// The actors of what the jobs write.
const (
	CreateActor          = "job:" + KindCreateClient
	StartOnboardingActor = "job:" + KindStartOnboarding
)

// Paid is a paid invoice to make a client of: the invoice and the invoice.paid event that
// reported it.
type Paid struct {
	EventID   int64
	InvoiceID uuid.UUID
}

// CreateResult is what Create did for one Paid.
type CreateResult struct {
	// Client is the client created (zero when none was).
	Client Client
	// Skipped says why no client was created: the invoice has one already (a repeat), or is gone
	// or not paid. Retrying would change nothing, so these are outcomes, not errors.
	Skipped string
}

// Create makes one client of each paid invoice inside the caller's tenant transaction tx (the
// create_client jobs' batch transaction) and returns the result of each in order. The client is
// copied from the lead of the invoice's deal (name, email, company), is onboarding, renews a year
// after the payment, and has the invoice.paid event as its causation; each emits client.created
// carrying that event's id. An invoice has at most one client (unique per org and invoice), so a
// repeat inserts nothing and is skipped.
func (s *Service) Create(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, paids []Paid) ([]CreateResult, error) {
	out := make([]CreateResult, len(paids))
	now := s.now().UTC().Truncate(time.Microsecond)
	for i, p := range paids {
		rows, err := db.Select[clientRow](ctx, tx, insertClientSQL, orgID, p.InvoiceID, p.EventID, now)
		if err != nil {
			return nil, fmt.Errorf("insert client of invoice %s: %w", p.InvoiceID, err)
		}
		if len(rows) == 0 {
			out[i].Skipped = "invoice has a client already, or is not paid"
			continue
		}
		c := rows[0].client()
		if err := s.emit(ctx, tx, orgID, CreateActor, EventCreated, c.ID, "client.created:"+c.ID.String(),
			CreatedPayload{Client: c, CausationEventID: p.EventID}); err != nil {
			return nil, fmt.Errorf("emit client.created: %w", err)
		}
		out[i].Client = c
	}
	return out, nil
}

// Created is a new client to onboard: the client and the client.created event that reported it.
type Created struct {
	EventID  int64
	ClientID uuid.UUID
}

// StartResult is what StartOnboarding did for one Created.
type StartResult struct {
	// Tasks are the tasks created (none when Skipped).
	Tasks []Task
	// Skipped says why no tasks were created: the client is gone or has its tasks already.
	Skipped string
}

// StartOnboarding gives each new client the org's checklist template (Settings, DefaultSettings
// without saved ones) as its onboarding tasks, inside the caller's tenant transaction tx (the
// start_onboarding jobs' batch transaction): one task per template entry in its order
// (position 0..), pending, due dueInDays after now, caused by the client.created event, and
// emits client.onboarding_started with the tasks' titles. The client's row is locked first, so a
// repeat waits for the first and then finds the tasks there and does nothing.
func (s *Service) StartOnboarding(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, cs []Created) ([]StartResult, error) {
	out := make([]StartResult, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	set, err := Onboarding.Get(ctx, tx, orgID)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	n := len(set.Tasks)
	positions, titles, dues := make([]int32, n), make([]string, n), make([]time.Time, n)
	for j, t := range set.Tasks {
		positions[j], titles[j], dues[j] = int32(j), t.Title, now.AddDate(0, 0, t.DueInDays) //nolint:gosec // at most MaxTasks
	}
	for i, c := range cs {
		if _, err := getClient(ctx, tx, orgID, c.ClientID, true); err != nil {
			if !apperr.Is(err, apperr.NotFound) {
				return nil, err
			}
			out[i].Skipped = "client not found"
			continue
		}
		has, _, err := db.Get[bool](ctx, tx, hasTasksSQL, orgID, c.ClientID)
		if err != nil {
			return nil, fmt.Errorf("read onboarding tasks: %w", err)
		}
		if has {
			out[i].Skipped = "client has its onboarding tasks already"
			continue
		}
		if _, err := db.Exec(ctx, tx, insertTasksSQL, orgID, c.ClientID, positions, titles, dues, c.EventID); err != nil {
			return nil, fmt.Errorf("insert %d onboarding tasks: %w", n, err)
		}
		if out[i].Tasks, err = listTasks(ctx, tx, orgID, c.ClientID); err != nil {
			return nil, err
		}
		titles := make([]string, len(out[i].Tasks))
		for j, t := range out[i].Tasks {
			titles[j] = t.Title
		}
		if err := s.emit(ctx, tx, orgID, StartOnboardingActor, EventOnboardingStarted, c.ClientID,
			EventOnboardingStarted+":"+c.ClientID.String(), OnboardingStartedPayload{Tasks: titles, CausationEventID: c.EventID}); err != nil {
			return nil, fmt.Errorf("emit %s: %w", EventOnboardingStarted, err)
		}
	}
	return out, nil
}
