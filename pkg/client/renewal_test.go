package client_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/invoice"
)

// renewingClient makes a client through the chain (a won deal, its invoice paid, create_client)
// and sets its renewal date days from today (UTC, the database's clock); it returns the client.
func (b *bundle) renewingClient(t *testing.T, days int) client.Client {
	t.Helper()
	dealID := dbtest.WonDeal(t, b.super, b.org, "", "won", 5000)
	res := dbtest.Batch(t, b.d, b.org, b.invoices.Create, invoice.Won{EventID: 1, DealID: dealID})
	inv, err := b.invoices.Pay(t.Context(), b.org, "user:test", res[0].Invoice.ID, invoice.Payment{})
	require.NoError(t, err)
	c := b.create(t, client.Paid{EventID: 1, InvoiceID: inv.ID})[0].Client
	b.renewIn(t, c.ID, days)
	return c
}

// renewIn moves the client's renewal date to days from today (UTC).
func (b *bundle) renewIn(t *testing.T, id uuid.UUID, days int) {
	t.Helper()
	_, err := b.super.Pool.Exec(t.Context(), `UPDATE clients SET renewal_date = (now() AT TIME ZONE 'UTC')::date + $2::int WHERE id = $1`, id, days)
	require.NoError(t, err)
}

func (b *bundle) remind(t *testing.T) client.RenewalReport {
	t.Helper()
	rep, err := b.clients.RemindRenewals(t.Context(), b.org)
	require.NoError(t, err)
	return rep
}

// reminders counts the renewal tasks on the client's lead and the client.renewal_due events
// about it.
func (b *bundle) reminders(t *testing.T, c client.Client) (tasks, due int) {
	t.Helper()
	tasks = b.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'task' AND subject = $2`, c.LeadID, client.RenewalSubject)
	due = b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = $2`, c.ID, client.EventRenewalDue)
	return tasks, due
}

// TestRenewalReminderWindow proves the reminder's boundaries and its once: clients renewing today
// and in 29 and 30 days get one task on their lead with client.renewal_due (recording the
// 30-day rule and the days left) and lead.activity_added; one renewing in 31 days, one whose
// renewal passed and a churned one get nothing; a second run reminds no one. The window is read
// two clients a chunk.
func TestRenewalReminderWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	today, in29, in30, in31, past, churned := b.renewingClient(t, 0), b.renewingClient(t, 29), b.renewingClient(t, 30),
		b.renewingClient(t, 31), b.renewingClient(t, -1), b.renewingClient(t, 5)
	_, err := b.super.Pool.Exec(t.Context(), `UPDATE clients SET status = 'churned' WHERE id = $1`, churned.ID)
	require.NoError(t, err)

	client.SetRenewalChunk(b.clients, 2)
	rep := b.remind(t)
	require.Equal(t, 3, rep.Reminded)
	require.Equal(t, 2, rep.Chunks, "three clients in the window, two a chunk")
	require.Equal(t, time.Now().UTC().Format(time.DateOnly), rep.Today)
	for _, c := range []client.Client{today, in29, in30} {
		tasks, due := b.reminders(t, c)
		require.Equal(t, 1, tasks, "client %s", c.ID)
		require.Equal(t, 1, due, "client %s", c.ID)
	}
	for _, c := range []client.Client{in31, past, churned} {
		tasks, due := b.reminders(t, c)
		require.Zero(t, tasks+due, "client %s", c.ID)
	}

	var raw []byte
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT payload FROM events WHERE entity_id = $1 AND type = $2`,
		in29.ID, client.EventRenewalDue).Scan(&raw))
	var p client.RenewalDuePayload
	require.NoError(t, json.Unmarshal(raw, &p))
	require.Equal(t, 29, p.DaysLeft)
	require.Equal(t, client.RenewalWindowDays, p.WindowDays)
	require.Equal(t, time.Now().UTC().AddDate(0, 0, 29).Format(time.DateOnly), p.RenewalDate)
	require.Equal(t, in29.LeadID, p.LeadID)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM lead_activities WHERE id = $1 AND lead_id = $2 AND created_by = $3
	AND dedup_key = $4`, p.ActivityID, in29.LeadID, client.RenewalActor, "renewal:"+in29.ID.String()+":"+p.RenewalDate))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'lead.activity_added' AND entity_id = $1
	AND payload->>'activityId' = $2`, in29.LeadID, p.ActivityID.String()))

	require.Zero(t, b.remind(t).Reminded)
	for _, c := range []client.Client{today, in29, in30} {
		tasks, due := b.reminders(t, c)
		require.Equal(t, []int{1, 1}, []int{tasks, due}, "client %s is reminded once", c.ID)
	}
}

// TestRenewalReminderMovedDate proves a changed renewal date is a new renewal: the client
// reminded of in 29 days whose date moves to 10 days is reminded again (a second task and
// event), then not again; one moved out of the window and back to the same date is not.
func TestRenewalReminderMovedDate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	moved, same := b.renewingClient(t, 29), b.renewingClient(t, 20)
	require.Equal(t, 2, b.remind(t).Reminded)

	b.renewIn(t, moved.ID, 10)
	b.renewIn(t, same.ID, 60)
	require.Equal(t, 1, b.remind(t).Reminded)
	b.renewIn(t, same.ID, 20)
	require.Zero(t, b.remind(t).Reminded, "the same renewal date is the same renewal")
	tasks, due := b.reminders(t, moved)
	require.Equal(t, 2, tasks)
	require.Equal(t, 2, due)
	tasks, due = b.reminders(t, same)
	require.Equal(t, 1, tasks)
	require.Equal(t, 1, due)
}
