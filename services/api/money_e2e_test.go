package main_test

// End-to-end tests of the api binary: TestMain builds it and the worker once, and each test runs
// real processes against its own freshly migrated database, reaching them only as a user (HTTP)
// or an operator (the binary's commands) would (STYLE.md 4.6).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/openapitest"
	"example.com/crm/pkg/proctest"
)

// apiBin and workerBin are the binaries built by TestMain.
var apiBin, workerBin string

func TestMain(m *testing.M) {
	code := 1
	defer func() { os.Exit(code) }()
	defer builds.Cleanup()
	for pkg, bin := range map[string]*string{"example.com/crm/services/api": &apiBin, "example.com/crm/services/worker": &workerBin} {
		b, cleanup, err := proctest.Build(pkg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return
		}
		defer cleanup()
		*bin = b
	}
	code = m.Run()
}

// spec is the api's OpenAPI document: every exchange of these tests is checked against it, as
// the handler tests' exchanges are.
var spec = sync.OnceValues(func() (*openapitest.Document, error) {
	return openapitest.Load(openapitest.Config{
		Path: "internal/httpapi/openapi.yaml",
		Schemes: map[string]func(http.Header) error{
			"bearerAuth": openapitest.BearerKey,
			"orgId":      openapitest.UUIDHeader("X-Org-Id"),
		},
		BodyDecoders: map[string]openapi3filter.BodyDecoder{
			"text/html":                    openapi3filter.PlainBodyDecoder,
			"text/css":                     openapi3filter.PlainBodyDecoder,
			"text/javascript":              openapi3filter.PlainBodyDecoder,
			"application/openmetrics-text": openapi3filter.PlainBodyDecoder,
			"image/png":                    openapi3filter.FileBodyDecoder,
		},
	})
})

// user is a person of one org talking to the api binary with the org's key, as the README's
// curl lines do.
type user struct {
	t    *testing.T
	base string
	org  string
	key  string
}

// answer is one finished exchange.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a request with the org's credentials; body, when not nil, is sent as JSON. header
// holds extra headers as name, value pairs. The exchange must match the OpenAPI document.
func (u *user) do(method, path string, body any, header ...string) answer {
	u.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		raw, err = json.Marshal(body)
		require.NoError(u.t, err)
	}
	req, err := http.NewRequestWithContext(u.t.Context(), method, u.base+path, bytes.NewReader(raw))
	require.NoError(u.t, err)
	req.Header.Set("Authorization", "Bearer "+u.key)
	req.Header.Set("X-Org-Id", u.org)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(u.t, err)
	defer func() { _ = res.Body.Close() }()
	out, err := io.ReadAll(res.Body)
	require.NoError(u.t, err)
	doc, err := spec()
	require.NoError(u.t, err)
	require.NoError(u.t, doc.Check(u.t.Context(), req, raw, res, out))
	return answer{Status: res.StatusCode, Header: res.Header, Body: out}
}

// ok sends a request that must answer want and decodes its JSON body into v (when not nil).
func (u *user) ok(want int, v any, method, path string, body any, header ...string) answer {
	u.t.Helper()
	a := u.do(method, path, body, header...)
	require.Equal(u.t, want, a.Status, "%s %s: %s", method, path, a.Body)
	if v != nil {
		require.NoError(u.t, json.Unmarshal(a.Body, v), string(a.Body))
	}
	return a
}

// The parts of the api's answers the walk reads.
type (
	// staged is a lead or a deal: its id and stage.
	staged struct {
		ID    string `json:"id"`
		Stage string `json:"stage"`
	}
	invoiceJSON struct {
		ID               string  `json:"id"`
		Number           string  `json:"number"`
		DealID           string  `json:"dealId"`
		Amount           int64   `json:"amount"`
		Currency         string  `json:"currency"`
		Status           string  `json:"status"`
		PaymentReference *string `json:"paymentReference"`
		CausationEventID *int64  `json:"causationEventId"`
	}
	contractJSON struct {
		ID               string  `json:"id"`
		DealID           string  `json:"dealId"`
		Status           string  `json:"status"`
		DocumentSHA256   *string `json:"documentSha256"`
		CausationEventID *int64  `json:"causationEventId"`
	}
	clientJSON struct {
		ID               string  `json:"id"`
		DealID           string  `json:"dealId"`
		InvoiceID        string  `json:"invoiceId"`
		Name             *string `json:"name"`
		Company          *string `json:"company"`
		Status           string  `json:"status"`
		CausationEventID *int64  `json:"causationEventId"`
	}
	taskJSON struct {
		ID               string `json:"id"`
		Position         int    `json:"position"`
		Status           string `json:"status"`
		CausationEventID *int64 `json:"causationEventId"`
	}
	eventJSON struct {
		ID       int64  `json:"id"`
		Type     string `json:"type"`
		EntityID string `json:"entityId"`
	}
	list[T any] struct {
		Data []T `json:"data"`
	}
)

// eventOf returns the one event of type typ about entity (GET /observability/events).
func (u *user) eventOf(typ, entity string) eventJSON {
	u.t.Helper()
	var evs list[eventJSON]
	u.ok(http.StatusOK, &evs, http.MethodGet, "/observability/events?type="+typ+"&entityId="+entity, nil)
	require.Len(u.t, evs.Data, 1, "one %s event about %s", typ, entity)
	return evs.Data[0]
}

// document downloads a stored PDF as curl does (no Accept-Encoding): application/pdf, its ETag
// the SHA-256 of the bytes, and a repeat with If-None-Match is 304 without a body. A client that
// accepts gzip (Go's, by default) gets the same tag, weak (W/) when the answer is compressed, and
// revalidates with it too. It returns the bytes and the ETag's hex.
func (u *user) document(path string) ([]byte, string) {
	u.t.Helper()
	a := u.ok(http.StatusOK, nil, http.MethodGet, path, nil, "Accept-Encoding", "identity")
	require.Equal(u.t, "application/pdf", a.Header.Get("Content-Type"))
	raw := sha256.Sum256(a.Body)
	sum := hex.EncodeToString(raw[:])
	etag := a.Header.Get("ETag")
	require.Equal(u.t, `"`+sum+`"`, etag, "the ETag is the document's SHA-256")
	again := u.ok(http.StatusNotModified, nil, http.MethodGet, path, nil, "Accept-Encoding", "identity", "If-None-Match", etag)
	require.Empty(u.t, again.Body)

	gz := u.ok(http.StatusOK, nil, http.MethodGet, path, nil)
	require.Equal(u.t, a.Body, gz.Body, "the same bytes every time")
	require.Contains(u.t, []string{etag, "W/" + etag}, gz.Header.Get("ETag"))
	u.ok(http.StatusNotModified, nil, http.MethodGet, path, nil, "If-None-Match", gz.Header.Get("ETag"))
	return a.Body, sum
}

// pdfText is the text of a PDF as pdftotext (Debian's poppler-utils) reads it, whitespace
// collapsed to single spaces. Without pdftotext it is the PDF's bytes: the documents' content
// streams are uncompressed, so their ASCII text is there as written.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Log("no pdftotext (poppler-utils): the PDFs are read as raw bytes")
		return string(pdf)
	}
	cmd := exec.CommandContext(t.Context(), "pdftotext", "-layout", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "pdftotext: %s", stderr.String())
	return strings.Join(strings.Fields(string(out)), " ")
}

// TestWonDealToActiveClient walks the whole post-sale chain through the api binary and two
// worker processes, step by step as README.md's "From a won deal to an active client" does with
// curl, so that it proves the README's walk-through: keep the two in step. An operator creates
// the org with `api org create`; everything else is the org's user over HTTP, each exchange
// checked against openapi.yaml. The user sets the seller, creates a lead, books a call, opens a
// deal and wins it; the workers make one invoice and one contract for it, whose PDFs download
// with their SHA-256 ETags (304 on revalidation) and read back with the invoice's number, the
// seller, the buyer and the amount; the user pays the invoice once (the replayed key answers the
// same); the workers make the client and its checklist; the user finishes every task (done, the
// last skipped) and the client is active. Each record's causationEventId is then walked back
// through /observability/events: task -> client.created of its client, client -> invoice.paid
// of its invoice, invoice and contract -> deal.won of the deal. No job is dead-lettered.
func TestWonDealToActiveClient(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)

	var created struct {
		OrgID  string `json:"orgId"`
		APIKey string `json:"apiKey"`
	}
	require.NoError(t, json.Unmarshal(proctest.Run(t, apiBin, proctest.Env(url), "org", "create", "--name", "Acme"), &created))
	api := proctest.Start(t, apiBin, "api", proctest.Env(dbtest.AppURL(t, url)), "serve")
	u := &user{t: t, base: api.BaseURL(t), org: created.OrgID, key: created.APIKey}
	for _, name := range []string{"w1", "w2"} {
		w := proctest.Start(t, workerBin, name, proctest.Env(url, "WORKER_POLL_INTERVAL_MS=100"), "serve")
		w.LogLine(t, "worker starting", 10*time.Second)
	}
	within := 30 * time.Second

	// The seller of the invoices, then a lead that qualifies (no ICP preference, a CTO at a
	// business domain), a call booked with it, a deal on it, won.
	u.ok(http.StatusOK, nil, http.MethodPut, "/settings/invoicing", map[string]any{
		"prefix": "INV-", "paymentTermsDays": 14,
		"seller": map[string]string{"name": "Acme GmbH", "address": "Hauptstr. 1, Berlin", "taxId": "DE123456789", "email": "billing@acme.example"},
	})
	var ld staged
	u.ok(http.StatusCreated, &ld, http.MethodPost, "/leads", map[string]string{
		"name": "Ada Lovelace", "email": "ada@analytical-engines.io", "company": "Analytical Engines", "title": "CTO",
	})
	require.Equal(t, "new", ld.Stage)
	var call struct {
		Status string `json:"status"`
	}
	u.ok(http.StatusCreated, &call, http.MethodPost, "/calls", map[string]string{
		"leadId": ld.ID, "scheduledAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
	})
	require.Equal(t, "booked", call.Status)
	var deal staged
	u.ok(http.StatusCreated, &deal, http.MethodPost, "/deals", map[string]any{
		"leadId": ld.ID, "title": "Difference Engine No. 2", "dealValue": 1250000, "currency": "EUR",
	})
	require.Equal(t, "discovery", deal.Stage)
	u.ok(http.StatusOK, &deal, http.MethodPost, "/deals/"+deal.ID+"/stage", map[string]string{"stage": "won"})
	require.Equal(t, "won", deal.Stage)

	// The workers make the deal's invoice and contract.
	var invs list[invoiceJSON]
	proctest.Eventually(t, within, "the won deal's invoice", func() bool {
		u.ok(http.StatusOK, &invs, http.MethodGet, "/invoices?dealId="+deal.ID, nil)
		return len(invs.Data) > 0
	})
	require.Len(t, invs.Data, 1)
	inv := invs.Data[0]
	number := fmt.Sprintf("INV-%d-00001", time.Now().UTC().Year())
	require.Equal(t, invoiceJSON{
		ID: inv.ID, Number: number, DealID: deal.ID, Amount: 1250000, Currency: "EUR", Status: "issued", CausationEventID: inv.CausationEventID,
	}, inv)
	var cons list[contractJSON]
	proctest.Eventually(t, within, "the won deal's contract", func() bool {
		u.ok(http.StatusOK, &cons, http.MethodGet, "/contracts?dealId="+deal.ID, nil)
		return len(cons.Data) > 0
	})
	require.Len(t, cons.Data, 1)
	con := cons.Data[0]
	require.Equal(t, "generated", con.Status)

	pdf, _ := u.document("/invoices/" + inv.ID + "/document")
	text := pdfText(t, pdf)
	for _, want := range []string{number, "Acme GmbH", "Analytical Engines", "Ada Lovelace", "ada@analytical-engines.io", "Difference Engine No. 2", "EUR 12,500.00"} {
		require.Contains(t, text, want, "the invoice PDF shows %q", want)
	}
	pdf, sum := u.document("/contracts/" + con.ID + "/document")
	require.NotNil(t, con.DocumentSHA256)
	require.Equal(t, *con.DocumentSHA256, sum, "documentSha256 is the served document's")
	text = pdfText(t, pdf)
	for _, want := range []string{"Analytical Engines", "Difference Engine No. 2", "EUR 12,500.00"} {
		require.Contains(t, text, want, "the contract PDF shows %q", want)
	}

	// The user confirms the payment, once: the repeat of the key is the first answer.
	var paid, replayed invoiceJSON
	first := u.ok(http.StatusOK, &paid, http.MethodPost, "/invoices/"+inv.ID+"/pay", map[string]string{"reference": "BANK-42"}, "Idempotency-Key", "pay-"+inv.ID)
	require.Equal(t, "paid", paid.Status)
	require.Equal(t, "BANK-42", *paid.PaymentReference)
	again := u.ok(http.StatusOK, &replayed, http.MethodPost, "/invoices/"+inv.ID+"/pay", map[string]string{"reference": "BANK-42"}, "Idempotency-Key", "pay-"+inv.ID)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.Body), string(again.Body))

	// The workers make the client and its checklist of the org's template.
	var cl clientJSON
	proctest.Eventually(t, within, "the paid invoice's client", func() bool {
		var cls list[clientJSON]
		u.ok(http.StatusOK, &cls, http.MethodGet, "/clients?status=onboarding", nil)
		for _, c := range cls.Data {
			if c.DealID == deal.ID {
				cl = c
				return true
			}
		}
		return false
	})
	require.Equal(t, inv.ID, cl.InvoiceID)
	require.Equal(t, "Ada Lovelace", *cl.Name)
	require.Equal(t, "Analytical Engines", *cl.Company)
	var template struct {
		Tasks []json.RawMessage `json:"tasks"`
	}
	u.ok(http.StatusOK, &template, http.MethodGet, "/settings/onboarding", nil)
	require.NotEmpty(t, template.Tasks)
	var tasks list[taskJSON]
	proctest.Eventually(t, within, "the client's checklist", func() bool {
		u.ok(http.StatusOK, &tasks, http.MethodGet, "/clients/"+cl.ID+"/onboarding", nil)
		return len(tasks.Data) > 0
	})
	require.Len(t, tasks.Data, len(template.Tasks), "one task per template task")

	// The user finishes the checklist (the last task skipped), and the client is active.
	for i, task := range tasks.Data {
		if i > 0 {
			require.Greater(t, task.Position, tasks.Data[i-1].Position, "the checklist is in order")
		}
		status := "done"
		if i == len(tasks.Data)-1 {
			status = "skipped"
		}
		var got taskJSON
		u.ok(http.StatusOK, &got, http.MethodPost, "/clients/"+cl.ID+"/onboarding/"+task.ID, map[string]string{"status": status}, "Idempotency-Key", "task-"+task.ID)
		require.Equal(t, status, got.Status)
	}
	var active clientJSON
	u.ok(http.StatusOK, &active, http.MethodGet, "/clients/"+cl.ID, nil)
	require.Equal(t, "active", active.Status)
	u.eventOf("client.onboarded", cl.ID)

	// The chain walks back through causationEventId.
	won := u.eventOf("deal.won", deal.ID)
	require.Equal(t, won.ID, *inv.CausationEventID, "the invoice is caused by deal.won")
	require.Equal(t, won.ID, *con.CausationEventID, "the contract is caused by deal.won")
	require.Equal(t, u.eventOf("invoice.paid", inv.ID).ID, *cl.CausationEventID, "the client is caused by invoice.paid")
	clientCreated := u.eventOf("client.created", cl.ID)
	for _, task := range tasks.Data {
		require.Equal(t, clientCreated.ID, *task.CausationEventID, "task %d is caused by client.created", task.Position)
	}

	var dead list[json.RawMessage]
	u.ok(http.StatusOK, &dead, http.MethodGet, "/observability/dead-letters", nil)
	require.Empty(t, dead.Data, "no job is dead-lettered")
}
