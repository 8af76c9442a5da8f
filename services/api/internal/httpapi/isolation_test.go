package httpapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/invoice"
	"example.com/crm/pkg/jobs"
)

// orgAData is what the first org owns, seen through its ids.
type orgAData struct {
	lead, source         string
	job, deadLetter      int64
	email, company, name string
	dealLead, deal       string // a converted lead and its deal (seedDeal)
	dealTitle            string
	callLead, call       string // a lead with a booked call (seedCall)
	submission           string // an intake submission of source (seedSubmission)
	invoice              string // the invoice of a second won deal (wonInvoice)
	contract             string // the contract of a third won deal (wonContract)
	client, task         string // a client of a third, paid deal and its first onboarding task (onboardedClient)
	cronTask, oneOff     string // a cron task of a kind the worker has, and a pending one-off task
	alert                string // an open integrity alert
	report               string // a weekly report (weeklyReport)
}

// seedOrgA gives the test's org a lead with an activity, an intake source, jobs (from
// lead.created), a dead letter and an integrity alert.
// orgARules are the rules org A saves; org B's PUT must not reach them.
var orgARules = map[string]any{
	"dealDecayDays": map[string]any{"discovery": 41, "proposal": 42, "negotiation": 43}, "leadStaleDays": 44, "ghostRiskSilenceDays": 45,
}

func seedOrgA(t *testing.T, a *apiTest) orgAData {
	t.Helper()
	d := orgAData{email: "secret.person@hidden-corp.example", company: "Hidden Corp Unique", name: "Zebedee Hidden"}
	r := a.do(http.MethodPost, "/leads", map[string]any{"name": d.name, "email": d.email, "company": d.company})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var l struct{ ID string }
	r.json(t, &l)
	d.lead = l.ID
	require.Equal(t, http.StatusCreated, a.do(http.MethodPost, "/leads/"+d.lead+"/activities", map[string]any{"kind": "note", "body": "hidden note"}).Status)
	require.Equal(t, http.StatusOK, a.do(http.MethodPut, "/settings/rules", orgARules).Status)
	r = a.do(http.MethodPost, "/intake-sources", map[string]any{"kind": "webhook", "name": "Hidden source"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var s struct{ ID string }
	r.json(t, &s)
	d.source = s.ID

	// A dead letter of org A: claim its jobs (as the worker does, as the owner) and fail one
	// permanently; the other goes back to pending.
	q := jobs.New(a.owner, jobs.Config{})
	claimed, err := q.Claim(t.Context(), jobs.NewClaimID("isolation-test"), 10)
	require.NoError(t, err)
	require.NotEmpty(t, claimed)
	d.job = claimed[0].ID
	_, err = q.Fail(t.Context(), claimed[0], jobs.Permanentf("boom"), 0)
	require.NoError(t, err)
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT id FROM dead_letter_jobs WHERE org_id = $1`, a.org).Scan(&d.deadLetter))
	_, err = q.Release(t.Context(), claimed[1:])
	require.NoError(t, err)

	require.NoError(t, a.owner.Tx(t.Context(), a.org, func(tx *gorm.DB) error {
		return tx.Raw(`INSERT INTO integrity_alerts (org_id, check_name, entity_type, entity_id) VALUES (?, 'hidden_check', 'lead', ?) RETURNING id`,
			a.org, d.lead).Scan(&d.alert).Error
	}))
	seedDeal(t, a, &d)
	seedCall(t, a, &d)
	seedSubmission(t, a, &d)
	d.invoice = wonInvoice(t, a, "hidden.invoiced@hidden-corp.example", invoice.TextRenderer{}).ID
	d.contract = wonContract(t, a, "hidden.contracted@hidden-corp.example").ID
	d.client = onboardedClient(t, a, "hidden.client@hidden-corp.example").ID
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT id FROM onboarding_tasks WHERE client_id = $1 AND position = 0`, d.client).Scan(&d.task))
	d.cronTask = a.seedCronTask(a.org, "hidden cron", "noop", "0 4 * * *", false, "NULL")
	d.oneOff = a.seedScheduledTask(a.org, "now() + interval '1 day'", "pending")
	d.report = weeklyReport(t, a, time.Now().AddDate(0, 0, 7))
	return d
}

// seedDeal gives org A a second lead, moved to call_booked, and a deal of it (which converts it).
func seedDeal(t *testing.T, a *apiTest, d *orgAData) {
	t.Helper()
	d.dealTitle = "Hidden Deal Unique"
	r := a.do(http.MethodPost, "/leads", map[string]any{"name": "Hidden Buyer", "email": "hidden.buyer@hidden-corp.example"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var l struct{ ID string }
	r.json(t, &l)
	d.dealLead = l.ID
	for _, st := range []string{"qualified", "contacted", "call_booked"} {
		require.Equal(t, http.StatusOK, a.do(http.MethodPost, "/leads/"+l.ID+"/stage", map[string]any{"stage": st}).Status)
	}
	r = a.do(http.MethodPost, "/deals", map[string]any{"leadId": l.ID, "title": d.dealTitle, "dealValue": 777777777777, "currency": "EUR"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var dl struct{ ID string }
	r.json(t, &dl)
	d.deal = dl.ID
}

// seedSubmission gives org A's source a delivery, processed into a rejection.
func seedSubmission(t *testing.T, a *apiTest, d *orgAData) {
	t.Helper()
	feed := newIntakeFeed(a)
	source := uuid.MustParse(d.source)
	id := feed.deliver(a.org, &source, `{"name": "Hidden Submitter"}`)
	feed.process(a.org, id)
	d.submission = id.String()
}

// crossOrgRequests is, for every documented operation, the request org B makes with org A's ids:
// a path with A's ids, maybe a query naming them, and a body where the operation takes one.
func crossOrgRequests(d orgAData) map[string]struct {
	path string
	body any
} {
	type req = struct {
		path string
		body any
	}
	lead, src := "/leads/"+d.lead, "/intake-sources/"+d.source
	job, dl := strconv.FormatInt(d.job, 10), strconv.FormatInt(d.deadLetter, 10)
	return map[string]req{
		"GET /leads":                                  {"/leads?q=hidden", nil},
		"GET /deals":                                  {"/deals?leadId=" + d.dealLead, nil},
		"POST /deals":                                 {"/deals", map[string]any{"leadId": d.dealLead, "title": "taken over", "dealValue": 1, "currency": "EUR"}},
		"GET /deals/{id}":                             {"/deals/" + d.deal, nil},
		"PATCH /deals/{id}":                           {"/deals/" + d.deal, map[string]any{"title": "taken over"}},
		"POST /deals/{id}/stage":                      {"/deals/" + d.deal + "/stage", map[string]any{"stage": "won"}},
		"GET /analytics/pipeline":                     {"/analytics/pipeline", nil},
		"GET /analytics/funnel":                       {"/analytics/funnel", nil},
		"GET /analytics/velocity":                     {"/analytics/velocity?currency=EUR", nil},
		"GET /analytics/dashboard":                    {"/analytics/dashboard", nil},
		"GET /calls":                                  {"/calls?leadId=" + d.callLead, nil},
		"POST /calls":                                 {"/calls", map[string]any{"leadId": d.callLead, "scheduledAt": callSoon()}},
		"GET /calls/{id}":                             {"/calls/" + d.call, nil},
		"POST /calls/{id}/complete":                   {"/calls/" + d.call + "/complete", map[string]any{"transcript": "taken over"}},
		"POST /calls/{id}/no-show":                    {"/calls/" + d.call + "/no-show", nil},
		"POST /calls/{id}/cancel":                     {"/calls/" + d.call + "/cancel", map[string]any{"reason": "taken over"}},
		"POST /leads":                                 {"/leads", map[string]any{"email": "b-own@example.com"}},
		"GET /leads/{id}":                             {lead, nil},
		"PATCH /leads/{id}":                           {lead, map[string]any{"title": "taken over"}},
		"DELETE /leads/{id}":                          {lead, nil},
		"POST /leads/{id}/stage":                      {lead + "/stage", map[string]any{"stage": "qualified"}},
		"GET /leads/{id}/activities":                  {lead + "/activities", nil},
		"POST /leads/{id}/activities":                 {lead + "/activities", map[string]any{"kind": "note", "body": "x"}},
		"GET /leads/{id}/events":                      {lead + "/events", nil},
		"GET /leads/{id}/timeline":                    {lead + "/timeline", nil},
		"GET /intake-sources":                         {"/intake-sources", nil},
		"POST /intake-sources":                        {"/intake-sources", map[string]any{"kind": "csv", "name": "B's own"}},
		"GET /intake-sources/{id}":                    {src, nil},
		"PATCH /intake-sources/{id}":                  {src, map[string]any{"name": "taken over"}},
		"DELETE /intake-sources/{id}":                 {src, nil},
		"POST /intake-sources/{id}/rotate-secret":     {src + "/rotate-secret", map[string]any{}},
		"GET /intake-submissions":                     {"/intake-submissions?sourceId=" + d.source, nil},
		"GET /intake-submissions/{id}":                {"/intake-submissions/" + d.submission, nil},
		"GET /observability/jobs":                     {"/observability/jobs", nil},
		"GET /observability/jobs/{id}":                {"/observability/jobs/" + job, nil},
		"GET /observability/dead-letters":             {"/observability/dead-letters", nil},
		"POST /observability/dead-letters/{id}/retry": {"/observability/dead-letters/" + dl + "/retry", nil},
		"GET /observability/events":                   {"/observability/events?entityType=lead&entityId=" + d.lead, nil},
		"GET /observability/logs":                     {"/observability/logs?jobId=" + job, nil},
		"GET /observability/integrity-alerts":         {"/observability/integrity-alerts", nil},
		"GET /invoices":                               {"/invoices?dealId=" + d.deal, nil},
		"GET /invoices/{id}":                          {"/invoices/" + d.invoice, nil},
		"POST /invoices/{id}/pay":                     {"/invoices/" + d.invoice + "/pay", map[string]any{"reference": "taken over"}},
		"POST /invoices/{id}/void":                    {"/invoices/" + d.invoice + "/void", map[string]any{"reason": "taken over"}},
		"GET /invoices/{id}/document":                 {"/invoices/" + d.invoice + "/document", nil},
		"GET /settings/invoicing":                     {"/settings/invoicing", nil},
		"GET /clients":                                {"/clients", nil},
		"GET /clients/{id}":                           {"/clients/" + d.client, nil},
		"PATCH /clients/{id}":                         {"/clients/" + d.client, map[string]any{"renewalDate": "2030-01-01"}},
		"POST /clients/{id}/status":                   {"/clients/" + d.client + "/status", map[string]any{"status": "active"}},
		"GET /clients/{id}/onboarding":                {"/clients/" + d.client + "/onboarding", nil},
		"POST /clients/{id}/onboarding/{taskId}":      {"/clients/" + d.client + "/onboarding/" + d.task, map[string]any{"status": "done"}},
		"GET /settings/onboarding":                    {"/settings/onboarding", nil},
		"PUT /settings/onboarding":                    {"/settings/onboarding", map[string]any{"tasks": []any{map[string]any{"title": "B's", "dueInDays": 1}}}},
		"PUT /settings/invoicing":                     {"/settings/invoicing", map[string]any{"prefix": "B-", "paymentTermsDays": 1}},
		"GET /settings/icp":                           {"/settings/icp", nil},
		"GET /settings/rules":                         {"/settings/rules", nil},
		"PUT /settings/rules":                         {"/settings/rules", map[string]any{"dealDecayDays": map[string]any{"discovery": 1, "proposal": 1, "negotiation": 1}, "leadStaleDays": 1, "ghostRiskSilenceDays": 1}},
		"GET /contracts":                              {"/contracts?dealId=" + d.deal, nil},
		"GET /contracts/{id}":                         {"/contracts/" + d.contract, nil},
		"POST /contracts/{id}/status":                 {"/contracts/" + d.contract + "/status", map[string]any{"status": "void"}},
		"GET /contracts/{id}/document":                {"/contracts/" + d.contract + "/document", nil},
		"GET /settings/contract-template":             {"/settings/contract-template", nil},
		"PUT /settings/contract-template":             {"/settings/contract-template", map[string]any{"title": "B", "body": "b's own"}},
		"PUT /settings/icp":                           {"/settings/icp", map[string]any{"industries": []string{"b's own"}}},
		"GET /cron-tasks":                             {"/cron-tasks", nil},
		"PATCH /cron-tasks/{id}":                      {"/cron-tasks/" + d.cronTask, map[string]any{"cronExpr": "* * * * *", "enabled": true}},
		"POST /cron-tasks/{id}/run":                   {"/cron-tasks/" + d.cronTask + "/run", nil},
		"GET /scheduled-tasks":                        {"/scheduled-tasks", nil},
		"DELETE /scheduled-tasks/{id}":                {"/scheduled-tasks/" + d.oneOff, nil},
		"GET /reports":                                {"/reports?kind=weekly", nil},
		"GET /reports/{id}":                           {"/reports/" + d.report, nil},
		"GET /reports/{id}/document":                  {"/reports/" + d.report + "/document", nil},
		"GET /healthz":                                {"/healthz", nil},
		"GET /readyz":                                 {"/readyz", nil},
		"GET /metrics":                                {"/metrics", nil},
		"GET /api/openapi.json":                       {"/api/openapi.json", nil},
		"GET /api/docs":                               {"/api/docs", nil},
		"GET /api/docs/{file}":                        {"/api/docs/index.html", nil},

		"POST /observability/integrity-alerts/{id}/resolve": {"/observability/integrity-alerts/" + d.alert + "/resolve", nil},
	}
}

// TestCrossOrgWalk walks every documented route as a second org, with its own valid key, aimed
// at the first org's lead, source, job, dead letter, events and alert: every route that names
// one of them answers 404 or 403, no answer of any route carries any of the first org's ids or
// data, and afterwards the first org's rows are exactly as they were.
func TestCrossOrgWalk(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	d := seedOrgA(t, a)
	orgB, keyB := a.newOrg("intruder")
	asB := asOrg(orgB, keyB)

	secrets := []string{d.lead, d.source, d.email, d.company, d.name, "hidden note", "hidden_check", a.org.String()}
	secrets = append(secrets, d.deal, d.dealLead, d.dealTitle, "777777777777")
	secrets = append(secrets, d.call, d.callLead, d.submission, d.invoice, d.client, d.task, "hidden.client@hidden-corp.example")
	secrets = append(secrets, d.contract, d.cronTask, d.oneOff, "hidden cron", d.alert, d.report)
	snapshot := func() string {
		var s string
		require.NoError(t, a.super.QueryRow(t.Context(), `
SELECT concat_ws('|',
  (SELECT string_agg(concat_ws(',', id, title, stage, version, deleted_at), ';' ORDER BY id) FROM leads WHERE org_id = $1),
  (SELECT count(*) FROM lead_activities WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, title, stage, deal_value, version), ';') FROM deals WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, status, version, transcript), ';') FROM calls WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, name, signing_secret, deleted_at), ';') FROM intake_sources WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, status, attempts), ';' ORDER BY id) FROM jobs WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, retried_at), ';') FROM dead_letter_jobs WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, resolved_at), ';') FROM integrity_alerts WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, number, status, paid_at, void_reason), ';') FROM invoices WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, status, document_sha256), ';') FROM contracts WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, status, renewal_date, onboarded_at), ';') FROM clients WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, status, completed_at), ';' ORDER BY id) FROM onboarding_tasks WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, cron_expr, enabled, last_slot_at), ';') FROM cron_tasks WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, status), ';') FROM scheduled_tasks WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', name, value, updated_at), ';' ORDER BY name) FROM org_settings WHERE org_id = $1),
  (SELECT string_agg(concat_ws(',', id, period_start, md5(document)), ';') FROM reports WHERE org_id = $1),
  (SELECT count(*) FROM events WHERE org_id = $1))`, a.org).Scan(&s))
		return s
	}
	before := snapshot()

	reqs := crossOrgRequests(d)
	s := mustSpec(t)
	for path, item := range s.Doc.Paths.Map() {
		for method := range item.Operations() {
			op := method + " " + path
			rq, ok := reqs[op]
			require.True(t, ok, "the cross-org walk must cover %s: add it to crossOrgRequests", op)
			r := a.do(method, rq.path, rq.body, asB)
			if strings.Contains(path, "{id}") {
				require.Contains(t, []int{http.StatusNotFound, http.StatusForbidden}, r.Status, "%s as another org: %s", op, r.Body)
			}
			for _, secret := range secrets {
				if strings.Contains(rq.path, secret) {
					continue // an id the request itself names may come back in its 404
				}
				require.NotContains(t, string(r.Body), secret, "%s leaked org A's data", op)
			}
		}
	}
	require.Equal(t, before, snapshot(), "org A's rows changed under org B's requests")
	var rulesA map[string]any
	a.do(http.MethodGet, "/settings/rules", nil).json(t, &rulesA)
	require.EqualValues(t, orgARules["leadStaleDays"], rulesA["leadStaleDays"], "org A's rules are its own")

	// And org A still sees all of it.
	for _, p := range []string{"/leads/" + d.lead, "/intake-sources/" + d.source, fmt.Sprintf("/observability/jobs/%d", d.job)} {
		require.Equal(t, http.StatusOK, a.do(http.MethodGet, p, nil).Status, p)
	}
}
