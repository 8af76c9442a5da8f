package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/proctest"
)

// builds holds the binaries that only the whole-system tests start (the gateway and the
// scheduler), built on first use; TestMain removes them.
var builds proctest.Builds

// gatewayBin and schedulerBin build the intake gateway and the scheduler on first use.
func gatewayBin(t *testing.T) string {
	t.Helper()
	return builds.Bin(t, "example.com/crm/services/intake-gateway")
}

func schedulerBin(t *testing.T) string {
	t.Helper()
	return builds.Bin(t, "example.com/crm/services/scheduler")
}

// longE2E skips a test that runs the whole system for minutes under -short.
func longE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the four binaries for a minute or more; run without -short")
	}
}

// webhookSource is a webhook intake source as POST /intake-sources answers it, with its secret.
type webhookSource struct {
	ID            string `json:"id"`
	SigningSecret string `json:"signingSecret"`
}

// newWebhookSource creates a webhook source through the api, rateLimitPerMinute per minute.
func (u *user) newWebhookSource(name string, rateLimitPerMinute int) webhookSource {
	u.t.Helper()
	var src webhookSource
	u.ok(http.StatusCreated, &src, http.MethodPost, "/intake-sources", map[string]any{
		"kind": "webhook", "name": name, "rateLimitPerMinute": rateLimitPerMinute,
	})
	require.NotEmpty(u.t, src.SigningSecret)
	return src
}

// standardDelivery is one webhook delivery of body to the gateway at base, signed as a
// Standard Webhooks sender signs it: the message id, the timestamp and the signature over
// "<id>.<timestamp>.<body>" keyed with the decoded secret. It uses no testing.T, so that load
// generators may call it from their goroutines.
func standardDelivery(ctx context.Context, base string, src webhookSource, id string, body []byte) (*http.Request, error) {
	now := time.Now()
	sig, err := intake.SignStandard(src.SigningSecret, id, now, body)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/intake/webhook/"+src.ID, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	return req, nil
}

// The parts of the api's answers the lifecycle reads, beyond those of the money walk.
type (
	submissionJSON struct {
		ID     string  `json:"id"`
		Status string  `json:"status"`
		LeadID *string `json:"leadId"`
	}
	leadJSON struct {
		ID              string         `json:"id"`
		Stage           string         `json:"stage"`
		Domain          *string        `json:"domain"`
		Score           *int           `json:"score"`
		ScoreReasons    []any          `json:"scoreReasons"`
		RecommendedPath *string        `json:"recommendedPath"`
		Priority        string         `json:"priority"`
		RevenueBand     *string        `json:"revenueBand"`
		Enrichment      map[string]any `json:"enrichment"`
	}
	activityJSON struct {
		Kind    string  `json:"kind"`
		Subject *string `json:"subject"`
	}
	callJSON struct {
		ID                string  `json:"id"`
		Status            string  `json:"status"`
		Summary           *string `json:"summary"`
		BuyingSignalScore *int    `json:"buyingSignalScore"`
		AnalysisModel     *string `json:"analysisModel"`
	}
	jobJSON struct {
		ID       int64           `json:"id"`
		Type     string          `json:"type"`
		Status   string          `json:"status"`
		LockedBy *string         `json:"lockedBy"`
		Payload  json.RawMessage `json:"payload"`
	}
	jobLogJSON struct {
		Attempt int    `json:"attempt"`
		Worker  string `json:"worker"`
		Outcome string `json:"outcome"`
	}
	cronTaskJSON struct {
		ID       string  `json:"id"`
		JobType  string  `json:"jobType"`
		CronExpr string  `json:"cronExpr"`
		Last     *string `json:"lastSlotAt"`
	}
	reportJSON struct {
		ID          string    `json:"id"`
		Kind        string    `json:"kind"`
		PeriodStart time.Time `json:"periodStart"`
		PeriodEnd   time.Time `json:"periodEnd"`
	}
)

// jobs lists the org's jobs of one type (GET /observability/jobs).
func (u *user) jobs(typ string) []jobJSON {
	u.t.Helper()
	var js list[jobJSON]
	u.ok(http.StatusOK, &js, http.MethodGet, "/observability/jobs?limit=200&type="+typ, nil)
	return js.Data
}

// fakeEnrichment is a local enrichment API speaking the contract of pkg/enrichment: GET
// ?domain=, bearer key, a company object. Its first request is held until the worker that made
// it is gone (the connection closes), so that the test can kill that worker inside the job.
type fakeEnrichment struct {
	*httptest.Server
	mu      sync.Mutex
	domains []string
	held    chan struct{} // closed when the first request is being held
}

func newFakeEnrichment(t *testing.T) *fakeEnrichment {
	t.Helper()
	f := &fakeEnrichment{held: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer e2e-key" || r.URL.Query().Get("domain") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		f.domains = append(f.domains, r.URL.Query().Get("domain"))
		first := len(f.domains) == 1
		f.mu.Unlock()
		if first {
			close(f.held)
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"company":"Analytical Engines Ltd","employees":240,"industry":"Computing","country":"GB","revenueUsd":30000000}`)
	}))
	t.Cleanup(f.Close)
	return f
}

// requests returns the domains asked for so far.
func (f *fakeEnrichment) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.domains...)
}

// pidOf is the process id in a claim's lockedBy ("<host>-<pid>/<nonce>").
func pidOf(t *testing.T, lockedBy string) int {
	t.Helper()
	worker, _, ok := strings.Cut(lockedBy, "/")
	require.True(t, ok, "lockedBy %q names a claim", lockedBy)
	pid, err := strconv.Atoi(worker[strings.LastIndex(worker, "-")+1:])
	require.NoError(t, err, "lockedBy %q ends its worker id with a pid", lockedBy)
	return pid
}

// TestWholeLifecycle walks one lead through the whole system with the four real binaries, as
// production runs them: one api, one intake gateway, three worker processes and two scheduler
// processes on one database, every step asserted through the api's routes (each exchange
// checked against openapi.yaml).
//
// A lead source signs a delivery as a Standard Webhooks library does and posts it to the
// gateway; the submission is processed into a lead, which a worker enriches through a local
// enrichment API (its first request held until the test has killed, with SIGKILL, the worker
// whose claim it is: the lease reaper of another worker frees the job, which is enriched on
// attempt 2), scores with the built-in scorer (book_call), and routes (priority high, a "Book a
// call" task). The user books a call (the lead is call_booked), completes it with a transcript
// full of buying signals; a worker analyses it (builtin, score over the threshold) and
// escalates the lead (urgent). The user opens a deal and wins it: the lead is converted, the
// workers make the invoice and the contract; the user pays the invoice, the workers make the
// client and its checklist, the user finishes it and the client is active. One scheduler is
// restarted (SIGTERM, exit 0, started again); the integrity watchdog and the weekly report are
// set to every minute and the schedulers fire each once at the next minute: the check finds
// nothing wrong in the chain, the report covers last ISO week. At the end no job failed and
// nothing is dead-lettered.
func TestWholeLifecycle(t *testing.T) {
	longE2E(t)
	t.Parallel()
	began := time.Now()
	_, url := dbtest.NewDB(t)
	within := 60 * time.Second

	var created struct {
		OrgID  string `json:"orgId"`
		APIKey string `json:"apiKey"`
	}
	require.NoError(t, json.Unmarshal(proctest.Run(t, apiBin, proctest.Env(url), "org", "create", "--name", "Lifecycle"), &created))
	enrich := newFakeEnrichment(t)
	api := proctest.Start(t, apiBin, "api", proctest.Env(dbtest.AppURL(t, url)), "serve")
	gw := proctest.Start(t, gatewayBin(t), "intake-gateway", proctest.Env(dbtest.AppURL(t, url)), "serve")
	workerEnv := proctest.Env(url,
		"WORKER_POLL_INTERVAL_MS=100",
		"WORKER_LOCK_TIMEOUT_MINUTES=0.1", // a 6 s lease, so that the killed worker's job is reaped within the test
		"WORKER_REAPER_INTERVAL_MS=500",
		"ENRICHMENT_API_URL="+enrich.URL+"/company", "ENRICHMENT_API_KEY=e2e-key",
	)
	workers := map[int]*proctest.Proc{}
	startWorker := func(name string) {
		w := proctest.Start(t, workerBin, name, workerEnv, "serve")
		w.LogLine(t, "worker starting", 20*time.Second)
		workers[w.Cmd.Process.Pid] = w
	}
	for _, name := range []string{"worker-1", "worker-2", "worker-3"} {
		startWorker(name)
	}
	schedEnv := proctest.Env(url, "SCHEDULER_POLL_INTERVAL_MS=200")
	schedulers := []*proctest.Proc{
		proctest.Start(t, schedulerBin(t), "scheduler-a", schedEnv, "serve"),
		proctest.Start(t, schedulerBin(t), "scheduler-b", schedEnv, "serve"),
	}
	u := &user{t: t, base: api.BaseURL(t), org: created.OrgID, key: created.APIKey}
	gwBase := gw.BaseURL(t)

	// A signed delivery at the gateway.
	src := u.newWebhookSource("website", 600)
	body := []byte(`{"email":"ada@analytical-engines.io","name":"Ada Lovelace","title":"CTO","company":"Analytical Engines",` +
		`"phone":"+44 20 7946 0000","website":"https://analytical-engines.io"}`)
	req, err := standardDelivery(t.Context(), gwBase, src, "msg_lifecycle_1", body)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusAccepted, res.StatusCode, string(out))
	var ack struct {
		IntakeID string `json:"intakeId"`
	}
	require.NoError(t, json.Unmarshal(out, &ack))

	// The submission becomes a lead.
	var sub submissionJSON
	proctest.Eventually(t, within, "the submission processed", func() bool {
		u.ok(http.StatusOK, &sub, http.MethodGet, "/intake-submissions/"+ack.IntakeID, nil)
		return sub.Status != "pending"
	})
	require.Equal(t, "processed", sub.Status)
	require.NotNil(t, sub.LeadID)
	leadID := *sub.LeadID

	// The worker holding enrich_lead is killed inside the job, while its enrichment request is
	// held; a replacement keeps three workers running.
	select {
	case <-enrich.held:
	case <-time.After(within):
		require.FailNow(t, "no enrichment request")
	}
	// enrich_lead and qualify_lead both ask the enrichment API (whichever runs first stores the
	// enrichment), so the held request is the one of the job still running once the other has
	// completed.
	var held jobJSON
	proctest.Eventually(t, 4*time.Second, "one enrichment job held, the other completed", func() bool {
		var running []jobJSON
		done := 0
		for _, j := range append(u.jobs("enrich_lead"), u.jobs("qualify_lead")...) {
			switch j.Status {
			case "running":
				running = append(running, j)
			case "completed":
				done++
			}
		}
		if len(running) == 1 && done == 1 {
			held = running[0]
			return true
		}
		return false
	})
	require.NotNil(t, held.LockedBy)
	victim := workers[pidOf(t, *held.LockedBy)]
	require.NotNil(t, victim, "the claim %s is one of the workers'", *held.LockedBy)
	victim.Signal(t, syscall.SIGKILL)
	ws := victim.WaitExit(t, 10*time.Second)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "%s was killed: %v", victim.Name, ws)
	startWorker("worker-4")

	// Enriched on the second attempt, scored and routed.
	var ld leadJSON
	proctest.Eventually(t, within, "the lead enriched, qualified and routed", func() bool {
		u.ok(http.StatusOK, &ld, http.MethodGet, "/leads/"+leadID, nil)
		return ld.RevenueBand != nil && ld.RecommendedPath != nil && ld.Priority == "high"
	})
	require.Equal(t, "qualified", ld.Stage)
	require.Equal(t, "book_call", *ld.RecommendedPath)
	require.Equal(t, "analytical-engines.io", *ld.Domain)
	require.Equal(t, "10M-50M", *ld.RevenueBand, "the band of the enrichment API's revenue")
	require.NotNil(t, ld.Score)
	require.NotEmpty(t, ld.ScoreReasons)
	for _, d := range enrich.requests() {
		require.Equal(t, "analytical-engines.io", d, "the API is asked for the lead's domain")
	}
	var again struct {
		Status       string       `json:"status"`
		AttemptCount int          `json:"attemptCount"`
		Attempts     []jobLogJSON `json:"attempts"`
	}
	proctest.Eventually(t, within, "the killed worker's job rescued once its lease expired", func() bool {
		u.ok(http.StatusOK, &again, http.MethodGet, fmt.Sprintf("/observability/jobs/%d", held.ID), nil)
		return again.Status == "completed"
	})
	require.Equal(t, 2, again.AttemptCount, "the killed claim counted, the rescue completed")
	require.Len(t, again.Attempts, 2)
	require.Equal(t, "reaped", again.Attempts[0].Outcome, "the killed worker's attempt is reaped")
	require.Equal(t, victim.Name, workerName(workers, again.Attempts[0].Worker))
	require.Equal(t, "completed", again.Attempts[1].Outcome, "another worker completes it")
	require.NotEqual(t, victim.Name, workerName(workers, again.Attempts[1].Worker))
	for _, typ := range []string{"enrich_lead", "qualify_lead", "route_outreach"} {
		js := u.jobs(typ)
		require.Len(t, js, 1, typ)
		require.Equal(t, "completed", js[0].Status, typ)
	}
	var acts list[activityJSON]
	u.ok(http.StatusOK, &acts, http.MethodGet, "/leads/"+leadID+"/activities", nil)
	require.True(t, hasActivity(acts.Data, "task", "Book a call"), "route_outreach added the task: %+v", acts.Data)

	// A call booked and held; its transcript is analysed and the lead escalated.
	var cl callJSON
	u.ok(http.StatusCreated, &cl, http.MethodPost, "/calls", map[string]string{
		"leadId": leadID, "scheduledAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	})
	u.ok(http.StatusOK, &ld, http.MethodGet, "/leads/"+leadID, nil)
	require.Equal(t, "call_booked", ld.Stage)
	u.ok(http.StatusOK, &cl, http.MethodPost, "/calls/"+cl.ID+"/complete", map[string]string{
		"transcript": "Ada: This is exactly what we need. Our budget is approved and we are ready to sign. " +
			"When can we start? Please send the contract with the payment terms.",
	})
	require.Equal(t, "completed", cl.Status)
	proctest.Eventually(t, within, "the call analysed", func() bool {
		u.ok(http.StatusOK, &cl, http.MethodGet, "/calls/"+cl.ID, nil)
		return cl.AnalysisModel != nil
	})
	require.Equal(t, "builtin", *cl.AnalysisModel)
	require.NotNil(t, cl.Summary)
	require.GreaterOrEqual(t, *cl.BuyingSignalScore, 75, "over the default threshold")
	proctest.Eventually(t, within, "the lead escalated", func() bool {
		u.ok(http.StatusOK, &ld, http.MethodGet, "/leads/"+leadID, nil)
		return ld.Priority == "urgent"
	})
	u.eventOf("buying_signal.high", cl.ID)

	// One scheduler restarted mid-way.
	schedulers[1].Signal(t, syscall.SIGTERM)
	require.Zero(t, schedulers[1].WaitExit(t, 15*time.Second).ExitStatus(), "the scheduler stops cleanly")
	schedulers[1] = proctest.Start(t, schedulerBin(t), "scheduler-b2", schedEnv, "serve")
	schedulers[1].LogLine(t, "scheduler starting", 20*time.Second)

	// The deal won, invoiced, paid; the client onboarded.
	var deal staged
	u.ok(http.StatusCreated, &deal, http.MethodPost, "/deals", map[string]any{
		"leadId": leadID, "title": "Analytical Engine", "dealValue": 4200000, "currency": "GBP",
	})
	u.ok(http.StatusOK, &ld, http.MethodGet, "/leads/"+leadID, nil)
	require.Equal(t, "converted", ld.Stage)
	u.ok(http.StatusOK, &deal, http.MethodPost, "/deals/"+deal.ID+"/stage", map[string]string{"stage": "won"})
	require.Equal(t, "won", deal.Stage)
	var invs list[invoiceJSON]
	var cons list[contractJSON]
	proctest.Eventually(t, within, "the won deal's invoice and contract", func() bool {
		u.ok(http.StatusOK, &invs, http.MethodGet, "/invoices?dealId="+deal.ID, nil)
		u.ok(http.StatusOK, &cons, http.MethodGet, "/contracts?dealId="+deal.ID, nil)
		return len(invs.Data) > 0 && len(cons.Data) > 0
	})
	require.Len(t, invs.Data, 1)
	require.Len(t, cons.Data, 1)
	inv := invs.Data[0]
	require.Equal(t, int64(4200000), inv.Amount)
	require.Equal(t, "GBP", inv.Currency)
	require.Equal(t, "generated", cons.Data[0].Status)
	var paid invoiceJSON
	u.ok(http.StatusOK, &paid, http.MethodPost, "/invoices/"+inv.ID+"/pay", map[string]string{"reference": "BANK-1843"}, "Idempotency-Key", "pay-"+inv.ID)
	require.Equal(t, "paid", paid.Status)
	var client clientJSON
	proctest.Eventually(t, within, "the paid invoice's client", func() bool {
		var cls list[clientJSON]
		u.ok(http.StatusOK, &cls, http.MethodGet, "/clients", nil)
		for _, c := range cls.Data {
			if c.DealID == deal.ID {
				client = c
				return true
			}
		}
		return false
	})
	require.Equal(t, "onboarding", client.Status)
	require.Equal(t, inv.ID, client.InvoiceID)
	var tasks list[taskJSON]
	proctest.Eventually(t, within, "the client's checklist", func() bool {
		u.ok(http.StatusOK, &tasks, http.MethodGet, "/clients/"+client.ID+"/onboarding", nil)
		return len(tasks.Data) > 0
	})
	for _, task := range tasks.Data {
		u.ok(http.StatusOK, nil, http.MethodPost, "/clients/"+client.ID+"/onboarding/"+task.ID, map[string]string{"status": "done"})
	}
	u.ok(http.StatusOK, &client, http.MethodGet, "/clients/"+client.ID, nil)
	require.Equal(t, "active", client.Status)
	u.eventOf("client.onboarded", client.ID)

	// The integrity watchdog and the weekly report at the next minute, fired by the schedulers.
	var crons list[cronTaskJSON]
	u.ok(http.StatusOK, &crons, http.MethodGet, "/cron-tasks", nil)
	seeded := map[string]cronTaskJSON{}
	for _, c := range crons.Data {
		seeded[c.JobType] = c
	}
	for _, typ := range []string{"check_integrity", "generate_weekly_report"} {
		c, ok := seeded[typ]
		require.True(t, ok, "the org is seeded with %s", typ)
		u.ok(http.StatusOK, nil, http.MethodPatch, "/cron-tasks/"+c.ID, map[string]string{"cronExpr": "* * * * *"})
	}
	proctest.Eventually(t, 2*time.Minute, "the check and the report run by the schedulers", func() bool {
		for _, typ := range []string{"check_integrity", "generate_weekly_report"} {
			js := u.jobs(typ)
			if len(js) == 0 || js[0].Status != "completed" {
				return false
			}
		}
		return true
	})
	// Back to their seeded schedules, so that no further minute fires while the test reads.
	for _, typ := range []string{"check_integrity", "generate_weekly_report"} {
		c := seeded[typ]
		u.ok(http.StatusOK, nil, http.MethodPatch, "/cron-tasks/"+c.ID, map[string]string{"cronExpr": c.CronExpr})
	}
	for _, typ := range []string{"check_integrity", "generate_weekly_report"} {
		slots := map[string]bool{}
		for _, j := range u.jobs(typ) {
			var p struct {
				Slot string `json:"slot"`
			}
			require.NoError(t, json.Unmarshal(j.Payload, &p))
			require.NotEmpty(t, p.Slot, "a cron job carries its slot")
			require.False(t, slots[p.Slot], "%s fired slot %s twice", typ, p.Slot)
			slots[p.Slot] = true
		}
	}
	var alerts list[json.RawMessage]
	u.ok(http.StatusOK, &alerts, http.MethodGet, "/observability/integrity-alerts?open=true", nil)
	require.Empty(t, alerts.Data, "the watchdog finds nothing wrong in the chain")
	var reports list[reportJSON]
	u.ok(http.StatusOK, &reports, http.MethodGet, "/reports?kind=weekly", nil)
	require.Len(t, reports.Data, 1)
	require.Equal(t, time.Monday, reports.Data[0].PeriodStart.Weekday(), "an ISO week")
	require.False(t, reports.Data[0].PeriodEnd.After(time.Now()), "last week's")

	// Nothing failed, nothing is dead-lettered.
	var failed, dead list[json.RawMessage]
	u.ok(http.StatusOK, &failed, http.MethodGet, "/observability/jobs?status=failed", nil)
	require.Empty(t, failed.Data, "no job failed")
	u.ok(http.StatusOK, &dead, http.MethodGet, "/observability/dead-letters", nil)
	require.Empty(t, dead.Data, "no job is dead-lettered")
	t.Logf("the whole lifecycle took %s", time.Since(began).Round(time.Millisecond))
}

// workerName is the name of the worker process whose claim claimID is.
func workerName(workers map[int]*proctest.Proc, claimID string) string {
	worker, _, _ := strings.Cut(claimID, "/")
	pid, err := strconv.Atoi(worker[strings.LastIndex(worker, "-")+1:])
	if err != nil || workers[pid] == nil {
		return "unknown claim " + claimID
	}
	return workers[pid].Name
}

// hasActivity says whether acts hold an activity of kind with subject.
func hasActivity(acts []activityJSON, kind, subject string) bool {
	for _, a := range acts {
		if a.Kind == kind && a.Subject != nil && *a.Subject == subject {
			return true
		}
	}
	return false
}
