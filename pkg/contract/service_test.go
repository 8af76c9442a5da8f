package contract_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/contract"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/document"
	"example.com/crm/pkg/document/pdftest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/page"
)

// bundle is a fresh database with the contract service on the owner's handle, one org, and a
// superuser handle for the tests' fixtures and reads.
type bundle struct {
	d     *db.DB
	svc   *contract.Service
	super *db.DB
	org   uuid.UUID
}

func setup(t *testing.T) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	return &bundle{d: d, svc: contract.NewService(d, em), super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme")}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	return dbtest.Count(t, b.super, sql, args...)
}

// wonDeal inserts a deal in stage of a converted lead (Ada Buyer of Buyer Ltd) and returns its id.
func (b *bundle) wonDeal(t *testing.T, stage string, value int64) uuid.UUID {
	t.Helper()
	return dbtest.WonDeal(t, b.super, b.org, "", stage, value)
}

// generate runs Generate for wons in one tenant transaction of the org.
func (b *bundle) generate(t *testing.T, wons ...contract.Won) []contract.GenerateResult {
	t.Helper()
	return dbtest.Batch(t, b.d, b.org, b.svc.Generate, wons...)
}

// TestGenerateFillsTheTemplate proves the contract of a won deal: one row caused by the deal.won
// event, status generated, its stored PDF's SHA-256 as documentSha256, the org's template filled
// with the lead's name and company, the deal's title and value in its currency, today's date and
// the seller's name of the invoicing settings, read back from the PDF; one contract.generated
// carrying the event id; a repeat of the deal generates nothing.
func TestGenerateFillsTheTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := contract.ContractTemplate.Save(t.Context(), b.d, b.org, contract.Template{Title: "Agreement for {{deal.title}}",
		Body: "Client: {{client.name}}\nCompany: {{client.company}}\nValue: {{deal.value}}\nDate: {{date}}\nSeller: {{seller.name}}\n"})
	require.NoError(t, err)
	_, err = b.super.Pool.Exec(t.Context(), `INSERT INTO org_settings (org_id, name, value) VALUES ($1, 'invoicing', '{"seller": {"name": "Acme Studio"}}')`, b.org)
	require.NoError(t, err)
	id := b.wonDeal(t, "won", 1_234_550)
	res := b.generate(t, contract.Won{EventID: 42, DealID: id})
	require.Empty(t, res[0].Skipped)
	c := res[0].Contract
	require.Equal(t, contract.StatusGenerated, c.Status)
	require.Equal(t, int64(42), *c.CausationEventID)

	got, err := b.svc.Get(t.Context(), b.org, c.ID)
	require.NoError(t, err)
	require.Equal(t, c, got)
	doc, err := b.svc.Document(t.Context(), b.org, c.ID)
	require.NoError(t, err)
	sum := sha256.Sum256(doc)
	require.Equal(t, hex.EncodeToString(sum[:]), *got.DocumentSHA256)
	again, err := b.svc.Document(t.Context(), b.org, c.ID)
	require.NoError(t, err)
	require.Equal(t, doc, again, "the same bytes every time")
	text := pdftest.Text(t, doc)
	for _, s := range []string{"Agreement for Website rebuild", "Ada Buyer", "Buyer Ltd", "12,345.50",
		time.Now().UTC().Format(time.DateOnly), "Acme Studio"} {
		require.Contains(t, text, s)
	}
	require.NotContains(t, text, "{{")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'contract.generated' AND entity_id = $1
	AND (payload->>'causationEventId')::bigint = 42`, c.ID))

	res = b.generate(t, contract.Won{EventID: 43, DealID: id})
	require.Equal(t, "deal has a contract already", res[0].Skipped)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM contracts`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE type = 'contract.generated'`))
}

// TestGenerateDefaultTemplate proves an org without a template or invoicing settings gets
// document.DefaultContractTemplate filled in, the seller's name left empty.
func TestGenerateDefaultTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tpl, err := contract.ContractTemplate.Read(t.Context(), b.d, b.org)
	require.NoError(t, err)
	require.Equal(t, contract.DefaultTemplate(), tpl)
	require.Equal(t, document.DefaultContractTemplate.Body, tpl.Body)
	id := b.wonDeal(t, "won", 500)
	c := b.generate(t, contract.Won{EventID: 1, DealID: id})[0].Contract
	doc, err := b.svc.Document(t.Context(), b.org, c.ID)
	require.NoError(t, err)
	text := pdftest.Text(t, doc)
	require.Contains(t, text, "Services agreement: Website rebuild")
	require.NotContains(t, text, "{{")
}

// TestGenerateSkips proves a deal that is gone or not won gets no contract, and that nothing is
// emitted for it.
func TestGenerateSkips(t *testing.T) {
	t.Parallel()
	b := setup(t)
	open := b.wonDeal(t, "proposal", 100)
	res := b.generate(t, contract.Won{EventID: 1, DealID: open}, contract.Won{EventID: 2, DealID: uuid.New()})
	require.Equal(t, "deal is proposal, not won", res[0].Skipped)
	require.Equal(t, "deal not found", res[1].Skipped)
	require.Zero(t, b.count(t, `SELECT count(*) FROM contracts`))
	require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE type = 'contract.generated'`))
}

// TestSetStatus walks every transition of the machine from every status: the allowed ones move
// and emit contract.status_changed, the refused ones (the same status included) are Conflict
// with the current status and write nothing; an unknown status is Invalid, another org's
// contract NotFound.
func TestSetStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// reach puts a new contract in status s through the machine.
	reach := func(s contract.Status) uuid.UUID {
		c := b.generate(t, contract.Won{EventID: 1, DealID: b.wonDeal(t, "won", 100)})[0].Contract
		path := map[contract.Status][]contract.Status{
			contract.StatusGenerated: nil, contract.StatusSent: {contract.StatusSent},
			contract.StatusSigned: {contract.StatusSent, contract.StatusSigned}, contract.StatusVoid: {contract.StatusVoid},
		}[s]
		for _, to := range path {
			_, err := b.svc.SetStatus(t.Context(), b.org, "user:test", c.ID, to)
			require.NoError(t, err)
		}
		return c.ID
	}
	for _, from := range contract.Statuses {
		for _, to := range contract.Statuses {
			id := reach(from)
			before := b.count(t, `SELECT count(*) FROM events WHERE type = 'contract.status_changed'`)
			got, err := b.svc.SetStatus(t.Context(), b.org, "user:test", id, to)
			if contract.CanMove(from, to) {
				require.NoError(t, err, "%s -> %s", from, to)
				require.Equal(t, to, got.Status)
				require.Equal(t, before+1, b.count(t, `SELECT count(*) FROM events WHERE type = 'contract.status_changed'`))
				continue
			}
			var ae *apperr.Error
			require.True(t, errors.As(err, &ae), "%s -> %s: %v", from, to, err)
			require.Equal(t, apperr.Conflict, ae.Code, "%s -> %s", from, to)
			require.Equal(t, before, b.count(t, `SELECT count(*) FROM events WHERE type = 'contract.status_changed'`))
			require.Equal(t, 1, b.count(t, `SELECT count(*) FROM contracts WHERE id = $1 AND status = $2`, id, string(from)))
		}
	}
	require.True(t, contract.CanMove(contract.StatusGenerated, contract.StatusVoid))
	require.True(t, contract.CanMove(contract.StatusSent, contract.StatusVoid))
	require.False(t, contract.CanMove(contract.StatusSigned, contract.StatusVoid))

	_, err := b.svc.SetStatus(t.Context(), b.org, "user:test", reach(contract.StatusGenerated), "draft")
	require.True(t, apperr.Is(err, apperr.Invalid), "%v", err)
	other := dbtest.NewOrg(t, b.d, "other")
	_, err = b.svc.SetStatus(t.Context(), other, "user:test", reach(contract.StatusGenerated), contract.StatusSent)
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
}

// TestTemplate proves ContractTemplate.Save stores a valid template and refuses an unknown or unclosed
// placeholder and an empty body with Invalid, writing nothing; and List's dealId filter.
func TestTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	saved, err := contract.ContractTemplate.Save(t.Context(), b.d, b.org, contract.Template{Title: " Deal {{deal.title}} ", Body: "Hello {{ client.name }}"})
	require.NoError(t, err)
	require.Equal(t, "Deal {{deal.title}}", saved.Title)
	for _, bad := range []contract.Template{
		{Title: "T", Body: "Hello {{client.phone}}"},
		{Title: "T", Body: "Hello {{client.name"},
		{Title: "T {{nope}}", Body: "x"},
		{Title: "T", Body: " "},
	} {
		_, err := contract.ContractTemplate.Save(t.Context(), b.d, b.org, bad)
		require.True(t, apperr.Is(err, apperr.Invalid), "%v: %v", bad, err)
	}
	got, err := contract.ContractTemplate.Read(t.Context(), b.d, b.org)
	require.NoError(t, err)
	require.Equal(t, saved, got)

	first := b.generate(t, contract.Won{EventID: 1, DealID: b.wonDeal(t, "won", 1)})[0].Contract
	b.generate(t, contract.Won{EventID: 2, DealID: b.wonDeal(t, "won", 2)})
	pg, err := b.svc.List(t.Context(), b.org, contract.ListFilter{DealID: &first.DealID, Page: page.Request{Limit: 10}})
	require.NoError(t, err)
	require.Len(t, pg.Data, 1)
	require.Equal(t, first.ID, pg.Data[0].ID)
	pg, err = b.svc.List(t.Context(), b.org, contract.ListFilter{Page: page.Request{Limit: 10}})
	require.NoError(t, err)
	require.Len(t, pg.Data, 2)
}
