package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/dbtest"
)

// contractJSON is a contract as the API shows it.
type contractJSON struct {
	ID               string  `json:"id"`
	DealID           string  `json:"dealId"`
	LeadID           string  `json:"leadId"`
	Status           string  `json:"status"`
	DocumentSHA256   *string `json:"documentSha256"`
	GeneratedAt      string  `json:"generatedAt"`
	CausationEventID *int64  `json:"causationEventId"`
}

// wonContract wins a new deal through the API and generates its contract as the worker's
// generate_contract does (contract.Service.Generate in a tenant transaction of the owner). It
// returns the contract as GET /contracts/{id} shows it.
func wonContract(t *testing.T, a *apiTest, email string) contractJSON {
	t.Helper()
	dealID, eventID := winDeal(t, a, email)
	svc := contract.NewService(a.owner, workerEmitter(a))
	res := dbtest.Batch(t, a.owner, a.org, svc.Generate, contract.Won{EventID: eventID, DealID: dealID})
	var c contractJSON
	getOK(t, a, "/contracts/"+res[0].Contract.ID.String(), &c)
	require.Equal(t, eventID, *c.CausationEventID)
	require.Equal(t, dealID.String(), c.DealID)
	return c
}

// TestContractRoutes walks the contract routes: list with its dealId filter, get, the stored
// document with its SHA-256 ETag (= documentSha256) and 304, every status transition from every
// status allowed or refused (409 with the current status), bad input (an unknown status, a
// missing one, a bad id) writing nothing, and Idempotency-Key replay.
func TestContractRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	first := wonContract(t, a, "first@client.example")
	require.Equal(t, "generated", first.Status)

	var pg struct {
		Data       []contractJSON `json:"data"`
		NextCursor *string        `json:"nextCursor"`
	}
	wonContract(t, a, "second@client.example")
	getOK(t, a, "/contracts?limit=1", &pg)
	require.Len(t, pg.Data, 1)
	require.NotNil(t, pg.NextCursor)
	getOK(t, a, "/contracts?dealId="+first.DealID, &pg)
	require.Len(t, pg.Data, 1)
	require.Equal(t, first.ID, pg.Data[0].ID)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodGet, "/contracts?dealId=x", nil).Status)

	// The document: stored bytes, ETag their SHA-256, which is documentSha256.
	doc := a.do(http.MethodGet, "/contracts/"+first.ID+"/document", nil)
	require.Equal(t, http.StatusOK, doc.Status, string(doc.Body))
	require.Equal(t, "application/pdf", doc.Header.Get("Content-Type"))
	sum := sha256.Sum256(doc.Body)
	require.Equal(t, hex.EncodeToString(sum[:]), *first.DocumentSHA256)
	// A gzip'd answer weakens the tag (compress.go); the tag is the SHA-256 either way.
	require.Equal(t, `"`+*first.DocumentSHA256+`"`, strings.TrimPrefix(doc.Header.Get("ETag"), "W/"))
	again := a.do(http.MethodGet, "/contracts/"+first.ID+"/document", nil)
	require.Equal(t, doc.Body, again.Body, "the same bytes every time")
	require.Equal(t, http.StatusNotModified, a.do(http.MethodGet, "/contracts/"+first.ID+"/document", nil,
		withHeader("If-None-Match", doc.Header.Get("ETag"))).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodGet, "/contracts/"+uuid.NewString()+"/document", nil).Status)

	// Bad input writes nothing.
	events := a.count(`SELECT count(*) FROM events`)
	status := "/contracts/" + first.ID + "/status"
	require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPost, status, map[string]any{"status": "draft"}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, a.do(http.MethodPost, status, map[string]any{}).Status)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodPost, status, map[string]any{"status": 5}).Status)
	require.Equal(t, http.StatusNotFound, a.do(http.MethodPost, "/contracts/"+uuid.NewString()+"/status", map[string]any{"status": "sent"}).Status)
	require.Equal(t, http.StatusBadRequest, a.do(http.MethodPost, "/contracts/x/status", map[string]any{"status": "sent"}).Status)
	require.Zero(t, a.count(`SELECT count(*) FROM contracts WHERE status <> 'generated'`))
	require.Equal(t, events, a.count(`SELECT count(*) FROM events`))

	// Every transition from every status: reach the status through the machine, then try.
	paths := map[string][]string{"generated": nil, "sent": {"sent"}, "signed": {"sent", "signed"}, "void": {"void"}}
	allowed := map[string][]string{"generated": {"sent", "void"}, "sent": {"signed", "void"}}
	n := 0
	for _, from := range []string{"generated", "sent", "signed", "void"} {
		for _, to := range []string{"generated", "sent", "signed", "void"} {
			n++
			c := wonContract(t, a, "walk"+strings.Repeat("x", n)+"@client.example")
			for _, s := range paths[from] {
				r := a.do(http.MethodPost, "/contracts/"+c.ID+"/status", map[string]any{"status": s})
				require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			}
			before := a.count(`SELECT count(*) FROM events WHERE type = 'contract.status_changed'`)
			r := a.do(http.MethodPost, "/contracts/"+c.ID+"/status", map[string]any{"status": to})
			var got contractJSON
			if contains(allowed[from], to) {
				require.Equal(t, http.StatusOK, r.Status, "%s -> %s: %s", from, to, r.Body)
				r.json(t, &got)
				require.Equal(t, to, got.Status)
				require.Equal(t, before+1, a.count(`SELECT count(*) FROM events WHERE type = 'contract.status_changed'`))
				continue
			}
			require.Equal(t, http.StatusConflict, r.Status, "%s -> %s: %s", from, to, r.Body)
			require.Contains(t, string(r.Body), `"currentStatus":"`+from+`"`)
			require.Equal(t, before, a.count(`SELECT count(*) FROM events WHERE type = 'contract.status_changed'`))
		}
	}

	// Idempotency-Key: the replay answers the first answer, without a second move.
	r := a.do(http.MethodPost, status, map[string]any{"status": "sent"}, withHeader("Idempotency-Key", "send-first"))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	replay := a.do(http.MethodPost, status, map[string]any{"status": "sent"}, withHeader("Idempotency-Key", "send-first"))
	require.Equal(t, http.StatusOK, replay.Status, string(replay.Body))
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'contract.status_changed' AND entity_id = $1`, first.ID))
}

// TestContractTemplateRoutes proves the template settings: the default until one is saved, an
// unknown or unclosed placeholder or an empty title refused with 422 writing nothing, a round
// trip, and a contract generated afterwards filled from the saved template.
func TestContractTemplateRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do(http.MethodGet, "/settings/contract-template", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var tpl struct{ Title, Body string }
	r.json(t, &tpl)
	require.Equal(t, contract.DefaultTemplate().Title, tpl.Title)
	require.Equal(t, contract.DefaultTemplate().Body, tpl.Body)

	for _, body := range []map[string]any{
		{"title": "T", "body": "Hello {{client.phone}}"},
		{"title": "T", "body": "Hello {{client.name"},
		{"title": "{{nope}}", "body": "x"},
		{"title": "", "body": "x"},
		{"title": "T"},
	} {
		r = a.do(http.MethodPut, "/settings/contract-template", body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%v: %s", body, r.Body)
	}
	require.Zero(t, a.count(`SELECT count(*) FROM org_settings WHERE name = 'contract-template'`))
	r = a.do(http.MethodPut, "/settings/contract-template", map[string]any{"title": "Deal {{deal.title}}", "body": "For {{client.company}}: {{deal.value}}."})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	got := a.do(http.MethodGet, "/settings/contract-template", nil)
	require.JSONEq(t, string(r.Body), string(got.Body))
	c := wonContract(t, a, "templated@client.example")
	doc := a.do(http.MethodGet, "/contracts/"+c.ID+"/document", nil)
	require.Equal(t, http.StatusOK, doc.Status)
	require.NotContains(t, string(doc.Body), "{{")
}

// TestContractConcurrentStatus proves two concurrent sends of one contract: one 200, one 409,
// and one contract.status_changed.
func TestContractConcurrentStatus(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := wonContract(t, a, "race@client.example")
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = a.do(http.MethodPost, "/contracts/"+c.ID+"/status", map[string]any{"status": "sent"}).Status
		})
	}
	wg.Wait()
	require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, statuses)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE type = 'contract.status_changed'`))
}
