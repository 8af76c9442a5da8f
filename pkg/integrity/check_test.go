package integrity_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/client"
	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/integrity"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
)

// watch is a fresh database with one org, the watchdog at a chunk size of 2 (so that every scan
// and re-check spans several chunks), the services of the lifecycle chain that repair what it
// finds, and a superuser handle that breaks the data and reads past row-level security.
type watch struct {
	d, super  *db.DB
	org       uuid.UUID
	em        *events.Emitter
	checker   *integrity.Service
	invoices  *invoice.Service
	contracts *contract.Service
	clients   *client.Service
}

func newWatch(t *testing.T) *watch {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	return &watch{
		d: d, super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme"), em: em,
		checker:  integrity.NewService(d, em, integrity.Options{ChunkSize: 2}),
		invoices: invoice.NewService(d, em, nil), contracts: contract.NewService(d, em), clients: client.NewService(d, em),
	}
}

func (w *watch) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	return dbtest.Count(t, w.super, query, args...)
}

func (w *watch) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	_, err := w.super.Pool.Exec(t.Context(), query, args...)
	require.NoError(t, err)
}

// check runs the watchdog once and returns its report.
func (w *watch) check(t *testing.T) integrity.Report {
	t.Helper()
	rep, err := w.checker.Check(t.Context(), w.org)
	require.NoError(t, err)
	return rep
}

// alert is an alert as the tests read it.
type alert struct {
	ID       uuid.UUID
	Severity string
	Detail   map[string]any
	Open     bool
}

// alerts returns the org's alerts of check about entity (nil: org-wide), oldest first.
func (w *watch) alerts(t *testing.T, check string, entity *uuid.UUID) []alert {
	t.Helper()
	rows, err := w.super.Pool.Query(t.Context(), `SELECT id, severity, detail, resolved_at IS NULL FROM integrity_alerts
WHERE org_id = $1 AND check_name = $2 AND entity_id IS NOT DISTINCT FROM $3 ORDER BY detected_at, id`, w.org, check, entity)
	require.NoError(t, err)
	defer rows.Close()
	var out []alert
	for rows.Next() {
		var a alert
		var raw []byte
		require.NoError(t, rows.Scan(&a.ID, &a.Severity, &raw, &a.Open))
		require.NoError(t, json.Unmarshal(raw, &a.Detail))
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return out
}

// events counts the org's events of typ about the alert id.
func (w *watch) events(t *testing.T, typ string, id uuid.UUID) int {
	t.Helper()
	return w.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = $2 AND entity_type = 'integrity_alert' AND entity_id = $3`,
		w.org, typ, id)
}

// wonDeal stores a won deal, won ago before now, and emits its deal.won event (which enqueues
// create_invoice and generate_contract); it returns the deal and the event's id.
func (w *watch) wonDeal(t *testing.T, ago time.Duration) (uuid.UUID, int64) {
	t.Helper()
	id := dbtest.WonDeal(t, w.super, w.org, "", "won", 5000)
	w.exec(t, `UPDATE deals SET won_at = now() - make_interval(secs => $2), stage_changed_at = now() - make_interval(secs => $2) WHERE id = $1`,
		id, ago.Seconds())
	var ev events.Event
	require.NoError(t, w.d.Tx(t.Context(), w.org, func(tx *gorm.DB) error {
		var err error
		ev, _, err = w.em.Emit(t.Context(), tx, events.NewEvent{OrgID: w.org, Type: deal.EventWon, EntityType: deal.EntityType,
			EntityID: id, IdempotencyKey: "deal.won:" + id.String()})
		return err
	}))
	return id, ev.ID
}

func (w *watch) invoice(t *testing.T, dealID uuid.UUID, eventID int64) invoice.Invoice {
	t.Helper()
	res := dbtest.Batch(t, w.d, w.org, w.invoices.Create, invoice.Won{EventID: eventID, DealID: dealID})
	require.Empty(t, res[0].Skipped)
	return res[0].Invoice
}

func (w *watch) contract(t *testing.T, dealID uuid.UUID, eventID int64) {
	t.Helper()
	res := dbtest.Batch(t, w.d, w.org, w.contracts.Generate, contract.Won{EventID: eventID, DealID: dealID})
	require.Empty(t, res[0].Skipped)
}

// TestWonDealWithoutInvoiceOrContract proves the two checks of a won deal: a deal won longer
// than the grace ago with neither record gets one open alert per check, naming the deal, its
// lead, the deal.won event and the job that event enqueued, and one system.integrity_alert each;
// a deal inside the grace and a deal with both records get none; a second run opens and emits
// nothing more; once the invoice exists the next run resolves that alert alone (emitting
// system.integrity_alert_resolved), and once the contract exists the other.
func TestWonDealWithoutInvoiceOrContract(t *testing.T) {
	t.Parallel()
	w := newWatch(t)
	broken, brokenEvent := w.wonDeal(t, time.Hour)
	fresh, _ := w.wonDeal(t, 10*time.Minute)
	whole, wholeEvent := w.wonDeal(t, time.Hour)
	w.invoice(t, whole, wholeEvent)
	w.contract(t, whole, wholeEvent)
	var leadID uuid.UUID
	require.NoError(t, w.super.Pool.QueryRow(t.Context(), `SELECT lead_id FROM deals WHERE id = $1`, broken).Scan(&leadID))

	rep := w.check(t)
	require.Equal(t, 1, rep.Opened[integrity.CheckWonWithoutInvoice])
	require.Equal(t, 1, rep.Opened[integrity.CheckWonWithoutContract])
	require.Greater(t, rep.Chunks, 4, "the won deals span two chunks of 2")
	inv := w.alerts(t, integrity.CheckWonWithoutInvoice, &broken)
	con := w.alerts(t, integrity.CheckWonWithoutContract, &broken)
	require.Len(t, inv, 1)
	require.Len(t, con, 1)
	require.True(t, inv[0].Open)
	require.Equal(t, integrity.SeverityCritical, inv[0].Severity)
	require.Equal(t, integrity.SeverityWarning, con[0].Severity)
	require.Equal(t, broken.String(), inv[0].Detail["dealId"])
	require.Equal(t, leadID.String(), inv[0].Detail["leadId"])
	require.InDelta(t, float64(brokenEvent), inv[0].Detail["wonEventId"], 0)
	require.Equal(t, invoice.KindCreateInvoice, inv[0].Detail["jobType"])
	require.Equal(t, "pending", inv[0].Detail["jobStatus"], "the create_invoice job the event enqueued")
	require.InDelta(t, integrity.DefaultGrace.Seconds(), inv[0].Detail["graceSeconds"], 0)
	require.Equal(t, contract.KindGenerateContract, con[0].Detail["jobType"])
	require.NotNil(t, con[0].Detail["jobId"])
	for _, id := range []uuid.UUID{fresh, whole} {
		require.Zero(t, w.count(t, `SELECT count(*) FROM integrity_alerts WHERE entity_id = $1`, id), "no alert for %s", id)
	}
	require.Equal(t, 1, w.events(t, integrity.EventAlert, inv[0].ID))
	require.Equal(t, 1, w.events(t, integrity.EventAlert, con[0].ID))
	var payload integrity.AlertPayload
	var raw []byte
	require.NoError(t, w.super.Pool.QueryRow(t.Context(), `SELECT payload FROM events WHERE type = $1 AND entity_id = $2`,
		integrity.EventAlert, inv[0].ID).Scan(&raw))
	require.NoError(t, json.Unmarshal(raw, &payload))
	require.Equal(t, integrity.CheckWonWithoutInvoice, payload.CheckName)
	require.Equal(t, broken, *payload.EntityID)
	require.Equal(t, "deal", *payload.EntityType)

	rep = w.check(t)
	require.Empty(t, rep.Opened)
	require.Empty(t, rep.Resolved)
	require.Len(t, w.alerts(t, integrity.CheckWonWithoutInvoice, &broken), 1)
	require.Equal(t, 1, w.events(t, integrity.EventAlert, inv[0].ID), "emitted once across runs")

	w.invoice(t, broken, brokenEvent)
	rep = w.check(t)
	require.Equal(t, map[string]int{integrity.CheckWonWithoutInvoice: 1}, rep.Resolved)
	require.False(t, w.alerts(t, integrity.CheckWonWithoutInvoice, &broken)[0].Open)
	require.True(t, w.alerts(t, integrity.CheckWonWithoutContract, &broken)[0].Open)
	require.Equal(t, 1, w.events(t, integrity.EventResolved, inv[0].ID))

	w.contract(t, broken, brokenEvent)
	rep = w.check(t)
	require.Equal(t, map[string]int{integrity.CheckWonWithoutContract: 1}, rep.Resolved)
	require.Zero(t, w.count(t, `SELECT count(*) FROM integrity_alerts WHERE resolved_at IS NULL`))
	rep = w.check(t)
	require.Empty(t, rep.Opened)
	require.Empty(t, rep.Resolved)
	require.Equal(t, 2, w.count(t, `SELECT count(*) FROM integrity_alerts`))
}

// TestPaidInvoiceWithoutClientOrOnboarding proves the next two links: an invoice paid longer
// than the grace ago without a client is one alert naming the invoice.paid event, resolved once
// the client exists; that client, once older than the grace without onboarding tasks, is one
// alert naming client.created and the invoice.paid event behind it, resolved once its checklist
// starts. An invoice paid inside the grace is no alert.
func TestPaidInvoiceWithoutClientOrOnboarding(t *testing.T) {
	t.Parallel()
	w := newWatch(t)
	paidAt := time.Now().Add(-time.Hour)
	var inv invoice.Invoice
	for i, at := range []time.Time{paidAt, time.Now()} {
		dealID, ev := w.wonDeal(t, 2*time.Hour)
		x := w.invoice(t, dealID, ev)
		w.contract(t, dealID, ev)
		_, err := w.invoices.Pay(t.Context(), w.org, "user:test", x.ID, invoice.Payment{PaidAt: &at})
		require.NoError(t, err)
		if i == 0 {
			inv = x
		}
	}
	var paidEvent int64
	require.NoError(t, w.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1 AND type = 'invoice.paid'`, inv.ID).Scan(&paidEvent))

	rep := w.check(t)
	require.Equal(t, map[string]int{integrity.CheckPaidWithoutClient: 1}, rep.Opened)
	paid := w.alerts(t, integrity.CheckPaidWithoutClient, &inv.ID)
	require.Len(t, paid, 1)
	require.Equal(t, integrity.SeverityCritical, paid[0].Severity)
	require.Equal(t, inv.Number, paid[0].Detail["number"])
	require.InDelta(t, float64(paidEvent), paid[0].Detail["paidEventId"], 0)
	require.Equal(t, client.KindCreateClient, paid[0].Detail["jobType"])
	require.Equal(t, "pending", paid[0].Detail["jobStatus"])
	require.Empty(t, w.check(t).Opened)
	require.Equal(t, 1, w.events(t, integrity.EventAlert, paid[0].ID))

	res := dbtest.Batch(t, w.d, w.org, w.clients.Create, client.Paid{EventID: paidEvent, InvoiceID: inv.ID})
	c := res[0].Client
	rep = w.check(t)
	require.Equal(t, map[string]int{integrity.CheckPaidWithoutClient: 1}, rep.Resolved)
	require.Empty(t, rep.Opened, "the new client is inside the grace")

	w.exec(t, `UPDATE clients SET created_at = now() - interval '1 hour' WHERE id = $1`, c.ID)
	rep = w.check(t)
	require.Equal(t, map[string]int{integrity.CheckClientWithoutOnboarding: 1}, rep.Opened)
	onb := w.alerts(t, integrity.CheckClientWithoutOnboarding, &c.ID)
	require.Len(t, onb, 1)
	var createdEvent int64
	require.NoError(t, w.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1 AND type = 'client.created'`, c.ID).Scan(&createdEvent))
	require.InDelta(t, float64(createdEvent), onb[0].Detail["createdEventId"], 0)
	require.InDelta(t, float64(paidEvent), onb[0].Detail["paidEventId"], 0)
	require.Equal(t, inv.ID.String(), onb[0].Detail["invoiceId"])
	require.Equal(t, client.KindStartOnboarding, onb[0].Detail["jobType"])

	dbtest.Batch(t, w.d, w.org, w.clients.StartOnboarding, client.Created{EventID: createdEvent, ClientID: c.ID})
	rep = w.check(t)
	require.Equal(t, map[string]int{integrity.CheckClientWithoutOnboarding: 1}, rep.Resolved)
	require.Zero(t, w.count(t, `SELECT count(*) FROM integrity_alerts WHERE resolved_at IS NULL`))
}

// gapAlerts returns the org's invoice_number_gap alerts, oldest first, and only the open ones.
func (w *watch) gapAlerts(t *testing.T) (all, open []alert) {
	t.Helper()
	rows, err := w.super.Pool.Query(t.Context(), `SELECT entity_id FROM integrity_alerts WHERE org_id = $1 AND check_name = $2
GROUP BY entity_id`, w.org, integrity.CheckInvoiceNumberGap)
	require.NoError(t, err)
	var entities []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		entities = append(entities, id)
	}
	require.NoError(t, rows.Err())
	require.LessOrEqual(t, len(entities), 1, "one counter row, one entity")
	for _, id := range entities {
		all = w.alerts(t, integrity.CheckInvoiceNumberGap, &id)
	}
	for _, a := range all {
		if a.Open {
			open = append(open, a)
		}
	}
	return all, open
}

// TestInvoiceNumberGap proves the numbering check on real invoices: three invoices numbered 1..3
// are no finding; a counter moved on by two (numbers handed out that no invoice holds) is one
// critical alert of the counter naming the missing range, opened once across runs and resolved
// when the counter is right again; an invoice renumbered above the counter is a new alert
// naming both its hole and the number beyond.
func TestInvoiceNumberGap(t *testing.T) {
	t.Parallel()
	w := newWatch(t)
	var invs []invoice.Invoice
	for range 3 {
		dealID, ev := w.wonDeal(t, time.Minute)
		invs = append(invs, w.invoice(t, dealID, ev))
	}
	require.Empty(t, w.check(t).Opened)
	year := invs[0].IssuedAt.Year()

	w.exec(t, `UPDATE invoice_counters SET last = last + 2 WHERE org_id = $1`, w.org)
	rep := w.check(t)
	require.Equal(t, map[string]int{integrity.CheckInvoiceNumberGap: 1}, rep.Opened)
	_, gaps := w.gapAlerts(t)
	require.Len(t, gaps, 1)
	require.Equal(t, integrity.SeverityCritical, gaps[0].Severity)
	d := gaps[0].Detail
	require.Equal(t, invoice.Series, d["series"])
	require.InDelta(t, float64(year), d["year"], 0)
	require.InDelta(t, 5, d["counterLast"], 0)
	require.InDelta(t, 3, d["numbered"], 0)
	require.InDelta(t, 2, d["missing"], 0)
	require.InDelta(t, 0, d["beyondCounter"], 0)
	require.Equal(t, []any{[]any{4.0, 5.0}}, d["missingRanges"])
	require.Equal(t, 1, w.events(t, integrity.EventAlert, gaps[0].ID))
	require.Empty(t, w.check(t).Opened)
	_, gaps = w.gapAlerts(t)
	require.Len(t, gaps, 1)

	w.exec(t, `UPDATE invoice_counters SET last = 3 WHERE org_id = $1`, w.org)
	rep = w.check(t)
	require.Equal(t, map[string]int{integrity.CheckInvoiceNumberGap: 1}, rep.Resolved)
	_, gaps = w.gapAlerts(t)
	require.Empty(t, gaps)

	w.exec(t, `UPDATE invoices SET number = regexp_replace(number, '[0-9]+$', '00009') WHERE id = $1`, invs[1].ID)
	rep = w.check(t)
	require.Equal(t, map[string]int{integrity.CheckInvoiceNumberGap: 1}, rep.Opened)
	all, gaps := w.gapAlerts(t)
	require.Len(t, gaps, 1)
	require.Equal(t, []any{[]any{2.0, 2.0}}, gaps[0].Detail["missingRanges"])
	require.InDelta(t, 1, gaps[0].Detail["beyondCounter"], 0)
	require.Len(t, all, 2, "a new alert; the resolved one stays")
}

// TestPipelineTotalsDrift proves the totals check: open deals in two stages and currencies, the
// totals kept by the triggers, are no finding, nor are shard rows that cancel each other out (a
// group is the sum of its shards); a shard row moved off by one deal is one org-wide warning naming
// the group with its stored and fresh figures, kept across runs and resolved once the sums agree.
func TestPipelineTotalsDrift(t *testing.T) {
	t.Parallel()
	w := newWatch(t)
	for _, s := range []struct {
		stage, currency string
		value           int64
	}{{"discovery", "EUR", 1000}, {"discovery", "EUR", 2500}, {"proposal", "USD", 9999}} {
		id := dbtest.WonDeal(t, w.super, w.org, "", s.stage, s.value)
		w.exec(t, `UPDATE deals SET currency = $2 WHERE id = $1`, id, s.currency)
	}
	require.Empty(t, w.check(t).Opened)
	w.exec(t, `INSERT INTO deal_pipeline_totals (org_id, stage, currency, shard, deal_count, value_sum, weighted_sum)
SELECT $1, 'proposal', 'USD', s, CASE s WHEN 14 THEN 1 ELSE -1 END, CASE s WHEN 14 THEN 70 ELSE -70 END, 0
FROM (VALUES (14), (15)) AS v(s)
ON CONFLICT (org_id, stage, currency, shard) DO UPDATE SET deal_count = deal_pipeline_totals.deal_count + EXCLUDED.deal_count,
	value_sum = deal_pipeline_totals.value_sum + EXCLUDED.value_sum`, w.org)
	require.Empty(t, w.check(t).Opened, "shards that cancel out are no drift")

	w.exec(t, `UPDATE deal_pipeline_totals SET deal_count = deal_count + 1, value_sum = value_sum + 500
WHERE org_id = $1 AND stage = 'discovery' AND currency = 'EUR' AND shard = (
	SELECT min(shard) FROM deal_pipeline_totals WHERE org_id = $1 AND stage = 'discovery' AND currency = 'EUR')`, w.org)
	rep := w.check(t)
	require.Equal(t, map[string]int{integrity.CheckPipelineTotalsDrift: 1}, rep.Opened)
	drift := w.alerts(t, integrity.CheckPipelineTotalsDrift, nil)
	require.Len(t, drift, 1)
	require.Equal(t, integrity.SeverityWarning, drift[0].Severity)
	groups := drift[0].Detail["groups"].([]any)
	require.Len(t, groups, 1)
	g := groups[0].(map[string]any)
	require.Equal(t, "discovery", g["stage"])
	require.Equal(t, "EUR", g["currency"])
	require.InDelta(t, 3, g["stored"].(map[string]any)["count"], 0)
	require.InDelta(t, 4000, g["stored"].(map[string]any)["value"], 0)
	require.InDelta(t, 2, g["fresh"].(map[string]any)["count"], 0)
	require.InDelta(t, 3500, g["fresh"].(map[string]any)["value"], 0)
	require.Empty(t, w.check(t).Opened)
	require.Len(t, w.alerts(t, integrity.CheckPipelineTotalsDrift, nil), 1)
	require.Equal(t, 1, w.events(t, integrity.EventAlert, drift[0].ID))

	w.exec(t, `UPDATE deal_pipeline_totals SET deal_count = deal_count - 1, value_sum = value_sum - 500
WHERE org_id = $1 AND stage = 'discovery' AND currency = 'EUR' AND shard = (
	SELECT min(shard) FROM deal_pipeline_totals WHERE org_id = $1 AND stage = 'discovery' AND currency = 'EUR')`, w.org)
	rep = w.check(t)
	require.Equal(t, map[string]int{integrity.CheckPipelineTotalsDrift: 1}, rep.Resolved)
	require.False(t, w.alerts(t, integrity.CheckPipelineTotalsDrift, nil)[0].Open)
}

// TestResolveByHand proves Resolve: an open alert is resolved, with system.integrity_alert_resolved
// carrying the person as its actor; a second resolve is Conflict and changes nothing; another
// org's alert and an unknown one are NotFound. A hand-resolved alert whose condition still holds
// is opened again by the next run as a new alert, with its own event.
func TestResolveByHand(t *testing.T) {
	t.Parallel()
	w := newWatch(t)
	dealID, _ := w.wonDeal(t, time.Hour)
	w.check(t)
	first := w.alerts(t, integrity.CheckWonWithoutInvoice, &dealID)
	require.Len(t, first, 1)

	a, err := w.checker.Resolve(t.Context(), w.org, "apikey:person", first[0].ID)
	require.NoError(t, err)
	require.Equal(t, first[0].ID, a.ID)
	require.False(t, a.Open())
	require.Equal(t, integrity.CheckWonWithoutInvoice, a.CheckName)
	require.Equal(t, 1, w.count(t, `SELECT count(*) FROM events WHERE type = $1 AND entity_id = $2 AND actor = 'apikey:person'
	AND payload->>'by' = 'hand'`, integrity.EventResolved, a.ID))
	var resolvedAt time.Time
	require.NoError(t, w.super.Pool.QueryRow(t.Context(), `SELECT resolved_at FROM integrity_alerts WHERE id = $1`, a.ID).Scan(&resolvedAt))

	_, err = w.checker.Resolve(t.Context(), w.org, "apikey:person", a.ID)
	require.Equal(t, apperr.Conflict, apperr.CodeOf(err), "%v", err)
	other := dbtest.NewOrg(t, w.d, "other")
	for _, tc := range []struct{ org, id uuid.UUID }{{other, a.ID}, {w.org, uuid.New()}} {
		_, err = w.checker.Resolve(t.Context(), tc.org, "apikey:person", tc.id)
		require.Equal(t, apperr.NotFound, apperr.CodeOf(err), "%v", err)
	}
	var again time.Time
	require.NoError(t, w.super.Pool.QueryRow(t.Context(), `SELECT resolved_at FROM integrity_alerts WHERE id = $1`, a.ID).Scan(&again))
	require.True(t, resolvedAt.Equal(again))
	require.Equal(t, 1, w.count(t, `SELECT count(*) FROM events WHERE type = $1`, integrity.EventResolved))

	rep := w.check(t)
	require.Equal(t, 1, rep.Opened[integrity.CheckWonWithoutInvoice], "the condition still holds")
	all := w.alerts(t, integrity.CheckWonWithoutInvoice, &dealID)
	require.Len(t, all, 2)
	require.False(t, all[0].Open)
	require.True(t, all[1].Open)
	require.Equal(t, 1, w.events(t, integrity.EventAlert, all[1].ID))
	require.Empty(t, w.check(t).Opened)
}

// TestCheckSeesOnlyItsOrg proves a run of one org neither finds nor resolves another org's
// violations and alerts.
func TestCheckSeesOnlyItsOrg(t *testing.T) {
	t.Parallel()
	w := newWatch(t)
	dealID, _ := w.wonDeal(t, time.Hour)
	other := dbtest.NewOrg(t, w.d, "other")
	rep, err := w.checker.Check(t.Context(), other)
	require.NoError(t, err)
	require.Empty(t, rep.Opened)
	w.check(t)
	require.Len(t, w.alerts(t, integrity.CheckWonWithoutInvoice, &dealID), 1)
	rep, err = w.checker.Check(t.Context(), other)
	require.NoError(t, err)
	require.Empty(t, rep.Resolved)
	require.True(t, w.alerts(t, integrity.CheckWonWithoutInvoice, &dealID)[0].Open)
}

// TestConcurrentRunsOpenOnce proves two runs at once (a cron slot and a run by hand, or two
// replicas' workers) open each alert once and emit its event once: the open alert of a check and
// entity is unique in the database.
func TestConcurrentRunsOpenOnce(t *testing.T) {
	t.Parallel()
	w := newWatch(t)
	var deals []uuid.UUID
	for range 5 {
		id, _ := w.wonDeal(t, time.Hour)
		deals = append(deals, id)
	}
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			_, err := w.checker.Check(t.Context(), w.org)
			errs <- err
		}()
	}
	for range cap(errs) {
		require.NoError(t, <-errs)
	}
	for _, id := range deals {
		for _, check := range []string{integrity.CheckWonWithoutInvoice, integrity.CheckWonWithoutContract} {
			as := w.alerts(t, check, &id)
			require.Len(t, as, 1, "%s of %s", check, id)
			require.Equal(t, 1, w.events(t, integrity.EventAlert, as[0].ID))
		}
	}
	require.Equal(t, 10, w.count(t, `SELECT count(*) FROM events WHERE type = $1`, integrity.EventAlert))
}
