package rules

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/org"
)

// nowSQL is the database's clock, the one the scheduler's slots come from.
const nowSQL = `SELECT now()`

// Sweep is what the checks that apply an org's rules to its rows and report them as events
// (check_deal_decay, check_lead_stale) share: their database, emitter and rules, their chunk
// size, and the start of a run. A check embeds it and walks its rows with Walk.
type Sweep struct {
	d       *db.DB
	emitter *events.Emitter
	rules   org.Setting[Rules]
	// ChunkSize, when positive, is how many rows every chunk reads; 0 adapts the size to the
	// pace of the handle (db.DB.Chunks), starting from the check's default.
	ChunkSize int
}

// NewSweep returns the shared part of the check name on d, emitting through emitter, reading
// each org's rules through set (For: its defaults are the binary's configuration).
func NewSweep(name string, d *db.DB, emitter *events.Emitter, set org.Setting[Rules]) Sweep {
	if d == nil || emitter == nil || set.Default == nil {
		panic(name + ": nil dependency")
	}
	return Sweep{d: d, emitter: emitter, rules: set}
}

// Start reads the org's rules and the instant a run measures at: at (the cron slot) or, when it
// is zero, the database's clock; in UTC.
func (s Sweep) Start(ctx context.Context, orgID uuid.UUID, at time.Time) (Rules, time.Time, error) {
	set, err := s.rules.Read(ctx, s.d, orgID)
	if err != nil {
		return Rules{}, at, err
	}
	if at.IsZero() {
		err = s.d.Read(ctx, orgID, func(b *db.Batch) {
			b.Row(func(r db.Row) error { return r.Scan(&at) }, nowSQL)
		})
		if err != nil {
			return Rules{}, at, fmt.Errorf("read the database clock: %w", err)
		}
	}
	return set, at.UTC(), nil
}

// Walk is events.Emitter.Sweep over the org's rows of table, in chunks of ChunkSize rows, or,
// when it is not positive, of the size the handle's pace adapts starting from first; its result
// measured at at.
func (s Sweep) Walk(ctx context.Context, orgID uuid.UUID, at time.Time, table string, first int,
	read func(ctx context.Context, tx *gorm.DB, r db.KeyRange) ([]events.NewEvent, error)) (events.SweepResult, error) {
	res, err := s.emitter.Sweep(ctx, s.d, orgID, table, db.FixedOr(s.ChunkSize, first), read)
	res.At = at
	return res, err
}
