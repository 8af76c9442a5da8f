package client_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/client"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
)

// bundle is a fresh database with the invoice and client services on the owner's handle, one
// org, and a superuser handle for the tests' fixtures and reads.
type bundle struct {
	d        *db.DB
	invoices *invoice.Service
	clients  *client.Service
	super    *db.DB
	org      uuid.UUID
}

func setup(t *testing.T) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	return &bundle{d: d, invoices: invoice.NewService(d, em, nil), clients: client.NewService(d, em),
		super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme")}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	return dbtest.Count(t, b.super, sql, args...)
}

// paidInvoice inserts a won deal of a converted lead, invoices it (its deal.won event as the
// cause) and pays it at paidAt; it returns the invoice and the invoice.paid event's id.
func (b *bundle) paidInvoice(t *testing.T, paidAt time.Time) (invoice.Invoice, int64) {
	t.Helper()
	dealID := dbtest.WonDeal(t, b.super, b.org, "ada@buyer.example", "won", 5000)
	res := dbtest.Batch(t, b.d, b.org, b.invoices.Create, invoice.Won{EventID: 1, DealID: dealID})
	inv, err := b.invoices.Pay(t.Context(), b.org, "user:test", res[0].Invoice.ID, invoice.Payment{PaidAt: &paidAt})
	require.NoError(t, err)
	var eventID int64
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1 AND type = 'invoice.paid'`, inv.ID).Scan(&eventID))
	return inv, eventID
}

func (b *bundle) create(t *testing.T, ps ...client.Paid) []client.CreateResult {
	t.Helper()
	return dbtest.Batch(t, b.d, b.org, b.clients.Create, ps...)
}

func (b *bundle) start(t *testing.T, cs ...client.Created) []client.StartResult {
	t.Helper()
	return dbtest.Batch(t, b.d, b.org, b.clients.StartOnboarding, cs...)
}

// TestChainPaidInvoiceToActiveClient walks the chain: a paid invoice makes one client copied
// from the lead, renewing a year after the payment, caused by invoice.paid, and emitting
// client.created (which enqueues start_onboarding); a repeat makes none. start_onboarding gives
// the client the default checklist in order with due dates, caused by client.created; a repeat
// adds none. Completing and skipping every task makes the client active and emits
// client.onboarded once.
func TestChainPaidInvoiceToActiveClient(t *testing.T) {
	t.Parallel()
	b := setup(t)
	paidAt := time.Date(2026, 2, 28, 23, 30, 0, 0, time.UTC)
	inv, paidEvent := b.paidInvoice(t, paidAt)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs WHERE job_type = 'create_client' AND (payload->>'eventId')::bigint = $1`, paidEvent))

	res := b.create(t, client.Paid{EventID: paidEvent, InvoiceID: inv.ID})
	require.Empty(t, res[0].Skipped)
	c := res[0].Client
	require.Equal(t, inv.ID, c.InvoiceID)
	require.Equal(t, inv.DealID, c.DealID)
	require.Equal(t, inv.LeadID, c.LeadID)
	require.Equal(t, "Ada Buyer", *c.Name)
	require.Equal(t, "ada@buyer.example", *c.Email)
	require.Equal(t, "Buyer Ltd", *c.Company)
	require.Equal(t, client.StatusOnboarding, c.Status)
	require.Equal(t, "2027-02-28", *c.RenewalDate)
	require.Equal(t, paidEvent, *c.CausationEventID)
	var createdEvent int64
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1 AND type = 'client.created'
	AND (payload->>'causationEventId')::bigint = $2`, c.ID, paidEvent).Scan(&createdEvent))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM jobs WHERE job_type = 'start_onboarding' AND (payload->>'eventId')::bigint = $1`, createdEvent))

	again := b.create(t, client.Paid{EventID: paidEvent, InvoiceID: inv.ID}, client.Paid{EventID: paidEvent, InvoiceID: uuid.New()})
	require.NotEmpty(t, again[0].Skipped)
	require.NotEmpty(t, again[1].Skipped)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM clients`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'client.created'`))

	before := time.Now().UTC()
	started := b.start(t, client.Created{EventID: createdEvent, ClientID: c.ID})
	require.Empty(t, started[0].Skipped)
	tasks := started[0].Tasks
	def := client.DefaultSettings().Tasks
	require.Len(t, tasks, len(def))
	for i, task := range tasks {
		require.Equal(t, i, task.Position)
		require.Equal(t, def[i].Title, task.Title)
		require.Equal(t, client.TaskPending, task.Status)
		require.Equal(t, createdEvent, *task.CausationEventID)
		require.WithinDuration(t, before.AddDate(0, 0, def[i].DueInDays), *task.DueAt, time.Minute)
	}
	require.NotEmpty(t, b.start(t, client.Created{EventID: createdEvent, ClientID: c.ID}, client.Created{EventID: createdEvent, ClientID: uuid.New()})[0].Skipped)
	require.Equal(t, len(def), b.count(t, `SELECT count(*) FROM onboarding_tasks`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'client.onboarding_started' AND entity_id = $1
	AND (payload->>'causationEventId')::bigint = $2 AND jsonb_array_length(payload->'tasks') = $3`, c.ID, createdEvent, len(def)))

	for i, task := range tasks {
		st := client.TaskDone
		if i == 1 {
			st = client.TaskSkipped
		}
		got, err := b.clients.SetTask(t.Context(), b.org, "user:test", c.ID, task.ID, st)
		require.NoError(t, err)
		require.Equal(t, st, got.Status)
		require.NotNil(t, got.CompletedAt)
		cur, err := b.clients.Get(t.Context(), b.org, c.ID)
		require.NoError(t, err)
		if i < len(tasks)-1 {
			require.Equal(t, client.StatusOnboarding, cur.Status)
		} else {
			require.Equal(t, client.StatusActive, cur.Status)
		}
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'client.onboarded' AND entity_id = $1`, c.ID))
	// Back to pending and done again: no second client.onboarded.
	got, err := b.clients.SetTask(t.Context(), b.org, "user:test", c.ID, tasks[0].ID, client.TaskPending)
	require.NoError(t, err)
	require.Nil(t, got.CompletedAt)
	_, err = b.clients.SetTask(t.Context(), b.org, "user:test", c.ID, tasks[0].ID, client.TaskDone)
	require.NoError(t, err)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'client.onboarded'`))
	// Each change of a task's status is an event about the task; setting the status it has is none.
	_, err = b.clients.SetTask(t.Context(), b.org, "user:test", c.ID, tasks[0].ID, client.TaskDone)
	require.NoError(t, err)
	require.Equal(t, len(tasks)+2, b.count(t, `SELECT count(*) FROM events WHERE type = 'onboarding_task.status_changed'`))
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM events WHERE type = 'onboarding_task.status_changed'
	AND entity_type = 'onboarding_task' AND entity_id = $1 AND payload->>'clientId' = $2`, tasks[0].ID, c.ID.String()))

	_, err = b.clients.SetTask(t.Context(), b.org, "user:test", c.ID, uuid.New(), client.TaskDone)
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
}

// TestStatusMachine holds the machine to API.md: onboarding -> active -> paused | churned, and
// back to active; nothing else.
func TestStatusMachine(t *testing.T) {
	t.Parallel()
	allowed := map[[2]client.Status]bool{
		{client.StatusOnboarding, client.StatusActive}: true,
		{client.StatusActive, client.StatusPaused}:     true,
		{client.StatusActive, client.StatusChurned}:    true,
		{client.StatusPaused, client.StatusActive}:     true,
		{client.StatusChurned, client.StatusActive}:    true,
	}
	all := []client.Status{client.StatusOnboarding, client.StatusActive, client.StatusPaused, client.StatusChurned}
	for _, from := range all {
		for _, to := range all {
			require.Equal(t, allowed[[2]client.Status{from, to}], client.CanMove(from, to), "%s -> %s", from, to)
		}
	}
}

// TestOnboardingSettings: the default, a saved template that the next client gets, and bad
// templates refused with nothing written.
func TestOnboardingSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got, err := client.Onboarding.Read(t.Context(), b.d, b.org)
	require.NoError(t, err)
	require.Equal(t, client.DefaultSettings(), got)
	for _, bad := range []client.Settings{
		{},
		{Tasks: []client.TaskTemplate{{Title: " ", DueInDays: 1}}},
		{Tasks: []client.TaskTemplate{{Title: "x", DueInDays: -1}}},
		{Tasks: make([]client.TaskTemplate, 51)},
	} {
		_, err := client.Onboarding.Save(t.Context(), b.d, b.org, bad)
		require.True(t, apperr.Is(err, apperr.Invalid), "%v", err)
	}
	require.Zero(t, b.count(t, `SELECT count(*) FROM org_settings WHERE name = 'onboarding'`))
	want := client.Settings{Tasks: []client.TaskTemplate{{Title: "Only step", DueInDays: 3}}}
	_, err = client.Onboarding.Save(t.Context(), b.d, b.org, client.Settings{Tasks: []client.TaskTemplate{{Title: " Only step ", DueInDays: 3}}})
	require.NoError(t, err)
	got, err = client.Onboarding.Read(t.Context(), b.d, b.org)
	require.NoError(t, err)
	require.Equal(t, want, got)

	inv, ev := b.paidInvoice(t, time.Now().UTC().Add(-time.Hour))
	c := b.create(t, client.Paid{EventID: ev, InvoiceID: inv.ID})[0].Client
	tasks := b.start(t, client.Created{EventID: 1, ClientID: c.ID})[0].Tasks
	require.Len(t, tasks, 1)
	require.Equal(t, "Only step", tasks[0].Title)
}
