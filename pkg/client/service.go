package client

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/page"
)

// Service holds the client use cases. Each change runs in one tenant transaction of the org it
// is given and emits its event there.
type Service struct {
	d    *db.DB
	em   *events.Emitter
	emit events.EmitFunc
	// emitTask emits the events about onboarding tasks.
	emitTask events.EmitFunc
	now      func() time.Time
	// renewalChunk is the chunk size of RemindRenewals: adapted from renewalChunk clients.
	renewalChunk db.Size
}

// NewService returns the use cases on d, emitting through emitter; both are required.
func NewService(d *db.DB, emitter *events.Emitter) *Service {
	if d == nil || emitter == nil {
		panic("client.NewService: nil dependency")
	}
	return &Service{d: d, em: emitter, emit: emitter.About(EntityType), emitTask: emitter.About(TaskEntityType), now: time.Now,
		renewalChunk: db.Size{First: renewalChunk}}
}

// Get returns the org's client id, read in one round trip (db.DB.Read); a missing or other org's
// client is apperr.NotFound.
func (s *Service) Get(ctx context.Context, orgID, id uuid.UUID) (Client, error) {
	r, err := db.ReadByID[clientRow](ctx, s.d, orgID, EntityType, id, getClientSQL)
	return r.client(), err
}

// List returns a page of the org's clients that pass f, newest first. An unknown status is
// apperr.BadRequest, as is a cursor of another list.
func (s *Service) List(ctx context.Context, orgID uuid.UUID, f ListFilter) (page.Page[Client], error) {
	if f.Status != "" && !f.Status.Valid() {
		return page.Page[Client]{}, apperr.Errorf(apperr.BadRequest, "status %s", oneOf(Statuses())).
			WithFields(apperr.FieldError{Field: "status", Message: oneOf(Statuses())})
	}
	var a db.Args
	q := listClientsSQL + a.Add(db.UUID(orgID))
	if f.Status != "" {
		q += statusIsSQL + a.Add(string(f.Status))
	}
	out, err := db.ReadPage(ctx, s.d, orgID, keyset, f.Page, q, a, clientRow.client)
	if err != nil {
		return out, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// ChangeStatus moves the client id to status to along the machine (onboarding -> active ->
// paused | churned, and back to active), emitting client.status_changed. The row is locked
// first; a move the machine refuses is apperr.Conflict with Extra "currentStatus" and "allowed",
// an unknown status apperr.Invalid.
func (s *Service) ChangeStatus(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, to Status) (Client, error) {
	if !to.Valid() {
		return Client{}, invalid(apperr.FieldError{Field: "status", Message: oneOf(Statuses())})
	}
	var out Client
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := getClient(ctx, tx, orgID, id, true)
		if err != nil {
			return err
		}
		from := Status(cur.Status)
		if err := transitions.Check("a client", from, to); err != nil {
			return err
		}
		at := s.now().UTC().Truncate(time.Microsecond)
		if _, err := db.Exec(ctx, tx, setStatusSQL, orgID, id, string(to), at); err != nil {
			return fmt.Errorf("set client status: %w", err)
		}
		if err := s.emit(ctx, tx, orgID, actor, EventStatusChanged, id,
			fmt.Sprintf("client.status_changed:%s:%d", id, at.UnixNano()), StatusChangedPayload{From: from, To: to}); err != nil {
			return fmt.Errorf("emit client.status_changed: %w", err)
		}
		r, err := getClient(ctx, tx, orgID, id, false)
		out = r.client()
		return err
	})
	if err != nil {
		return Client{}, fmt.Errorf("change client status: %w", err)
	}
	return out, nil
}

// SetRenewalDate sets the client id's renewal date (a date YYYY-MM-DD, else apperr.Invalid).
func (s *Service) SetRenewalDate(ctx context.Context, orgID uuid.UUID, id uuid.UUID, date string) (Client, error) {
	if !checkDate(date) {
		return Client{}, invalid(apperr.FieldError{Field: "renewalDate", Message: "must be a date YYYY-MM-DD"})
	}
	var out Client
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		if _, err := getClient(ctx, tx, orgID, id, true); err != nil {
			return err
		}
		if _, err := db.Exec(ctx, tx, setRenewalSQL, orgID, id, date); err != nil {
			return fmt.Errorf("set renewal date: %w", err)
		}
		r, err := getClient(ctx, tx, orgID, id, false)
		out = r.client()
		return err
	})
	if err != nil {
		return Client{}, fmt.Errorf("update client: %w", err)
	}
	return out, nil
}

// Tasks returns the client id's onboarding tasks in their order (none before start_onboarding
// ran); a missing client is apperr.NotFound.
func (s *Service) Tasks(ctx context.Context, orgID, id uuid.UUID) ([]Task, error) {
	var out []Task
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		if _, err := getClient(ctx, tx, orgID, id, false); err != nil {
			return err
		}
		var err error
		out, err = listTasks(ctx, tx, orgID, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list onboarding tasks: %w", err)
	}
	return out, nil
}

// SetTask sets the status of the client's onboarding task: done or skipped stamps completedAt,
// pending clears it; a change of status emits onboarding_task.status_changed. When afterwards every task is done or skipped and the client was never
// onboarded, it is marked onboarded, becomes active when it is still onboarding, and
// client.onboarded is emitted: once, since the client's row is locked first and onboarded_at is
// kept (a task set back to pending later changes neither).
func (s *Service) SetTask(ctx context.Context, orgID uuid.UUID, actor string, clientID, taskID uuid.UUID, to TaskStatus) (Task, error) {
	if !to.Valid() {
		return Task{}, invalid(apperr.FieldError{Field: "status", Message: oneOf([]string{string(TaskDone), string(TaskSkipped), string(TaskPending)})})
	}
	var out Task
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := getClient(ctx, tx, orgID, clientID, true)
		if err != nil {
			return err
		}
		prev, err := lockTask(ctx, tx, orgID, clientID, taskID)
		if err != nil {
			return err
		}
		at := s.now().UTC().Truncate(time.Microsecond)
		if _, err := db.Exec(ctx, tx, setTaskSQL, orgID, taskID, string(to), at); err != nil {
			return fmt.Errorf("set onboarding task: %w", err)
		}
		if out, err = lockTask(ctx, tx, orgID, clientID, taskID); err != nil {
			return err
		}
		if prev.Status != to {
			key := fmt.Sprintf("%s:%s:%d", EventTaskStatusChanged, taskID, at.UnixNano())
			if err := s.emitTask(ctx, tx, orgID, actor, EventTaskStatusChanged, taskID, key, TaskStatusChangedPayload{
				ClientID: clientID, Title: out.Title, Position: out.Position, From: prev.Status, To: to,
			}); err != nil {
				return fmt.Errorf("emit %s: %w", EventTaskStatusChanged, err)
			}
		}
		if cur.OnboardedAt != nil || to == TaskPending {
			return nil
		}
		n, _, err := db.Get[taskCounts](ctx, tx, taskCountsSQL, orgID, clientID)
		if err != nil {
			return fmt.Errorf("count onboarding tasks: %w", err)
		}
		if n.Pending > 0 {
			return nil
		}
		if _, err := db.Exec(ctx, tx, onboardSQL, orgID, clientID, at); err != nil {
			return fmt.Errorf("onboard client: %w", err)
		}
		return s.emit(ctx, tx, orgID, actor, EventOnboarded, clientID, "client.onboarded:"+clientID.String(),
			OnboardedPayload{Done: n.Done, Skipped: n.Skipped})
	})
	if err != nil {
		return Task{}, fmt.Errorf("set onboarding task: %w", err)
	}
	return out, nil
}
