package integrity

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/invoice"
)

// The checks: the invariants of the lifecycle chain deal -> invoice and contract -> client ->
// onboarding, the invoice numbering and the pipeline totals. Each names an alert's check_name.
const (
	// CheckWonWithoutInvoice: a deal won longer than the grace ago has no invoice (critical).
	CheckWonWithoutInvoice = "deal_won_without_invoice"
	// CheckWonWithoutContract: a deal won longer than the grace ago has no contract (warning).
	CheckWonWithoutContract = "deal_won_without_contract"
	// CheckPaidWithoutClient: an invoice paid longer than the grace ago has no client (critical).
	CheckPaidWithoutClient = "invoice_paid_without_client"
	// CheckClientWithoutOnboarding: a client created longer than the grace ago has no onboarding
	// tasks (warning; every checklist has at least one task).
	CheckClientWithoutOnboarding = "client_without_onboarding"
	// CheckInvoiceNumberGap: an org's invoice series of one year has a number its counter handed
	// out that no invoice holds, or an invoice numbered above its counter (critical: the numbers
	// must be gapless).
	CheckInvoiceNumberGap = "invoice_number_gap"
	// CheckPipelineTotalsDrift: deal_pipeline_totals, summed over its rows, differs from a
	// fresh aggregate of the open deals (warning; org-wide, no entity).
	CheckPipelineTotalsDrift = "pipeline_totals_drift"
)

// DefaultGrace is how long after a deal's win, an invoice's payment or a client's creation the
// record that its job makes may still be missing without an alert: those jobs run after the
// change commits, normally within seconds, and retry with backoff for a few minutes; 15 minutes
// covers a worker restart and a retry or two, so an alert means the chain is broken, not slow.
const DefaultGrace = 15 * time.Minute

// DefaultChunkSize is how many rows the first chunk of a scan reads (and how many open alerts the
// first chunk of a resolution pass re-checks); the next adapt to the handle's pace (db.DB.Chunks,
// which bounds each chunk's transaction), down to db.DefaultSize's smallest. A chunk that finds or
// resolves an alert per row writes an alert and an event for each (two for a won deal without
// both records): at 1,000,000 leads and 100,000 deals a chunk of 1,000 won deals opening 1,820
// alerts took about 260 ms for its statement and as much again for the events, so the first chunk
// is 250. A chunk's read is one range of its table's primary key, so its time is that of its
// findings and shrinks with its size. The scan chunks only insert alerts and events, rows no
// client waits for; they are kept short all the same, because a chunk's work is a burst on one
// core of the database: on a quiet machine at that size, chunks of at least 250 made the api's
// PATCH p99 during the run 3-3.8 times its idle p99 (longest chunk 100-165 ms), chunks let shrink
// 1.3-1.7 times (88-92 ms), in about the same wall time (3.3-4.8 s). On a machine too busy for the
// budget, small chunks are cut more often and the run takes longer (over a minute at load 10-16):
// the watchdog then yields to the api's work, which is its place.
const DefaultChunkSize = 250

// Options tune a Service; zero fields are the defaults.
type Options struct {
	// Grace is the grace period of the lifecycle checks (zero: DefaultGrace).
	Grace time.Duration
	// ChunkSize, when positive, is the rows of every chunk (zero: adapted, from DefaultChunkSize).
	ChunkSize int
}

// Service runs the checks and resolves alerts by hand.
type Service struct {
	d     *db.DB
	em    *events.Emitter
	grace time.Duration
	chunk db.Size
}

// NewService returns the watchdog on d, emitting through emitter; both are required.
func NewService(d *db.DB, emitter *events.Emitter, o Options) *Service {
	if d == nil || emitter == nil {
		panic("integrity.NewService: nil dependency")
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	return &Service{d: d, em: emitter, grace: o.Grace, chunk: db.FixedOr(o.ChunkSize, DefaultChunkSize)}
}

// Report is what one run of Check did.
type Report struct {
	// Opened and Resolved count the alerts opened and resolved, per check.
	Opened, Resolved map[string]int
	// Chunks counts the transactions of the run.
	Chunks int
}

// entityCheck is a check about single entities: its alerts name one entity each, and holds
// (resolveSQL) says whether an open alert's entity still breaks the invariant.
type entityCheck struct {
	name, entityType, holds string
}

var entityChecks = []entityCheck{
	{CheckWonWithoutInvoice, "deal", wonWithoutInvoiceHolds},
	{CheckWonWithoutContract, "deal", wonWithoutContractHolds},
	{CheckPaidWithoutClient, "invoice", paidWithoutClientHolds},
	{CheckClientWithoutOnboarding, "client", clientWithoutOnboardingHolds},
}

// scans are the chunked reads that find the entity checks' violations: the won deals (both of
// their checks), the paid invoices and the clients.
var scans = []struct{ name, sql string }{
	{"won deals", scanWonDealsSQL},
	{"paid invoices", scanPaidInvoicesSQL},
	{"clients", scanClientsSQL},
}

// Check runs every check over the org as it is now, in short transactions (db.DB.Chunks), and
// returns what it did. First each entity check's open alerts are re-checked, in chunks, and
// those whose entity no longer breaks the invariant are resolved; then the scans read the won
// deals, paid invoices and clients in chunks (keyset on id, sized by the handle's pace) and open an alert
// for each violation that has none open; last the invoice numbering and the pipeline totals are
// each compared whole in one statement, which resolves and opens their alerts. Every alert
// opened emits system.integrity_alert once, and every alert resolved
// system.integrity_alert_resolved, in the transaction that changed it.
//
// A run is idempotent: the open alert of a (check, entity) is unique in the database, so a rerun,
// or two runs at once, open nothing twice. An alert resolved by hand whose condition still holds
// is opened again by the next run as a new alert (see Resolve).
func (s *Service) Check(ctx context.Context, orgID uuid.UUID) (Report, error) {
	r := Report{Opened: map[string]int{}, Resolved: map[string]int{}}
	for _, c := range entityChecks {
		if err := s.resolveFixed(ctx, orgID, c, &r); err != nil {
			return r, err
		}
	}
	for _, sc := range scans {
		if err := s.scan(ctx, orgID, sc.name, sc.sql, &r); err != nil {
			return r, err
		}
	}
	for _, c := range []struct {
		name, sql string
		args      []any
	}{
		{CheckInvoiceNumberGap, gapSQL, []any{orgID, CheckInvoiceNumberGap, invoice.Series}},
		{CheckPipelineTotalsDrift, driftSQL, []any{orgID, CheckPipelineTotalsDrift}},
	} {
		err := s.d.Tx(ctx, orgID, func(tx *gorm.DB) error {
			var opened, gone []byte
			if err := db.Conn(tx).QueryRowContext(ctx, c.sql, c.args...).Scan(&opened, &gone); err != nil {
				return fmt.Errorf("run: %w", err)
			}
			return s.record(ctx, tx, orgID, opened, gone, &r)
		})
		if err != nil {
			return r, fmt.Errorf("check %s: %w", c.name, err)
		}
		r.Chunks++
	}
	return r, nil
}

// resolveFixed resolves, in chunks, the open alerts of c whose entity no longer breaks the
// invariant.
func (s *Service) resolveFixed(ctx context.Context, orgID uuid.UUID, c entityCheck, r *Report) error {
	query := resolveSQL(c.holds)
	after := uuid.Nil
	n, err := s.d.Chunks(ctx, orgID, s.chunk, func(ctx context.Context, tx *gorm.DB, chunk int) (bool, error) {
		var last uuid.NullUUID
		var size int
		var gone []byte
		if err := db.Conn(tx).QueryRowContext(ctx, query, orgID, c.name, c.entityType, after, chunk).Scan(&last, &size, &gone); err != nil {
			return false, err
		}
		if err := s.record(ctx, tx, orgID, nil, gone, r); err != nil {
			return false, err
		}
		after = last.UUID
		return size < chunk, nil
	})
	r.Chunks += n
	if err != nil {
		return fmt.Errorf("re-check open %s alerts: %w", c.name, err)
	}
	return nil
}

// scan runs one scan over its table in chunks, opening the alerts of what it finds.
func (s *Service) scan(ctx context.Context, orgID uuid.UUID, name, query string, r *Report) error {
	after := uuid.Nil
	n, err := s.d.Chunks(ctx, orgID, s.chunk, func(ctx context.Context, tx *gorm.DB, chunk int) (bool, error) {
		var last uuid.NullUUID
		var size int
		var opened []byte
		if err := db.Conn(tx).QueryRowContext(ctx, query, orgID, after, chunk, s.grace.Seconds()).Scan(&last, &size, &opened); err != nil {
			return false, err
		}
		if err := s.record(ctx, tx, orgID, opened, nil, r); err != nil {
			return false, err
		}
		after = last.UUID
		return size < chunk, nil
	})
	r.Chunks += n
	if err != nil {
		return fmt.Errorf("scan %s: %w", name, err)
	}
	return nil
}

// alertRow is an alert as a check statement hands it back (a jsonb array element).
type alertRow struct {
	ID         uuid.UUID       `json:"id"`
	CheckName  string          `json:"check_name"`
	Severity   string          `json:"severity"`
	EntityType *string         `json:"entity_type"`
	EntityID   *uuid.UUID      `json:"entity_id"`
	Detail     json.RawMessage `json:"detail"`
}

// record emits, in tx, system.integrity_alert for each alert of opened and
// system.integrity_alert_resolved for each of gone (jsonb arrays of alertRow), and counts them.
func (s *Service) record(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, opened, gone []byte, r *Report) error {
	var opens, gones []alertRow
	for _, x := range []struct {
		raw []byte
		dst *[]alertRow
	}{{opened, &opens}, {gone, &gones}} {
		if len(x.raw) == 0 {
			continue
		}
		if err := json.Unmarshal(x.raw, x.dst); err != nil {
			return fmt.Errorf("decode alerts: %w", err)
		}
	}
	evs := make([]events.NewEvent, 0, len(opens)+len(gones))
	for _, a := range opens {
		r.Opened[a.CheckName]++
		evs = append(evs, newEvent(orgID, CheckActor, EventAlert, a.ID, AlertPayload{
			AlertID: a.ID, CheckName: a.CheckName, Severity: a.Severity, EntityType: a.EntityType, EntityID: a.EntityID, Detail: a.Detail,
		}))
	}
	for _, a := range gones {
		r.Resolved[a.CheckName]++
		evs = append(evs, newEvent(orgID, CheckActor, EventResolved, a.ID, ResolvedPayload{
			AlertID: a.ID, CheckName: a.CheckName, EntityType: a.EntityType, EntityID: a.EntityID, By: ResolvedByCheck,
		}))
	}
	if _, err := s.em.EmitAll(ctx, tx, evs...); err != nil {
		return err
	}
	return nil
}

// newEvent is the event typ about the alert id, keyed "<typ>:<alert id>": once per alert.
func newEvent(orgID uuid.UUID, actor, typ string, id uuid.UUID, payload any) events.NewEvent {
	return events.Entity(EntityType).Event(orgID, actor, typ, id, typ+":"+id.String(), payload)
}
