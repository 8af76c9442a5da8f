package main

// The document scenario of apibench: GET /invoices/{id}/document over -documents invoices of one
// org (the seed's second), each with its own PDF rendered by the workers' renderer (invoice.PDF)
// and stored in invoices.document, measured like the lead scenarios in the same api process as
// GET /leads/{id} and reported beside it in its own section of BENCHMARKS.md ("## Documents
// API", between the apibench-documents markers). -documents-only runs just GET /leads/{id} and
// this scenario.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/invoice"
	"example.com/crm/tools/benchreport"
)

// scDocument is the document scenario.
const scDocument = "document"

// documentTitle names the document scenario in the report.
const documentTitle = "`GET /invoices/{id}/document`"

// docSeed is the seeded invoices: all in one org, each with its own stored PDF.
type docSeed struct {
	org   int // index into seed.orgs
	ids   []uuid.UUID
	docs  [][]byte // the stored bytes of each invoice, which every answer must equal
	bytes int64    // of all documents
	took  time.Duration
	size  string // pg_total_relation_size(invoices)
}

// meanSize is the mean size of a document in bytes.
func (ds *docSeed) meanSize() float64 { return float64(ds.bytes) / float64(max(len(ds.docs), 1)) }

// seedDocDealsSQL gives $2 of org $1's leads a won deal each (value 1,000.00 EUR plus its row
// number in cents) and returns the deals in lead id order.
const seedDocDealsSQL = `
INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage, probability, stage_changed_at, won_at)
SELECT org_id, id, 'Invoiced deal ' || n, 100000 + n, 'EUR', 'won', 1, now(), now()
FROM (SELECT org_id, id, row_number() OVER (ORDER BY id) AS n FROM leads
      WHERE org_id = $1 AND deleted_at IS NULL ORDER BY id LIMIT $2) l
RETURNING id, title, deal_value`

// insertDocInvoicesSQL inserts one issued invoice per element of the parallel arrays.
const insertDocInvoicesSQL = `
INSERT INTO invoices (org_id, id, deal_id, number, amount, currency, document, issued_at, due_at, created_at)
SELECT $1, u.id, u.deal_id, u.number, u.amount, 'EUR', u.document, $7, $8, $7
FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::bigint[], $6::bytea[]) AS u(id, deal_id, number, amount, document)`

// seedDocuments replaces the invoices and deals of the seed's second org with n won deals, each
// with an invoice whose PDF invoice.PDF renders here, and vacuums the tables.
func (b *bench) seedDocuments(ctx context.Context, n int) (*docSeed, error) {
	start := time.Now()
	ds := &docSeed{org: 1}
	d, err := db.Open(ctx, db.Options{URL: b.seed.superURL, MaxConns: 2, AppName: "apibench"})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b.seed.name, err)
	}
	defer d.Close()
	orgID := b.seed.orgs[ds.org].id
	for _, q := range []string{`DELETE FROM invoices WHERE org_id = $1`, `DELETE FROM deals WHERE org_id = $1`} {
		if _, err := d.Pool.Exec(ctx, q, orgID); err != nil {
			return nil, fmt.Errorf("clear the org's invoices and deals: %w", err)
		}
	}
	rows, err := d.Pool.Query(ctx, seedDocDealsSQL, orgID, n)
	if err != nil {
		return nil, fmt.Errorf("seed won deals: %w", err)
	}
	type wonDeal struct {
		id    uuid.UUID
		title string
		value int64
	}
	var deals []wonDeal
	for rows.Next() {
		var w wonDeal
		if err := rows.Scan(&w.id, &w.title, &w.value); err != nil {
			rows.Close()
			return nil, fmt.Errorf("seed won deals: %w", err)
		}
		deals = append(deals, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("seed won deals: %w", err)
	}
	if len(deals) != n {
		return nil, fmt.Errorf("seed won deals: %d, want %d (the org has fewer leads)", len(deals), n)
	}
	issued := time.Now().UTC().Truncate(time.Microsecond)
	due := issued.AddDate(0, 0, invoice.DefaultPaymentTermsDays)
	dealIDs, numbers, amounts := make([]uuid.UUID, n), make([]string, n), make([]int64, n)
	ds.ids, ds.docs = make([]uuid.UUID, n), make([][]byte, n)
	for i, w := range deals {
		ds.ids[i], dealIDs[i], amounts[i] = uuid.New(), w.id, w.value
		numbers[i] = invoice.Number(invoice.DefaultPrefix, issued.Year(), int64(i+1))
		if ds.docs[i], err = renderDocInvoice(numbers[i], issued, due, w.title, w.value, i); err != nil {
			return nil, err
		}
		ds.bytes += int64(len(ds.docs[i]))
	}
	if _, err := d.Pool.Exec(ctx, insertDocInvoicesSQL, orgID, db.UUIDs(ds.ids), db.UUIDs(dealIDs), numbers, amounts,
		ds.docs, issued, due); err != nil {
		return nil, fmt.Errorf("insert invoices: %w", err)
	}
	if _, err := d.Pool.Exec(ctx, "VACUUM (ANALYZE) deals, invoices"); err != nil {
		return nil, fmt.Errorf("vacuum invoices: %w", err)
	}
	if err := d.Pool.QueryRow(ctx, `SELECT pg_size_pretty(pg_total_relation_size('invoices'))`).Scan(&ds.size); err != nil {
		return nil, fmt.Errorf("size of invoices: %w", err)
	}
	ds.took = time.Since(start)
	return ds, nil
}

// renderDocInvoice renders the PDF of the seeded invoice i as create_invoice would.
func renderDocInvoice(number string, issued, due time.Time, title string, value int64, i int) ([]byte, error) {
	doc, err := invoice.PDF{}.RenderInvoice(invoice.Document{
		Number: number, IssuedAt: issued, DueAt: due,
		Seller: invoice.Seller{Name: "Apibench Services Ltd", Address: "1 Bench Street, London", TaxID: "GB123456789", Email: "billing@apibench.example"},
		Buyer:  invoice.Buyer{Company: fmt.Sprintf("Buyer %d Ltd", i+1), Name: fmt.Sprintf("Buyer %d", i+1), Email: fmt.Sprintf("buyer%d@example.com", i+1)},
		Line:   title, Amount: value, Currency: "EUR",
	})
	if err != nil {
		return nil, fmt.Errorf("render invoice %s: %w", number, err)
	}
	return doc, nil
}

// documentRequests returns the request maker of the document scenario: a random seeded
// invoice of the org, whose answer must hold the invoice's stored bytes.
func documentRequests(sd *seed, ds *docSeed) requestFunc {
	t := sd.orgs[ds.org]
	orgID := t.id.String()
	paths := make([]string, len(ds.ids))
	for i, id := range ds.ids {
		paths[i] = "/invoices/" + id.String() + "/document"
	}
	return func(rng *rand.Rand, buf []byte) request {
		i := rng.IntN(len(paths))
		return request{raw: appendGet(buf, paths[i], orgID, t.key), want: ds.docs[i]}
	}
}

// checkDocuments asks the api for every seeded invoice's document once and compares each
// answer with the database read as the superuser: 200, application/pdf, the stored bytes, and
// the ETag their SHA-256; the first one again with If-None-Match is 304 without a body.
func (b *bench) checkDocuments(ctx context.Context, addr string) ([]string, error) {
	ds := b.docs
	t := b.seed.orgs[ds.org]
	d, err := db.Open(ctx, db.Options{URL: b.seed.superURL, MaxConns: 2, AppName: "apibench"})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b.seed.name, err)
	}
	defer d.Close()
	rows, err := d.Pool.Query(ctx, `SELECT id, document FROM invoices WHERE org_id = $1`, t.id)
	if err != nil {
		return nil, fmt.Errorf("stored documents: %w", err)
	}
	stored := map[uuid.UUID][]byte{}
	for rows.Next() {
		var id uuid.UUID
		var doc []byte
		if err := rows.Scan(&id, &doc); err != nil {
			rows.Close()
			return nil, fmt.Errorf("stored documents: %w", err)
		}
		stored[id] = doc
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stored documents: %w", err)
	}
	if len(stored) != len(ds.ids) {
		return nil, fmt.Errorf("the org has %d invoices, the seed %d", len(stored), len(ds.ids))
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for i, id := range ds.ids {
		path := "/invoices/" + id.String() + "/document"
		res, body, err := getDoc(ctx, client, addr, path, t, "")
		if err != nil {
			return nil, err
		}
		if msg := docAnswerProblem(res.StatusCode, res.Header, body, stored[id]); msg != "" {
			return nil, fmt.Errorf("GET %s: %s", path, msg)
		}
		if !bytes.Equal(stored[id], ds.docs[i]) {
			return nil, fmt.Errorf("invoice %s: the stored document is not the one seeded", id)
		}
	}
	first := "/invoices/" + ds.ids[0].String() + "/document"
	res, body, err := getDoc(ctx, client, addr, first, t, etagOf(stored[ds.ids[0]]))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusNotModified || len(body) != 0 {
		return nil, fmt.Errorf("GET %s with If-None-Match: %d with %d bytes, want 304 without a body", first, res.StatusCode, len(body))
	}
	return []string{fmt.Sprintf("%s answered 200 `application/pdf` with exactly the stored bytes and their SHA-256 as "+
		"the ETag for each of the %s invoices, and 304 without a body for a matching `If-None-Match`", documentTitle,
		num(float64(len(ds.ids))))}, nil
}

// etagOf is the ETag of a stored document: its hex SHA-256, quoted.
func etagOf(doc []byte) string {
	sum := sha256.Sum256(doc)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// docAnswerProblem says what is wrong with an answer for the stored document want ("" when
// nothing is).
func docAnswerProblem(status int, h http.Header, body, want []byte) string {
	switch {
	case want == nil:
		return "no stored document"
	case status != http.StatusOK:
		return fmt.Sprintf("status %d: %.300s", status, body)
	case h.Get("Content-Type") != "application/pdf":
		return fmt.Sprintf("Content-Type %q, want application/pdf", h.Get("Content-Type"))
	case !bytes.Equal(body, want):
		return fmt.Sprintf("%d bytes that are not the %d stored ones", len(body), len(want))
	case h.Get("ETag") != etagOf(want):
		return fmt.Sprintf("ETag %s, want the SHA-256 of the stored bytes %s", h.Get("ETag"), etagOf(want))
	}
	return ""
}

// getDoc sends one GET of a document as the org t, with If-None-Match when etag is set, asking
// for the bytes as they are (no compression).
func getDoc(ctx context.Context, client *http.Client, addr, path string, t tenant, etag string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+t.key)
	req.Header.Set("X-Org-Id", t.id.String())
	req.Header.Set("Accept-Encoding", "identity")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: read body: %w", path, err)
	}
	return res, body, nil
}

// documentsMarkdown renders the document scenario beside GET /leads/{id} as the body of the
// "## Documents API" section.
func (r *report) documentsMarkdown() string {
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	m := r.machine
	p("Measured %s by `scripts/bench.sh` (`apibench %s`), on the machine of the API section (%d cores, %s; PostgreSQL %s).",
		m.date.Format("2006-01-02 15:04 MST"), strings.Join(os.Args[1:], " "), m.NProc, m.CPU, m.pgVersion)
	p("Load average (1/5/15 min): %s at start, %s at end.", r.startLoad, r.endLoad)
	p("")
	if ds := r.docs; ds != nil {
		p("**Data**: %s invoices of one org, each of its own won deal, each with its own PDF rendered by the workers' "+
			"renderer (`invoice.PDF`, %s bytes on average) and stored in `invoices.document` (`invoices` with its indexes "+
			"and TOAST: %s), beside %s leads in %d orgs; seeded and vacuumed in %s. Every document request asks for a "+
			"random one of them; every lead request for a random lead of a random org.", num(float64(len(ds.ids))),
			num(ds.meanSize()), ds.size, num(float64(r.seed.leads)), len(r.seed.orgs), ds.took.Round(time.Millisecond))
		p("")
	}
	p("**Settings**: as in the API section: `bin/api serve` bound by row-level security, `DB_MAX_CONNS=%d`, %d keep-alive "+
		"connections in a closed loop, %s warm-up, %s measured per scenario (%s), both scenarios against the same api "+
		"process one after the other. The load generator sends no `Accept-Encoding`, so the PDFs go out as they are "+
		"stored; every answer counted holds exactly the stored bytes of the invoice asked for.", r.opts.maxConns, r.opts.conns,
		r.opts.warmup, r.opts.duration, bestOf(r.opts.runs))
	p("")
	p("| Scenario | `LOG_LEVEL` | Requests/s | × `GET /leads/{id}` | p50 | p95 | p99 | max | Errors | Received | CPU per request: server + its backends | Load generator CPU per request | Machine busy |")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, lvl := range r.opts.logLevels {
		lead, okL := r.find(scGet, lvl)
		doc, okD := r.find(scDocument, lvl)
		if !okD {
			continue
		}
		for _, x := range []struct {
			ok    bool
			title string
			x     run
		}{{okL, scenarioTitles[scGet], lead}, {true, documentTitle, doc}} {
			if !x.ok {
				continue
			}
			share := "–"
			if okL && lead.res.rate() > 0 {
				share = fmt.Sprintf("%.2f", x.x.res.rate()/lead.res.rate())
			}
			res := x.x.res
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %.0f %% |", x.title, lvl, num(res.rate()), share,
				ms(pct(res.lat, 50)), ms(pct(res.lat, 95)), ms(pct(res.lat, 99)), ms(pct(res.lat, 100)), res.errors,
				mbPerSec(res), cpuPer(res), us(res.perRequest(res.cpu.generator)), 100*res.cpu.busy)
		}
	}
	p("")
	if len(r.docChecks) > 0 {
		p("Checked before the load, against the database read as the superuser: %s.", strings.Join(r.docChecks, "; "))
	}
	return s.String()
}

// mbPerSec is the answer bytes received per second in the measured window.
func mbPerSec(r loadResult) string {
	if r.took <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MB/s", float64(r.bytesIn)/r.took.Seconds()/1e6)
}

// hasDocuments reports whether the report measured the document scenario.
func (r *report) hasDocuments() bool {
	return slices.ContainsFunc(r.runs, func(x run) bool { return x.scenario == scDocument })
}

// Markers around the generated part of the "## Documents API" section.
const (
	docsBeginMarker = "<!-- apibench-documents:begin: generated by scripts/bench.sh; edits between the markers are overwritten -->"
	docsEndMarker   = "<!-- apibench-documents:end -->"
)

// writeDocumentsSection puts body between the document markers of path
// (benchreport.WriteSection).
func writeDocumentsSection(path, body string) error {
	return benchreport.WriteSection(path, "## Documents API", docsBeginMarker, docsEndMarker, body)
}
