package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestWriteDocumentsSectionKeepsTheOthers proves the documents report has its own markers:
// writing it leaves the API and deals sections as they are, and the other way round.
func TestWriteDocumentsSectionKeepsTheOthers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, writeSection(path, "leads first"))
	require.NoError(t, writeDealsSection(path, "deals first"))
	require.NoError(t, writeDocumentsSection(path, "documents first"))
	require.NoError(t, writeSection(path, "leads second"))
	require.NoError(t, writeDealsSection(path, "deals second"))
	require.NoError(t, writeDocumentsSection(path, "documents second"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(b)
	require.Equal(t, 1, strings.Count(text, "## Documents API\n"))
	require.Contains(t, text, beginMarker+"\n\nleads second\n"+endMarker)
	require.Contains(t, text, dealsBeginMarker+"\n\ndeals second\n"+dealsEndMarker)
	require.Contains(t, text, docsBeginMarker+"\n\ndocuments second\n"+docsEndMarker)
	require.NotContains(t, text, "first")
}

// TestDocAnswerProblem proves the document check refuses a wrong status, type, body or ETag.
func TestDocAnswerProblem(t *testing.T) {
	t.Parallel()
	doc := []byte("%PDF-1.3 stored bytes")
	good := http.Header{"Content-Type": {"application/pdf"}, "Etag": {etagOf(doc)}}
	require.Equal(t, `"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`, etagOf([]byte{}))
	require.Empty(t, docAnswerProblem(http.StatusOK, good, doc, doc))
	require.Contains(t, docAnswerProblem(http.StatusNotFound, good, []byte("nope"), doc), "status 404")
	require.Contains(t, docAnswerProblem(http.StatusOK, http.Header{"Content-Type": {"text/plain"}, "Etag": {etagOf(doc)}}, doc, doc), "Content-Type")
	require.Contains(t, docAnswerProblem(http.StatusOK, good, doc[:5], doc), "not the 21 stored ones")
	require.Contains(t, docAnswerProblem(http.StatusOK, http.Header{"Content-Type": {"application/pdf"}, "Etag": {`"abc"`}}, doc, doc), "ETag")
	require.Contains(t, docAnswerProblem(http.StatusOK, good, doc, nil), "no stored document")
}

// TestDocumentsMarkdown proves the section puts each level's lead and document rows side by
// side with the document's share of the lead's rate.
func TestDocumentsMarkdown(t *testing.T) {
	t.Parallel()
	lat := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
	res := func(n int) loadResult {
		return loadResult{requests: n, took: time.Second, lat: lat, bytesIn: int64(n) * 4000}
	}
	r := &report{
		opts: options{logLevels: []string{"info", "warn"}, maxConns: 20, conns: 50, runs: 1},
		seed: &seed{leads: 1000, orgs: make([]tenant, 10)},
		docs: &docSeed{ids: make([]uuid.UUID, 2), docs: [][]byte{make([]byte, 3000), make([]byte, 5000)}, bytes: 8000, size: "1 MB"},
		runs: []run{
			{scenario: scGet, level: "info", res: res(1000)},
			{scenario: scDocument, level: "info", res: res(500)},
			{scenario: scGet, level: "warn", res: res(2000)},
		},
		docChecks: []string{"all good"},
	}
	md := r.documentsMarkdown()
	require.Contains(t, md, "| `GET /leads/{id}` | info | 1,000 | 1.00 |")
	require.Contains(t, md, "| `GET /invoices/{id}/document` | info | 500 | 0.50 | 2.00 ms | 3.00 ms | 3.00 ms |")
	require.Contains(t, md, "2.0 MB/s")
	require.NotContains(t, md, "| warn |", "a level without a document run has no rows")
	require.Contains(t, md, "**Data**: 2 invoices")
	require.Contains(t, md, "4,000 bytes on average")
	require.Contains(t, md, "Checked before the load, against the database read as the superuser: all good.")
}
