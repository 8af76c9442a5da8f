package lead

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/rules"
)

// StaleActor is the actor of the lead.stale events check_lead_stale emits.
const StaleActor = "job:" + KindCheckLeadStale

// DefaultStaleChunk is how many leads the first chunk of StaleSweep reads (the next adapt to the
// handle's pace, db.DB.Chunks): a key range of 2,000
// leads is a few milliseconds of reads, and even when all of them are stale their 2,000 events
// (lead.stale enqueues no job) go in one statement well inside the ~100 ms a chunk may take;
// 1,000,000 leads are 500 chunks.
const DefaultStaleChunk = 2000

// OpenStages are the stages a lead is worked in: every stage but the final ones (converted,
// whose deal the deal-decay check watches instead, lost and disqualified).
var OpenStages = []Stage{StageNew, StageQualified, StageNurture, StageContacted, StageCallBooked}

// StaleSweep is check_lead_stale: it reports each open lead that has gone without activity
// for its org's leadStaleDays (rules.Rules) as stale, once per stale period.
type StaleSweep struct {
	// Sweep holds the database, emitter and rules; its ChunkSize is how many leads one chunk
	// reads (0 is DefaultStaleChunk).
	rules.Sweep
}

// NewStaleSweep returns the sweep on d, emitting through emitter, reading each org's rules
// through set (rules.For: its defaults are the binary's configuration).
func NewStaleSweep(d *db.DB, emitter *events.Emitter, set org.Setting[rules.Rules]) *StaleSweep {
	return &StaleSweep{Sweep: rules.NewSweep("lead.NewStaleSweep", d, emitter, set)}
}

// StaleResult is what one stale sweep did: Found counts the stale leads read, Reported those of
// them whose period an earlier sweep had reported (their events were not sent again).
type StaleResult = events.SweepResult

// Run sweeps the org's leads as of at (the cron slot; zero is the database's now): a live lead
// in an open stage (OpenStages) whose last activity (last_activity_at, which every activity
// moves on; its creation when it has none) is at least leadStaleDays before at is stale.
//
// Each stale lead gets one lead.stale (StalePayload: the rule applied) with the idempotency key
// "lead.stale:<lead id>:<silence start in microseconds>". The events' unique key makes the sweep
// idempotent: a rerun of the same slot, an overlapping sweep or a later slot emits nothing for a
// period already reported; an activity starts a new period, with a new key. Each chunk probes
// its stale leads' keys first and sends only the unreported ones, so a rerun, where nearly every
// stale lead is reported, costs a read and an index probe per lead.
//
// The sweep reads in chunks of ChunkSize leads in primary-key order (rules.Sweep.Walk), each in
// its own short tenant transaction that only reads leads and events and inserts events: it takes
// no row lock, so the api's writes on the same leads never wait for it.
func (s *StaleSweep) Run(ctx context.Context, orgID uuid.UUID, at time.Time) (StaleResult, error) {
	set, at, err := s.Start(ctx, orgID, at)
	if err != nil {
		return StaleResult{}, fmt.Errorf("lead staleness: %w", err)
	}
	days := set.LeadStaleDays
	cutoff := at.Add(-time.Duration(days) * 24 * time.Hour)
	stages := make([]string, len(OpenStages))
	for i, st := range OpenStages {
		stages[i] = string(st)
	}
	res, err := s.Walk(ctx, orgID, at, "leads", DefaultStaleChunk, func(ctx context.Context, tx *gorm.DB, r db.KeyRange) ([]events.NewEvent, error) {
		var evs []events.NewEvent
		var (
			id       db.NullUUID
			stage    string
			activity db.Timestamptz
			since    time.Time
		)
		err := db.Each(ctx, tx, func(r db.Row) error {
			if err := r.Scan(&id, &stage, &activity, &since); err != nil {
				return fmt.Errorf("scan stale lead: %w", err)
			}
			p := StalePayload{LeadID: id.Bytes, Stage: Stage(stage), Days: days, Since: since.UTC()}
			if activity.Valid {
				t := activity.Time.UTC()
				p.LastActivityAt = &t
			}
			evs = append(evs, events.NewEvent{
				OrgID: orgID, Type: EventStale, EntityType: EntityType, EntityID: p.LeadID, Payload: p, Actor: StaleActor,
				IdempotencyKey: fmt.Sprintf("%s:%s:%d", EventStale, p.LeadID, p.Since.UnixMicro()),
			})
			return nil
		}, staleLeadsSQL, orgID, r.After, r.Upper, stages, cutoff)
		if err != nil {
			return nil, fmt.Errorf("read stale leads after %s: %w", r.After, err)
		}
		return evs, nil
	})
	if err != nil {
		return res, fmt.Errorf("lead staleness: %w", err)
	}
	return res, nil
}
