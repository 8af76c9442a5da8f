package events

import (
	"context"
	"fmt"

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
