package contract

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

// Service holds the contract use cases. Each change runs in one tenant transaction of the org it
// is given and emits its event there.
type Service struct {
	d    *db.DB
	emit events.EmitFunc
	now  func() time.Time
}

// NewService returns the use cases on d, emitting through emitter; both are required.
func NewService(d *db.DB, emitter *events.Emitter) *Service {
	if d == nil || emitter == nil {
		panic("contract.NewService: nil dependency")
	}
	return &Service{d: d, emit: emitter.About(EntityType), now: time.Now}
}

// Get returns the org's contract id, read in one round trip (db.DB.Read); a missing or other org's
// contract is apperr.NotFound.
func (s *Service) Get(ctx context.Context, orgID, id uuid.UUID) (Contract, error) {
	r, err := db.ReadByID[contractRow](ctx, s.d, orgID, EntityType, id, getContractSQL)
	return r.contract(), err
}

// Document returns the org's contract's stored PDF; a contract the org lacks, or one without a
// document, is apperr.NotFound. It reads in one round trip (db.DB.Read): the document route is hot.
func (s *Service) Document(ctx context.Context, orgID, id uuid.UUID) ([]byte, error) {
	return s.d.ReadDocument(ctx, orgID, EntityType, id, getDocumentSQL)
}

// List returns a page of the org's contracts that pass f, newest generated first. A cursor of
// another list is apperr.BadRequest.
func (s *Service) List(ctx context.Context, orgID uuid.UUID, f ListFilter) (page.Page[Contract], error) {
	var a db.Args
	q := listContractsSQL + a.Add(db.UUID(orgID))
	if f.DealID != nil {
		q += dealIsSQL + a.Add(db.UUID(*f.DealID))
	}
	out, err := db.ReadPage(ctx, s.d, orgID, keyset, f.Page, q, a, contractRow.contract)
	if err != nil {
		return out, fmt.Errorf("list contracts: %w", err)
	}
	return out, nil
}

// SetStatus moves the contract id to status to per the machine (generated -> sent -> signed, any
// but signed -> void), emitting contract.status_changed. An unknown status is apperr.Invalid; a
// move the machine refuses (the same status included) is apperr.Conflict with Extra
// "currentStatus" and "allowed". The row is locked first, so of two concurrent moves the second
// sees the first's status.
func (s *Service) SetStatus(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, to Status) (Contract, error) {
	if !to.Valid() {
		return Contract{}, apperr.Errorf(apperr.Invalid, "contract input is invalid").
			WithFields(apperr.FieldError{Field: "status", Message: "must be one of: generated, sent, signed, void"})
	}
	var out Contract
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := getContract(ctx, tx, orgID, id, true)
		if err != nil {
			return err
		}
		if err := transitions.Check("a contract", cur.Status, to); err != nil {
			return err
		}
		if _, err := db.Exec(ctx, tx, setStatusSQL, orgID, id, string(to)); err != nil {
			return fmt.Errorf("set contract status: %w", err)
		}
		if err := s.emit(ctx, tx, orgID, actor, EventStatusChanged, id, "contract.status_changed:"+id.String()+":"+string(to),
			StatusChangedPayload{DealID: cur.DealID.String(), From: cur.Status, To: to}); err != nil {
			return fmt.Errorf("emit contract.status_changed: %w", err)
		}
		out, err = getContract(ctx, tx, orgID, id, false)
		return err
	})
	if err != nil {
		return Contract{}, fmt.Errorf("set contract status: %w", err)
	}
	return out, nil
}
