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
func (s *Service) chunkSize() db.Size { return db.FixedOr(s.SweepChunk, 0) }

// SweepResult is what one sweep of an org did: the chunks (transactions) it committed and the
// leads it changed (one event each).
type SweepResult struct {
	Chunks  int
	Changed int
	// Walk is how the auto-priority sweep walked the org: WalkIDs, WalkPages, or
	// WalkPagesThenIDs (empty for the other sweeps).
	Walk string
}

// The walks of the auto-priority sweep (SweepResult.Walk; see priorityWalk).
const (
	WalkIDs          = "ids"
	WalkPages        = "pages"
	WalkPagesThenIDs = "pages, then ids"
)

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
// last changed (which also keeps the write a HOT update). A lead whose priority is already the
// table's is not written and emits nothing; nor is one whose priority was set otherwise within
// rules.Hold before slot, or one changed while its chunk ran (the next sweep takes it). Each
// chunk is one statement that computes the table in SQL and returns only the leads it changed;
// AutoPriority is the same table in Go, the one the documentation and the tests hold it to. An
// org with most of the leads table is walked by the table's pages in order (autoPriorityPagesSQL,
// see priorityWalk) while its changes are sparse, any other by its leads in id order
// (autoPriorityChunkSQL). Thresholds the table cannot work with are apperr.Invalid.
func (s *Service) RecalcAutoPriority(ctx context.Context, orgID uuid.UUID, slot time.Time, rules PriorityRules) (SweepResult, error) {
	if err := rules.Check(); err != nil {
		return SweepResult{}, apperr.Errorf(apperr.Invalid, "%s", err)
	}
	slot = slot.UTC()
	holdSince := slot.Add(-rules.Hold)
	walk, err := s.priorityWalk(ctx, orgID)
	if err != nil {
		return SweepResult{}, fmt.Errorf("recalc auto priority of org %s: %w", orgID, err)
	}
	res := SweepResult{Walk: WalkIDs}
	if walk.byPages {
		res.Walk = WalkPages
	}
	after := uuid.Nil
	n, err := s.db.Chunks(ctx, orgID, s.chunkSize(), func(ctx context.Context, tx *gorm.DB, size int) (bool, error) {
		type row struct {
			Last          *uuid.UUID `gorm:"column:last"`
			N             int        `gorm:"column:n"`
			Pages         int64      `gorm:"column:pages"`
			ID            *uuid.UUID `gorm:"column:id"`
			Version       int        `gorm:"column:version"`
			UpdatedAt     *time.Time `gorm:"column:updated_at"`
			From          Priority   `gorm:"column:from_priority"`
			To            Priority   `gorm:"column:to_priority"`
			Rule          string     `gorm:"column:rule"`
			Stage         Stage      `gorm:"column:stage"`
			Score         *int       `gorm:"column:score"`
			GhostRisk     int        `gorm:"column:ghost_risk"`
			OpenDealValue *int64     `gorm:"column:open_deal_value"`
		}
		var rows []row
		var err error
		pages := walk.pagesOf(size)
		if walk.byPages {
			rows, err = db.Select[row](ctx, tx, autoPriorityPagesSQL, orgID, tidOf(walk.next), tidOf(walk.next+pages),
				rules.HotScore, rules.WarmScore, rules.ColdGhostRisk, rules.LargeDealValue, holdSince)
		} else {
			rows, err = db.Select[row](ctx, tx, autoPriorityChunkSQL, orgID, after, size,
				rules.HotScore, rules.WarmScore, rules.ColdGhostRisk, rules.LargeDealValue, holdSince)
		}
		if err != nil {
			return false, fmt.Errorf("write lead priorities: %w", err)
		}
		evs := make([]events.NewEvent, 0, len(rows))
		for _, r := range rows {
			if r.ID == nil {
				continue
			}
			in := PriorityInputs{Stage: r.Stage, Score: r.Score, GhostRisk: r.GhostRisk, OpenDealValue: r.OpenDealValue}
			evs = append(evs, NewEvent(orgID, AutoPriorityActor, EventPriorityChanged, *r.ID,
				fmt.Sprintf("%s:%s:%d", EventPriorityChanged, *r.ID, r.Version),
				WithRow(WithRow(PriorityChangedPayload{From: r.From, To: r.To, Version: r.Version, Rule: r.Rule, Inputs: in},
					priorityRow(r.To, r.Version)), updatedAtRow(*r.UpdatedAt))))
		}
		if len(evs) > 0 {
			if _, err := s.emitter.EmitAll(ctx, tx, evs...); err != nil {
				return false, fmt.Errorf("write lead priorities: %w", err)
			}
		}
		res.Changed += len(evs)
		switch {
		case walk.byPages:
			if walk.next += pages; len(rows) == 0 || walk.next >= rows[0].Pages {
				return true, nil
			}
			if walk.read, walk.changed = walk.read+rows[0].N, walk.changed+len(evs); walk.dense() {
				// The rest of the org by its ids, from the first: the leads the page chunks
				// changed have the table's priority and are read again, not written.
				walk.byPages, res.Walk = false, WalkPagesThenIDs
			}
		case len(rows) == 0 || rows[0].N < size:
			return true, nil
		default:
			after = *rows[0].Last
		}
		return false, nil
	})
	res.Chunks = n
	if err != nil {
		return res, fmt.Errorf("recalc auto priority of org %s: %w", orgID, err)
	}
	return res, nil
}

// dense tells whether the page walk so far changes too many of the leads it reads for that walk:
// a quarter or more, once it has read a fiftieth of the org's leads (at least denseWalkLeads). A
// page of leads holds about a dozen and has room for one more row version (fillfactor 90,
// migration 000032), which a HOT update needs on the lead's own page; the versions a chunk
// replaces free their room only once it has committed. So a chunk that changes several leads of
// each page it reads (as the first sweep after a change of the rules or over imported priorities
// does, most leads of the org) writes most of them as new versions on other pages, each with an
// entry in every index of leads, and the walk meets them again at the table's end: measured at
// 1,000,000 leads, 15 % HOT updates and 8.5 minutes; the walk in id order, whose chunk's leads lie
// one to a random page, made 95 % of them HOT. A recurring sweep changes a few per cent of the
// leads and keeps the page walk, whose reads are the cheaper. It is judged over a part of the
// walk, not one chunk: the leads changed since the last sweep (rescored, moved a stage) got their
// new versions wherever the table had room, which can be its first pages, denser than the rest.
func (w *priorityWalk) dense() bool {
	return w.read >= max(denseWalkLeads, w.leads/50) && 4*w.changed >= w.read
}

// denseWalkLeads is the fewest leads the page walk reads before dense judges it.
const denseWalkLeads = 100

// DefaultHeapWalkLeads is the number of live leads from which the auto-priority sweep of an org
// walks the heap of leads in page order (autoPriorityPagesSQL) rather than the org's leads in id
// order, provided they are also at least one per page of the table: below it a walk in id order
// reads at most that many pages, a twentieth of the walk of an org of 1,000,000, and the heap's
// pages may be mostly other orgs' leads.
const DefaultHeapWalkLeads = 50_000

// priorityWalk is how one auto-priority sweep walks the org: in id order, or by the heap's pages
// from next (byPages), a chunk of size leads being about size/perPage pages.
type priorityWalk struct {
	byPages bool
	next    int64
	perPage float64
	// leads is the org's live leads when the walk began; read and changed count the leads the
	// page walk has read and changed (see dense).
	leads, read, changed int
}

// priorityWalk chooses the walk of the org's auto-priority sweep (autoPriorityPlanSQL): by the
// heap's pages when the org has at least Service.HeapWalkLeads live leads (DefaultHeapWalkLeads
// when zero) and at least as many as the table has pages, so that reading every page of the
// table in order costs less than a random page per lead of the org; in id order otherwise.
func (s *Service) priorityWalk(ctx context.Context, orgID uuid.UUID) (*priorityWalk, error) {
	type plan struct {
		Leads  int64   `gorm:"column:leads"`
		Pages  int64   `gorm:"column:pages"`
		Tuples float64 `gorm:"column:tuples"`
	}
	var p plan
	if err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		var err error
		p, _, err = db.Get[plan](ctx, tx, autoPriorityPlanSQL, orgID)
		return err
	}); err != nil {
		return nil, fmt.Errorf("choose the walk: %w", err)
	}
	from := int64(s.HeapWalkLeads)
	if from == 0 {
		from = DefaultHeapWalkLeads
	}
	w := &priorityWalk{perPage: 1, leads: int(p.Leads)}
	if p.Pages > 0 && p.Tuples > 0 {
		w.perPage = max(1, p.Tuples/float64(p.Pages))
	}
	w.byPages = from > 0 && p.Leads >= from && p.Leads >= p.Pages
	return w, nil
}

// pagesOf is the pages of a chunk of size leads of the table.
func (w *priorityWalk) pagesOf(size int) int64 {
	return max(1, int64(float64(size)/w.perPage))
}

// tidOf is the first tuple id of page, as text ("(page,0)").
func tidOf(page int64) string {
	return fmt.Sprintf("(%d,0)", page)
}
