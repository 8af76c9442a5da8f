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

// DefaultSweepChunk is how many deals the first chunk of DecaySweep reads (the next adapt to the
// handle's pace, db.DB.Chunks): a range of 1,000 deals in
// key order is a few milliseconds of reads, and even when every one of them has stalled, its
// 1,000 events and nudge_deal jobs are inserted in one statement well inside the ~100 ms a
// chunk may take, so the api's writes never wait long behind one.
const DefaultSweepChunk = 1000

// DecaySweep is check_deal_decay: it reports each deal that has rested in an open stage longer
// than its org's rules allow (rules.Rules.DealDecayDays) as stalled, once per stall.
type DecaySweep struct {
	// Sweep holds the database, emitter and rules; its ChunkSize, when positive, is how many
	// deals every chunk reads (0 adapts it, starting from DefaultSweepChunk).
	rules.Sweep
}

// NewDecaySweep returns the sweep on d, emitting through emitter, reading each org's rules
// through set (rules.For: its defaults are the binary's configuration).
func NewDecaySweep(d *db.DB, emitter *events.Emitter, set org.Setting[rules.Rules]) *DecaySweep {
	return &DecaySweep{Sweep: rules.NewSweep("deal.NewDecaySweep", d, emitter, set)}
}

// SweepResult is what one decay sweep did: Found counts the stalled deals read, Reported those of
// them whose stall an earlier sweep had reported (their events were not sent again).
type SweepResult = events.SweepResult

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
// deals' keys first and sends only the unreported ones, so a rerun costs a read and an index
// probe per stalled deal, not its event's encoding and refused insert.
//
// The sweep reads in chunks of ChunkSize deals in primary-key order (rules.Sweep.Walk), each in
// its own short tenant transaction that only reads deals and events and inserts events and jobs:
// it takes no row lock, so the api's writes on the same deals never wait for it.
func (s *DecaySweep) Run(ctx context.Context, orgID uuid.UUID, at time.Time) (SweepResult, error) {
	set, at, err := s.Start(ctx, orgID, at)
	if err != nil {
		return SweepResult{}, fmt.Errorf("deal decay: %w", err)
	}
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
	res, err := s.Walk(ctx, orgID, at, "deals", DefaultSweepChunk, func(ctx context.Context, tx *gorm.DB, r db.KeyRange) ([]events.NewEvent, error) {
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
			return nil, fmt.Errorf("read stalled deals after %s: %w", r.After, err)
		}
		return evs, nil
	})
	if err != nil {
		return res, fmt.Errorf("deal decay: %w", err)
	}
	return res, nil
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
