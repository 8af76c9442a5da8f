package lead

// The lead's recurring sweeps (the cron tasks recalc_ghost_risk and recalc_auto_priority): each
// walks one org's leads in keyset chunks (db.DB.Chunks), one short tenant transaction per chunk,
// so the row locks of a chunk's writes are held for one chunk only and the api's writes on the
// same leads wait at most that long. Every write is guarded by a state check in its own
// statement, so a rerun of a slot, or of a sweep that stopped halfway, changes nothing twice.

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
)

// chunkSize is the chunk size of the sweeps: adapted by the handle's pace (db.DB.Chunks, which
// bounds each chunk's time), or Service.SweepChunk's fixed size. A chunk's time depends on how
// many of its leads change (an unchanged lead is a probe of its key; a changed one a new row
// version and an event, several times as much) and on what is in the cache, so no fixed size
// keeps every chunk short.
func (s *Service) chunkSize() db.Size {
	if s.SweepChunk > 0 {
		return db.Fixed(s.SweepChunk)
	}
	return db.DefaultSize
}

// SweepResult is what one sweep of an org did: the chunks (transactions) it committed and the
// leads it changed (one event each).
type SweepResult struct {
	Chunks  int
	Changed int
}

// RecalcGhostRisk counts a silence period on every contacted or call_booked lead of the org that
// has been silent for silenceDays as of slot: its ghost risk goes up by one (derived data: the
// lead's version and updated_at stay) and
// lead.ghost_risk_raised records the rule (GhostRiskRaisedPayload), once per period. Silence is
// measured from the latest of the lead's last touchpoint (last_activity_at, which every activity
// a person logs, a call booked or held, a repeated intake submission and a nudge move on), its
// last stage change, and the slot of the period counted last: so a second sweep within
// silenceDays of a count changes nothing, the next period counts again, and any touchpoint starts
// the silence afresh. A no-show or a cancelled call is silence, not a touchpoint. silenceDays
// below 1 is apperr.Invalid.
func (s *Service) RecalcGhostRisk(ctx context.Context, orgID uuid.UUID, slot time.Time, silenceDays int) (SweepResult, error) {
	if silenceDays < 1 {
		return SweepResult{}, apperr.Errorf(apperr.Invalid, "ghost risk silence days must be at least 1, got %d", silenceDays)
	}
	slot = slot.UTC()
	var res SweepResult
	after := uuid.Nil
	n, err := s.db.Chunks(ctx, orgID, s.chunkSize(), func(ctx context.Context, tx *gorm.DB, size int) (bool, error) {
		type row struct {
			Last        *uuid.UUID `gorm:"column:last"`
			N           int        `gorm:"column:n"`
			ID          *uuid.UUID `gorm:"column:id"`
			GhostRisk   int        `gorm:"column:ghost_risk"`
			Stage       *string    `gorm:"column:stage"`
			SilentSince *time.Time `gorm:"column:silent_since"`
			UpdatedAt   *time.Time `gorm:"column:updated_at"`
		}
		if _, err := db.Exec(ctx, tx, sweepSettingsSQL); err != nil {
			return false, fmt.Errorf("set the chunk up: %w", err)
		}
		rows, err := db.Select[row](ctx, tx, ghostRiskChunkSQL, orgID, after, size, slot, silenceDays)
		if err != nil {
			return false, fmt.Errorf("raise ghost risk: %w", err)
		}
		evs := make([]events.NewEvent, 0, len(rows))
		for _, r := range rows {
			if r.ID == nil {
				continue
			}
			evs = append(evs, NewEvent(orgID, GhostRiskActor, EventGhostRiskRaised, *r.ID,
				fmt.Sprintf("%s:%s:%d", EventGhostRiskRaised, *r.ID, slot.Unix()),
				WithRow(GhostRiskRaisedPayload{From: r.GhostRisk - 1, To: r.GhostRisk, Rule: GhostRiskRule{
					Name: GhostRiskRuleSilence, SilenceDays: silenceDays, SilentSince: r.SilentSince.UTC(),
					Stage: Stage(*r.Stage), Slot: slot,
				}}, ghostRiskRow(r.GhostRisk, *r.UpdatedAt))))
		}
		if len(evs) > 0 {
			if _, err := s.emitter.EmitAll(ctx, tx, evs...); err != nil {
				return false, fmt.Errorf("raise ghost risk: %w", err)
			}
		}
		res.Changed += len(evs)
		if len(rows) == 0 || rows[0].N < size {
			return true, nil
		}
		after = *rows[0].Last
		return false, nil
	})
	res.Chunks = n
	if err != nil {
		return res, fmt.Errorf("recalc ghost risk of org %s: %w", orgID, err)
	}
	return res, nil
}

// RecalcAutoPriority gives every live lead of the org the priority of the rule table (rules, see
// PriorityRules) as of slot, and emits lead.priority_changed (PriorityChangedPayload: from, to,
// the row that fired and its inputs) for each lead whose priority changed, moving its version on
// by one, as any priority change does: a client's PATCH with the version it read before the sweep
// gets its conflict, since it would otherwise write back a priority it never saw. Its updated_at
// stays: the table's priority is derived from the lead's data, and updated_at says when that data
// last changed (which also keeps the write a HOT update, see priorityWritesSQL). A lead whose priority is already the table's is not written and emits
// nothing; nor is one whose priority was set otherwise within rules.Hold before slot, or one
// changed between the chunk's read and its write (the next sweep takes it). Thresholds the
// table cannot work with are apperr.Invalid.
func (s *Service) RecalcAutoPriority(ctx context.Context, orgID uuid.UUID, slot time.Time, rules PriorityRules) (SweepResult, error) {
	if err := rules.Check(); err != nil {
		return SweepResult{}, apperr.Errorf(apperr.Invalid, "%s", err)
	}
	slot = slot.UTC()
	holdSince := slot.Add(-rules.Hold)
	var res SweepResult
	after := uuid.Nil
	n, err := s.db.Chunks(ctx, orgID, s.chunkSize(), func(ctx context.Context, tx *gorm.DB, size int) (bool, error) {
		type row struct {
			ID            uuid.UUID `gorm:"column:id"`
			Version       int       `gorm:"column:version"`
			Priority      Priority  `gorm:"column:priority"`
			Stage         Stage     `gorm:"column:stage"`
			Score         *int      `gorm:"column:score"`
			GhostRisk     int       `gorm:"column:ghost_risk"`
			Deleted       bool      `gorm:"column:deleted"`
			OpenDealValue *int64    `gorm:"column:open_deal_value"`
		}
		if _, err := db.Exec(ctx, tx, sweepSettingsSQL); err != nil {
			return false, fmt.Errorf("set the chunk up: %w", err)
		}
		rows, err := db.Select[row](ctx, tx, priorityChunkSQL, orgID, after, size)
		if err != nil {
			return false, fmt.Errorf("read lead priorities: %w", err)
		}
		type change struct {
			from, to Priority
			rule     string
			in       PriorityInputs
		}
		changes := map[uuid.UUID]change{}
		var ids []string
		var versions []int32
		var tos []string
		for _, r := range rows {
			if r.Deleted {
				continue
			}
			in := PriorityInputs{Stage: r.Stage, Score: r.Score, GhostRisk: r.GhostRisk, OpenDealValue: r.OpenDealValue}
			to, rule := rules.AutoPriority(in)
			if to == r.Priority {
				continue
			}
			changes[r.ID] = change{from: r.Priority, to: to, rule: rule, in: in}
			ids, versions, tos = append(ids, r.ID.String()), append(versions, int32(r.Version)), append(tos, string(to))
		}
		if len(ids) > 0 {
			if err := s.writePriorities(ctx, tx, orgID, holdSince, ids, versions, tos, func(id uuid.UUID, version int) events.NewEvent {
				c := changes[id]
				return NewEvent(orgID, AutoPriorityActor, EventPriorityChanged, id,
					fmt.Sprintf("%s:%s:%d", EventPriorityChanged, id, version),
					WithRow(PriorityChangedPayload{From: c.from, To: c.to, Version: version, Rule: c.rule, Inputs: c.in},
						priorityRow(c.to, version)))
			}, &res.Changed); err != nil {
				return false, err
			}
		}
		if len(rows) < size {
			return true, nil
		}
		after = rows[len(rows)-1].ID
		return false, nil
	})
	res.Chunks = n
	if err != nil {
		return res, fmt.Errorf("recalc auto priority of org %s: %w", orgID, err)
	}
	return res, nil
}

// writePriorities runs priorityWritesSQL for one chunk's changes and emits the event of each lead
// it changed (event of the lead's id and new version), adding their number to changed.
func (s *Service) writePriorities(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, holdSince time.Time,
	ids []string, versions []int32, tos []string, event func(uuid.UUID, int) events.NewEvent, changed *int,
) error {
	type written struct {
		ID        uuid.UUID `gorm:"column:id"`
		Version   int       `gorm:"column:version"`
		UpdatedAt time.Time `gorm:"column:updated_at"`
	}
	out, err := db.Select[written](ctx, tx, priorityWritesSQL, orgID, ids, versions, tos, holdSince)
	if err != nil {
		return fmt.Errorf("write lead priorities: %w", err)
	}
	if len(out) == 0 {
		return nil
	}
	evs := make([]events.NewEvent, len(out))
	for i, w := range out {
		evs[i] = event(w.ID, w.Version)
		evs[i].Payload = WithRow(evs[i].Payload, updatedAtRow(w.UpdatedAt)) // the row record's updatedAt
	}
	if _, err := s.emitter.EmitAll(ctx, tx, evs...); err != nil {
		return fmt.Errorf("write lead priorities: %w", err)
	}
	*changed += len(out)
	return nil
}
