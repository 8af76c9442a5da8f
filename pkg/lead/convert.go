package lead

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
)

// Conversion is the conversion of the lead LeadID for a deal; Reason is the stage reason
// (trimmed, cut to MaxReasonLen characters).
type Conversion struct {
	LeadID uuid.UUID
	Reason string
}

// Converted is what Convert did for one Conversion: the lead as it is afterwards, and whether
// this call moved it.
type Converted struct {
	Lead    Lead
	Changed bool
}

// Convert converts the live lead of each conversion for a deal, inside the caller's tenant
// transaction tx (the deal's creation), through the stage machine: a lead in call_booked moves to
// converted and lead.stage_changed is emitted with the reason; a lead that is converted already
// (a further deal of a client) stays as it is and Changed is false. The leads' rows are locked
// until tx ends, so a concurrent stage change of a lead serialises with the deal. A missing or
// deleted lead is apperr.NotFound; a lead whose stage cannot move to converted is
// apperr.Conflict with Extra "currentStage" and "allowed" (the lead's possible moves); either
// fails the whole call.
func (s *Service) Convert(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, actor string, cs []Conversion) ([]Converted, error) {
	ids := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		ids[i] = c.LeadID
	}
	leads, err := lockLive(ctx, tx, orgID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Converted, len(cs))
	for i, c := range cs {
		cur, ok := leads[c.LeadID]
		switch {
		case !ok:
			return nil, notFound(c.LeadID)
		case cur.Stage == StageConverted:
			out[i] = Converted{Lead: cur}
			continue
		case !CanMove(cur.Stage, StageConverted):
			return nil, apperr.Errorf(apperr.Conflict, "a lead in stage %s cannot be converted", cur.Stage).
				With("currentStage", cur.Stage).With("allowed", Allowed(cur.Stage))
		}
		reason := strings.TrimSpace(c.Reason)
		if r := []rune(reason); len(r) > MaxReasonLen {
			reason = string(r[:MaxReasonLen])
		}
		to := StageConverted
		moved, row, err := storeOne(ctx, tx, orgID, cur, Write{Stage: &to, Reason: ptr(reason)})
		if err != nil {
			return nil, err
		}
		if err := s.emit(ctx, tx, orgID, actor, EventStageChanged, cur.ID,
			fmt.Sprintf("lead.stage_changed:%s:%d", cur.ID, moved.Version),
			WithRow(StageChangedPayload{From: cur.Stage, To: StageConverted, Reason: ptr(reason), Version: moved.Version}, row)); err != nil {
			return nil, err
		}
		leads[cur.ID], out[i] = moved, Converted{Lead: moved, Changed: true}
	}
	return out, nil
}
