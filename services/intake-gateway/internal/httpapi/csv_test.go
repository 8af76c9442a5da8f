package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/intake"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// csvAnswer is the 202 answer of POST /intake/csv.
type csvAnswer struct {
	BatchID  string `json:"batchId"`
	Accepted int    `json:"accepted"`
	Rejected []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
	} `json:"rejected"`
	RejectedCount     int  `json:"rejectedCount"`
	RejectedTruncated bool `json:"rejectedTruncated"`
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	require.NoError(t, err)
	return b
}

// auth is the CSV route's credentials for the bundle's org.
func (b *bundle) auth() map[string]string {
	return map[string]string{"Authorization": "Bearer " + b.apiKey, "X-Org-Id": b.org.String(), "Content-Type": "text/csv"}
}

// upload posts a CSV file and decodes the 202.
func (b *bundle) upload(t *testing.T, query string, body []byte) csvAnswer {
	t.Helper()
	r := b.do(t, http.MethodPost, "/intake/csv"+query, b.auth(), body)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	var a csvAnswer
	require.NoError(t, json.Unmarshal(r.body, &a))
	return a
}

// rows returns the stored rows of batch: line -> body object.
func (b *bundle) rows(t *testing.T, batch string) map[int]map[string]string {
	t.Helper()
	rows, err := b.super.Pool.Query(t.Context(), `SELECT row_number, body, content_type, delivery_key FROM lead_intake_raw WHERE batch_id = $1`, batch)
	require.NoError(t, err)
	defer rows.Close()
	out := map[int]map[string]string{}
	for rows.Next() {
		var line int
		var body []byte
		var ct, key string
		require.NoError(t, rows.Scan(&line, &body, &ct, &key))
		require.Equal(t, "application/json", ct)
		require.Equal(t, fmt.Sprintf("%s:%d", batch, line), key)
		m := map[string]string{}
		require.NoError(t, json.Unmarshal(body, &m), string(body))
		out[line] = m
	}
	require.NoError(t, rows.Err())
	return out
}

func TestCSVFraming(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})

	a := b.upload(t, "", fixture(t, "bom_crlf.csv"))
	require.Equal(t, 2, a.Accepted)
	require.Empty(t, a.Rejected)
	rows := b.rows(t, a.BatchID)
	require.Equal(t, map[string]string{
		"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "company": "Analytical Engines", "Favourite Colour": "blue",
	}, rows[2], "BOM stripped, headers mapped by name, unknown columns kept")
	require.Equal(t, "Navy, US", rows[3]["company"])

	a = b.upload(t, "", fixture(t, "quoted_newlines.csv"))
	require.Equal(t, 2, a.Accepted)
	rows = b.rows(t, a.BatchID)
	require.Equal(t, "line one\nline two, with comma\nline \"three\"", rows[2]["notes"])
	require.Equal(t, "bob@example.com", rows[5]["email"], "row numbers are line numbers: the quoted newlines count")

	a = b.upload(t, "", fixture(t, "formula.csv"))
	require.Equal(t, 2, a.Accepted)
	rows = b.rows(t, a.BatchID)
	require.Equal(t, "=1+1", rows[2]["name"])
	require.Equal(t, "+SUM(A1:A2)", rows[2]["company"])
	require.Equal(t, "-2+3", rows[2]["notes"])
	require.Equal(t, "@cmd", rows[3]["name"])
	require.Equal(t, `=HYPERLINK("http://evil","x")`, rows[3]["company"])
	require.Equal(t, "\t=tab", rows[3]["notes"])

	a = b.upload(t, "", fixture(t, "no_final_newline.csv"))
	require.Equal(t, 1, a.Accepted)

	a = b.upload(t, "", fixture(t, "header_only.csv"))
	require.Zero(t, a.Accepted)
	require.Empty(t, a.Rejected)

	// The raw line is kept with each row.
	var line string
	require.NoError(t, b.super.Pool.QueryRow(t.Context(),
		`SELECT headers->>'x-csv-line' FROM lead_intake_raw WHERE body = convert_to('{"email":"z@example.com","name":"Zed"}', 'UTF8')`).Scan(&line))
	require.Equal(t, "z@example.com,Zed", line)
}

func TestCSVLineErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	a := b.upload(t, "", fixture(t, "line_errors.csv"))
	require.Equal(t, 3, a.Accepted)
	require.Equal(t, 5, a.RejectedCount)
	require.False(t, a.RejectedTruncated)
	lines := map[int]string{}
	for _, r := range a.Rejected {
		lines[r.Line] = r.Reason
	}
	require.Contains(t, lines[3], "has 4 fields; the header has 3")
	require.Contains(t, lines[5], "has 2 fields")
	require.Contains(t, lines[6], "bare \"")
	require.Contains(t, lines[7], "NUL")
	require.Contains(t, lines[8], "UTF-8")
	rows := b.rows(t, a.BatchID)
	require.Len(t, rows, 3)
	for _, l := range []int{2, 4, 9} {
		require.Contains(t, rows, l)
	}
	raw, jobs := b.stored(t)
	require.Equal(t, 3, raw)
	require.Equal(t, 3, jobs)
}

func TestCSVRejectedListIsCapped(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	var f strings.Builder
	f.WriteString("email,name\n")
	for i := range httpapi.MaxRejectedListed + 5 {
		fmt.Fprintf(&f, "only-one-field-%d\n", i)
	}
	f.WriteString("kept@example.com,Kept\n")
	a := b.upload(t, "", []byte(f.String()))
	require.Equal(t, 1, a.Accepted)
	require.Len(t, a.Rejected, httpapi.MaxRejectedListed)
	require.Equal(t, httpapi.MaxRejectedListed+5, a.RejectedCount)
	require.True(t, a.RejectedTruncated)
}

func TestCSV100kRows(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	src := b.source(t, intake.NewSource{Kind: intake.KindCSV, Name: "import"})
	const n = 100_000
	var f bytes.Buffer
	f.WriteString("email,firstName,lastName,company,phone\r\n")
	for i := range n {
		fmt.Fprintf(&f, "user%d@example.com,First%d,Last%d,\"Company %d, Inc\",+1555%07d\r\n", i, i, i, i%1000, i)
	}
	a := b.upload(t, "?sourceId="+src.ID.String(), f.Bytes())
	require.Equal(t, n, a.Accepted)
	require.Empty(t, a.Rejected)
	var rows, distinct, jobs, last int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(),
		`SELECT count(*), count(DISTINCT row_number), max(row_number) FROM lead_intake_raw WHERE batch_id = $1 AND source_id = $2`,
		a.BatchID, src.ID).Scan(&rows, &distinct, &last))
	require.Equal(t, n, rows)
	require.Equal(t, n, distinct)
	require.Equal(t, n+1, last)
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT count(*) FROM jobs WHERE job_type = 'process_intake'`).Scan(&jobs))
	require.Equal(t, n, jobs)
}

func TestCSVMultipart(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("note", "skipped"))
	fw, err := mw.CreateFormFile("file", "leads.csv")
	require.NoError(t, err)
	_, err = io.Copy(fw, bytes.NewReader(fixture(t, "bom_crlf.csv")))
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	h := b.auth()
	h["Content-Type"] = mw.FormDataContentType()
	r := b.do(t, http.MethodPost, "/intake/csv", h, body.Bytes())
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.InDelta(t, 2, r.json(t)["accepted"], 0)
}

// TestCSVStreamOverLimit: a body that did not declare its length and goes over the limit is
// refused with 413 when it gets there; the batches committed before stay, and the problem says
// which batch and how many rows (README "CSV").
func TestCSVStreamOverLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, httpapi.Config{CSVLimit: 8192, CSVBatchRows: 10})
	var f strings.Builder
	f.WriteString("email,name\n")
	for i := range 1000 {
		fmt.Fprintf(&f, "u%d@example.com,User %d\n", i, i)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL+"/intake/csv",
		io.MultiReader(strings.NewReader(f.String()))) // no Content-Length: sent chunked
	require.NoError(t, err)
	for k, v := range b.auth() {
		req.Header.Set(k, v)
	}
	res, err := b.client.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	p := requireProblem(t, response{status: res.StatusCode, header: res.Header, body: body}, http.StatusRequestEntityTooLarge)
	require.NotEmpty(t, p["batchId"])
	accepted, ok := p["accepted"].(float64)
	require.True(t, ok, string(body))
	raw, jobs := b.stored(t)
	require.Equal(t, int(accepted), raw)
	require.Equal(t, raw, jobs)
	require.Positive(t, raw)
	require.Less(t, raw, 1000)
}
