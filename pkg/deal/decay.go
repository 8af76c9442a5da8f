package deal

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/rules"
)

// DecayActor is the actor of the deal.stalled events check_deal_decay emits.
const DecayActor = "job:" + KindCheckDealDecay

// DefaultSweepChunk is how many deals one chunk of DecaySweep reads: a range of 1,000 deals in
// key order is a few milliseconds of reads, and even when every one of them has stalled, its
// 1,000 events and nudge_deal jobs are inserted in one statement well inside the ~100 ms a
// chunk may take, so the api's writes never wait long behind one.
const DefaultSweepChunk = 1000

// DecaySweep is check_deal_decay: it reports each deal that has rested in an open stage longer
// than its org's rules allow (rules.Rules.DealDecayDays) as stalled, once per stall.
type DecaySweep struct {
	d       *db.DB
	emitter *events.Emitter
	rules   org.Setting[rules.Rules]
	// ChunkSize is how many deals one chunk reads; 0 is DefaultSweepChunk.
	ChunkSize int
}

// NewDecaySweep returns the sweep on d, emitting through emitter, reading each org's rules
// through set (rules.For: its defaults are the binary's configuration).
func NewDecaySweep(d *db.DB, emitter *events.Emitter, set org.Setting[rules.Rules]) *DecaySweep {
	if d == nil || emitter == nil || set.Default == nil {
		panic("deal.NewDecaySweep: nil dependency")
	}
	return &DecaySweep{d: d, emitter: emitter, rules: set}
}

// SweepResult is what one sweep did.
type SweepResult struct {
	// Chunks is how many chunk transactions committed.
	Chunks int
	// Found is how many stalled deals the sweep read; Reported how many of them an earlier sweep
	// had reported, whose events were not sent again; Emitted how many got a new event (the
	// rest were reported by a concurrent sweep).
	Found, Reported, Emitted int
	// At is the instant the deals were measured at: the slot.
	At time.Time
}

// Run sweeps the org's deals as of at (the cron slot; zero is the database's now): a deal in
// an open stage whose clock started at least its stage's rotting days before at is stalled.
// Its clock starts at its last stage change or at the last activity people logged on its lead
// (note, touchpoint, call, email, meeting, task), whichever is later, so an activity resets it.
//
// Each stalled deal gets one deal.stalled (StalledPayload: the rule applied) with the
// idempotency key "deal.stalled:<deal id>:<clock start in microseconds>", which enqueues
// nudge_deal. The events' unique key makes the sweep idempotent: a rerun of the same slot, an
// overlapping sweep or the next slot emits nothing for a stall already reported, and a new stall
// (a stage change or an activity, then rest again) has a new key. Each chunk probes its stalled
// deals' keys first (events.Emitter.EmitAllNew) and sends only the unreported ones, so a rerun
// costs a read and an index probe per stalled deal, not its event's encoding and refused insert.
//
// The sweep reads in chunks of ChunkSize deals in primary-key order (db.DB.KeyRanges), each in
// its own short tenant transaction that only reads deals and events and inserts events and jobs:
// it takes no row lock, so the api's writes on the same deals never wait for it.
func (s *DecaySweep) Run(ctx context.Context, orgID uuid.UUID, at time.Time) (SweepResult, error) {
	set, err := s.rules.Read(ctx, s.d, orgID)
	if err != nil {
		return SweepResult{}, fmt.Errorf("deal decay: %w", err)
	}
	if at.IsZero() {
		if at, err = dbNow(ctx, s.d, orgID); err != nil {
			return SweepResult{}, fmt.Errorf("deal decay: %w", err)
		}
	}
	at = at.UTC()
	stages := make([]string, len(OpenStages))
	days := make([]int32, len(OpenStages))
	cutoffs := make([]time.Time, len(OpenStages))
	for i, st := range OpenStages {
		n, _ := set.DealDecayDays.Stage(string(st))
		stages[i], days[i], cutoffs[i] = string(st), int32(n), at.Add(-time.Duration(n)*24*time.Hour)
	}
	kinds := make([]string, len(lead.LoggableKinds))
	for i, k := range lead.LoggableKinds {
		kinds[i] = string(k)
	}
	size := s.ChunkSize
	if size <= 0 {
		size = DefaultSweepChunk
	}
	res := SweepResult{At: at}
	res.Chunks, err = s.d.KeyRanges(ctx, orgID, "deals", size, func(tx *gorm.DB, r db.KeyRange) error {
		var evs []events.NewEvent
		var sc stalledScan
		err := db.Each(ctx, tx, func(r db.Row) error {
			p, err := sc.scan(r)
			if err != nil {
				return err
			}
			evs = append(evs, events.NewEvent{
				OrgID: orgID, Type: EventStalled, EntityType: EntityType, EntityID: p.DealID, Payload: p, Actor: DecayActor,
				IdempotencyKey: stalledKey(p.DealID, p.Since),
			})
			return nil
		}, decayStalledSQL, orgID, r.After, r.Upper, stages, days, cutoffs, kinds)
		if err != nil {
			return fmt.Errorf("read stalled deals after %s: %w", r.After, err)
		}
		emitted, reported, err := s.emitter.EmitAllNew(ctx, tx, evs...)
		if err != nil {
			return err
		}
		res.Found += len(evs)
		res.Reported += reported
		res.Emitted += emitted
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("deal decay: %w", err)
	}
	return res, nil
}

// dbNow reads the database's clock, the one the scheduler's slots come from.
func dbNow(ctx context.Context, d *db.DB, orgID uuid.UUID) (time.Time, error) {
	var now time.Time
	err := d.Read(ctx, orgID, func(b *db.Batch) {
		b.Row(func(r db.Row) error { return r.Scan(&now) }, nowSQL)
	})
	if err != nil {
		return now, fmt.Errorf("read the database clock: %w", err)
	}
	return now, nil
}

// stalledKey is the idempotency key of the deal.stalled of one stall: the deal and the instant
// its clock started.
func stalledKey(id uuid.UUID, since time.Time) string {
	return fmt.Sprintf("%s:%s:%d", EventStalled, id, since.UnixMicro())
}

// stalledScan receives the rows of decayStalledSQL.
type stalledScan struct {
	id                  db.NullUUID
	stage               string
	days                int32
	stageChanged, since time.Time
	activity            db.Timestamptz
}

func (s *stalledScan) scan(r db.Row) (StalledPayload, error) {
	if err := r.Scan(&s.id, &s.stage, &s.days, &s.stageChanged, &s.activity, &s.since); err != nil {
		return StalledPayload{}, fmt.Errorf("scan stalled deal: %w", err)
	}
	p := StalledPayload{
		DealID: s.id.Bytes, Stage: Stage(s.stage), StageChangedAt: s.stageChanged.UTC(),
		Days: int(s.days), Since: s.since.UTC(),
	}
	if s.activity.Valid {
		t := s.activity.Time.UTC()
		p.LastActivityAt = &t
	}
	return p, nil
}
