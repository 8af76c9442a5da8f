package integrity

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// Resolve resolves the org's open alert id by hand (a person says it is dealt with), emitting
// system.integrity_alert_resolved with actor, and returns the alert. An alert of another org or
// none at all is apperr.NotFound; one resolved already (by hand or by a run) is apperr.Conflict
// and stays as it was, as a second retry of a dead letter is: the answer tells the caller that
// its resolve did not happen, and the Idempotency-Key replays a repeated request's first answer.
//
// Resolving does not change the data: when the condition still holds, the next run opens a new
// alert for it (a new row and a new system.integrity_alert). A hand resolve is an acknowledgement,
// not a silence: an alert that stayed resolved while the chain is still broken would hide the
// very thing the watchdog is for, and the new alert says the fix did not take.
func (s *Service) Resolve(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID) (Alert, error) {
	var out Alert
	err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		found := false
		err := db.Each(ctx, tx, func(row db.Row) error {
			a, err := scanAlert(row)
			out, found = a, err == nil
			return err
		}, resolveAlertSQL, orgID, id)
		if err != nil {
			return err
		}
		if !found {
			resolved, ok, err := db.Get[bool](ctx, tx, alertStateSQL, orgID, id)
			switch {
			case err != nil:
				return err
			case !ok:
				return apperr.Errorf(apperr.NotFound, "integrity alert %s not found", id)
			case resolved:
				return apperr.Errorf(apperr.Conflict, "integrity alert %s is resolved already", id)
			}
			return fmt.Errorf("integrity alert %s is open but was not resolved", id)
		}
		_, err = s.em.EmitAll(ctx, tx, newEvent(orgID, actor, EventResolved, out.ID, ResolvedPayload{
			AlertID: out.ID, CheckName: out.CheckName, EntityType: out.EntityType, EntityID: out.EntityID, By: ResolvedByHand,
		}))
		return err
	})
	if err != nil {
		return Alert{}, fmt.Errorf("resolve integrity alert: %w", err)
	}
	return out, nil
}
