package events

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
)

// ReportedKeysSQL returns which of the idempotency keys $2 the org $1's events already hold: one
// probe of the unique index events_idempotency_key per key, with both of its columns bound, so
// the cost is a few buffers a key however many events the org has and whatever the statistics
// say. Each key's probe is a LATERAL subquery with a LIMIT, which the planner can neither turn
// into a join over the org's events nor merge into one scan: the plain form, "idempotency_key =
// ANY($2)" in one WHERE, is planned without statistics as a scan of every event of the org on
// org_id alone with the keys as a filter. It is exported for the plan tests of its callers.
const ReportedKeysSQL = `SELECT k.key
FROM unnest($2::text[]) AS k(key)
CROSS JOIN LATERAL (
    SELECT 1 FROM events e WHERE e.org_id = $1 AND e.idempotency_key = k.key LIMIT 1
) e`

// EmitAllNew is EmitAll for writers that mostly repeat events already stored, such as a sweep
// that reports the same periods on every run until they end: it first reads which of evs' keys
// the org's events hold (ReportedKeysSQL) and emits only the others, so a repeat costs an index
// probe instead of its payload's encoding, transfer and refused insert. The unique key still
// decides: an event stored by another transaction between the probe and the insert is skipped
// by EmitAll as before. evs are of one org. It returns how many events it created and how many
// it left out as already reported.
func (e *Emitter) EmitAllNew(ctx context.Context, tx *gorm.DB, evs ...NewEvent) (emitted, reported int, err error) {
	if len(evs) == 0 {
		return 0, 0, nil
	}
	orgID := evs[0].OrgID
	keys := make([]string, len(evs))
	for i, ev := range evs {
		if ev.OrgID != orgID {
			return 0, 0, fmt.Errorf("emit %s: the events of one call are of one org", ev.Type)
		}
		keys[i] = ev.IdempotencyKey
	}
	stored, err := db.Select[string](ctx, tx, ReportedKeysSQL, orgID, keys)
	if err != nil {
		return 0, 0, fmt.Errorf("read reported %s keys: %w", evs[0].Type, err)
	}
	if len(stored) > 0 {
		seen := make(map[string]bool, len(stored))
		for _, k := range stored {
			seen[k] = true
		}
		fresh := make([]NewEvent, 0, len(evs)-len(stored))
		for _, ev := range evs {
			if seen[ev.IdempotencyKey] {
				reported++
				continue
			}
			fresh = append(fresh, ev)
		}
		evs = fresh
	}
	emitted, err = e.EmitAll(ctx, tx, evs...)
	return emitted, reported, err
}

// SweepResult is what one event sweep (Emitter.Sweep) did.
type SweepResult struct {
	// Chunks is how many chunk transactions committed.
	Chunks int
	// Found is how many events the chunks' reads asked for; Reported how many of them an
	// earlier sweep had stored, which were not sent again; Emitted how many were created (the
	// rest were stored by a concurrent sweep in the meantime).
	Found, Reported, Emitted int
	// At is the instant the rows were measured at: the slot.
	At time.Time
}

// Sweep is the form of a check that reports rows of an org as events: it walks the org's rows
// of table in primary-key order, in chunks within size, each chunk in its own tenant transaction
// (db.DB.KeyRanges, under the handle's pace), and emits the events read returns for the chunk's key range with
// EmitAllNew, so that what an earlier sweep reported costs an index probe, not a resend. read
// reads the range by key (at most the chunk's rows, whatever else its statement selects) on the
// ctx it is given (the chunk's budget) and locks nothing. The result's At is left to the caller.
func (e *Emitter) Sweep(ctx context.Context, d *db.DB, orgID uuid.UUID, table string, size db.Size,
	read func(ctx context.Context, tx *gorm.DB, r db.KeyRange) ([]NewEvent, error)) (SweepResult, error) {
	var res SweepResult
	var err error
	res.Chunks, err = d.KeyRanges(ctx, orgID, table, size, func(ctx context.Context, tx *gorm.DB, r db.KeyRange) error {
		evs, err := read(ctx, tx, r)
		if err != nil {
			return err
		}
		emitted, reported, err := e.EmitAllNew(ctx, tx, evs...)
		if err != nil {
			return err
		}
		res.Found += len(evs)
		res.Reported += reported
		res.Emitted += emitted
		return nil
	})
	return res, err
}
