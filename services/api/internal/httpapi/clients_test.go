package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/dbtest"
)

// clientJSON is the part of a client the tests read.
type clientJSON struct {
	ID               string  `json:"id"`
	InvoiceID        string  `json:"invoiceId"`
	Status           string  `json:"status"`
	RenewalDate      *string `json:"renewalDate"`
	Email            *string `json:"email"`
	CausationEventID *int64  `json:"causationEventId"`
}

// taskJSON is an onboarding task as the API shows it.
type taskJSON struct {
	ID          string  `json:"id"`
	Position    int     `json:"position"`
	Title       string  `json:"title"`
	Status      string  `json:"status"`
	DueAt       *string `json:"dueAt"`
	CompletedAt *string `json:"completedAt"`
}

// onboardedClient wins and invoices a new deal, pays the invoice through the API, and runs what
// the worker's create_client and start_onboarding do (client.Service in tenant transactions of
// the owner). It returns the client as GET /clients/{id} shows it.
func onboardedClient(t *testing.T, a *apiTest, email string) clientJSON {
	t.Helper()
	inv := wonInvoice(t, a, email, nil)
	r := a.do(http.MethodPost, "/invoices/"+inv.ID+"/pay", map[string]any{"paidAt": "2026-03-15T10:00:00Z"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	paidEvent := causingEvent(t, a, "invoice.paid", inv.ID)
	svc := client.NewService(a.owner, workerEmitter(a))
	c := dbtest.Batch(t, a.owner, a.org, svc.Create, client.Paid{EventID: paidEvent, InvoiceID: uuid.MustParse(inv.ID)})[0].Client
	dbtest.Batch(t, a.owner, a.org, svc.StartOnboarding, client.Created{EventID: paidEvent, ClientID: c.ID})
	var out clientJSON
	getOK(t, a, "/clients/"+c.ID.String(), &out)
	require.Equal(t, paidEvent, *out.CausationEventID)
	return out
}

// TestClientRoutes walks the client routes: list with its filter, get, the checklist, bad input
// writing nothing, completing and skipping every task making the client active (once), every
// status transition allowed and refused (409 with the current status), the renewal date, and
// the onboarding settings.
func TestClientRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := onboardedClient(t, a, "client@buyer.example")
	require.Equal(t, "onboarding", c.Status)
	require.Equal(t, "2027-03-15", *c.RenewalDate)
	require.Equal(t, "client@buyer.example", *c.Email)

	var pg struct {
		Data       []clientJSON `json:"data"`
		NextCursor *string      `json:"nextCursor"`
	}
	getOK(t, a, "/clients?status=onboarding", &pg)
	require.Len(t, pg.Data, 1)
	getOK(t, a, "/clients?status=active", &pg)
	require.Empty(t, pg.Data)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/clients?status=gone", nil).Status)

	var tasks struct {
		Data []taskJSON `json:"data"`
	}
	getOK(t, a, "/clients/"+c.ID+"/onboarding", &tasks)
	require.Len(t, tasks.Data, len(client.DefaultSettings().Tasks))
	for i, task := range tasks.Data {
		require.Equal(t, i, task.Position)
		require.Equal(t, "pending", task.Status)
		require.NotNil(t, task.DueAt)
	}

	// Bad input writes nothing.
	events := a.count(`SELECT count(*) FROM events`)
	base := "/clients/" + c.ID
	task0 := base + "/onboarding/" + tasks.Data[0].ID
	require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPost, task0, map[string]any{"status": "finished"}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPost, task0, map[string]any{}).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodPost, base+"/onboarding/"+uuid.NewString(), map[string]any{"status": "done"}).Status)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodPost, base+"/onboarding/x", map[string]any{"status": "done"}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPost, base+"/status", map[string]any{"status": "gone"}).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodPost, "/clients/"+uuid.NewString()+"/status", map[string]any{"status": "active"}).Status)
	for _, bad := range []string{"2027-02-30", "tomorrow", "2027-1-1"} {
		require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPatch, base, map[string]any{"renewalDate": bad}).Status, bad)
	}
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodPatch, base, map[string]any{"renewalDate": 5}).Status)
	for _, bad := range []map[string]any{{"tasks": []any{}}, {"tasks": []any{map[string]any{"title": "", "dueInDays": 1}}},
		{"tasks": []any{map[string]any{"title": "x", "dueInDays": 400}}}, {"tasks": []any{map[string]any{"title": "x"}}}} {
		require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPut, "/settings/onboarding", bad).Status, "%v", bad)
	}
	require.Equal(t, events, a.count(`SELECT count(*) FROM events`))
	require.Zero(t, a.count(`SELECT count(*) FROM onboarding_tasks WHERE status <> 'pending'`))
	require.Zero(t, a.count(`SELECT count(*) FROM org_settings WHERE name = 'onboarding'`))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM clients WHERE status = 'onboarding' AND renewal_date = '2027-03-15'`))

	// onboarding refuses everything but active, which the checklist reaches.
	var r response
	for _, to := range []string{"onboarding", "paused", "churned"} {
		r = a.do(http.MethodPost, base+"/status", map[string]any{"status": to})
		require.Equal(t, http.StatusConflict, r.Status, to)
		require.Contains(t, string(r.Body), `"currentStatus":"onboarding"`)
	}
	for i, task := range tasks.Data {
		st := "done"
		if i == 2 {
			st = "skipped"
		}
		r = a.do(http.MethodPost, base+"/onboarding/"+task.ID, map[string]any{"status": st}, withHeader("Idempotency-Key", "task-"+task.ID))
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var got taskJSON
		r.json(t, &got)
		require.Equal(t, st, got.Status)
		require.NotNil(t, got.CompletedAt)
		var cur clientJSON
		a.do(http.MethodGet, base, nil).json(t, &cur)
		if i < len(tasks.Data)-1 {
			require.Equal(t, "onboarding", cur.Status)
		} else {
			require.Equal(t, "active", cur.Status)
		}
	}
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'client.onboarded'`))
	r = a.do(http.MethodPost, task0, map[string]any{"status": "pending"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, http.StatusOK, a.do(http.MethodPost, task0, map[string]any{"status": "done"}).Status)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'client.onboarded'`))

	// active -> paused -> active -> churned -> active, with the refusals on the way.
	walk := []struct {
		to     string
		status int
	}{
		{"active", http.StatusConflict}, {"onboarding", http.StatusConflict}, {"paused", http.StatusOK},
		{"paused", http.StatusConflict}, {"churned", http.StatusConflict}, {"onboarding", http.StatusConflict}, {"active", http.StatusOK},
		{"churned", http.StatusOK}, {"churned", http.StatusConflict}, {"paused", http.StatusConflict}, {"onboarding", http.StatusConflict},
		{"active", http.StatusOK},
	}
	changes := 0
	for i, step := range walk {
		r = a.do(http.MethodPost, base+"/status", map[string]any{"status": step.to})
		require.Equal(t, step.status, r.Status, "step %d to %s: %s", i, step.to, r.Body)
		if step.status == http.StatusOK {
			changes++
			var got clientJSON
			r.json(t, &got)
			require.Equal(t, step.to, got.Status)
		}
	}
	require.Equal(t, changes, a.count(`SELECT count(*) FROM events WHERE type = 'client.status_changed'`))

	r = a.do(http.MethodPatch, base, map[string]any{"renewalDate": "2027-06-30"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var got clientJSON
	r.json(t, &got)
	require.Equal(t, "2027-06-30", *got.RenewalDate)

	// Settings: the default, then a saved template.
	r = a.do(http.MethodGet, "/settings/onboarding", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = a.do(http.MethodPut, "/settings/onboarding", map[string]any{"tasks": []any{map[string]any{"title": " Kick-off ", "dueInDays": 1}}})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.JSONEq(t, `{"tasks":[{"title":"Kick-off","dueInDays":1}]}`, string(r.Body))
	second := onboardedClient(t, a, "second@buyer.example")
	a.do(http.MethodGet, "/clients/"+second.ID+"/onboarding", nil).json(t, &tasks)
	require.Len(t, tasks.Data, 1)
	require.Equal(t, "Kick-off", tasks.Data[0].Title)

	// onboarding -> active by hand too; the checklist done afterwards emits client.onboarded and
	// leaves the status alone.
	r = a.do(http.MethodPost, "/clients/"+second.ID+"/status", map[string]any{"status": "active"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = a.do(http.MethodPost, "/clients/"+second.ID+"/status", map[string]any{"status": "paused"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = a.do(http.MethodPost, "/clients/"+second.ID+"/onboarding/"+tasks.Data[0].ID, map[string]any{"status": "done"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	a.do(http.MethodGet, "/clients/"+second.ID, nil).json(t, &got)
	require.Equal(t, "paused", got.Status)
	require.Equal(t, 2, a.count(`SELECT count(*) FROM events WHERE type = 'client.onboarded'`))
}
