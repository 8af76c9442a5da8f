package lead

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
)

// ConvertTx converts the live lead id for a deal, inside the caller's tenant transaction tx (the
// deal's creation), through the stage machine: a lead in call_booked moves to converted and
// lead.stage_changed is emitted with reason; a lead that is converted already (a further deal
// of a client) stays as it is and changed is false. The lead's row is locked until tx ends, so
// a concurrent stage change of the lead serialises with the deal. A missing or deleted lead is
// apperr.NotFound; a lead whose stage cannot move to converted is apperr.Conflict with Extra
// "currentStage" and "allowed" (the lead's possible moves).
func (s *Service) ConvertTx(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, id uuid.UUID, reason string) (l Lead, changed bool, err error) {
	cur, err := getLead(tx, orgID, id, true)
	if err != nil {
		return Lead{}, false, err
	}
	if cur.Stage == StageConverted {
		return cur, false, nil
	}
	if !CanMove(cur.Stage, StageConverted) {
		return Lead{}, false, apperr.Errorf(apperr.Conflict, "a lead in stage %s cannot be converted", cur.Stage).
			With("currentStage", cur.Stage).With("allowed", Allowed(cur.Stage))
	}
	reason = strings.TrimSpace(reason)
	if r := []rune(reason); len(r) > MaxReasonLen {
		reason = string(r[:MaxReasonLen])
	}
	out, err := setStage(tx, orgID, id, StageConverted, ptr(reason))
	if err != nil {
		return Lead{}, false, err
	}
	err = s.emit(ctx, tx, orgID, actor, EventStageChanged, id,
		fmt.Sprintf("lead.stage_changed:%s:%d", id, out.Version),
		StageChangedPayload{From: cur.Stage, To: StageConverted, Reason: ptr(reason), Version: out.Version})
	if err != nil {
		return Lead{}, false, err
	}
	return out, true, nil
}
