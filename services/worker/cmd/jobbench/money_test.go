package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/invoice"
)

// TestWriteMoneySectionKeepsTheQueueSection proves the money report has its own markers:
// writing it leaves the job queue section as it is, and the other way round.
func TestWriteMoneySectionKeepsTheQueueSection(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, writeSection(path, "queue first"))
	require.NoError(t, writeMoneySection(path, "money first"))
	require.NoError(t, writeSection(path, "queue two"))
	require.NoError(t, writeMoneySection(path, "money two"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(b)
	require.Equal(t, 1, strings.Count(text, "## Job queue\n"))
	require.Equal(t, 1, strings.Count(text, "## Money\n"))
	require.Contains(t, text, beginMarker+"\n\nqueue two\n"+endMarker)
	require.Contains(t, text, moneyBeginMarker+"\n\nmoney two\n"+moneyEndMarker)
	require.NotContains(t, text, "first")
}

// TestGaplessGap proves the numbering check finds a gap, a repeat and a wrong count.
func TestGaplessGap(t *testing.T) {
	t.Parallel()
	nums := func(ns ...int64) []string {
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = invoice.Number(invoice.DefaultPrefix, 2026, n)
		}
		return out
	}
	require.Empty(t, gaplessGap(nums(3, 1, 2), invoice.DefaultPrefix, 2026, 3))
	require.Contains(t, gaplessGap(nums(1, 2, 4), invoice.DefaultPrefix, 2026, 3), "INV-2026-00003 missing")
	require.Contains(t, gaplessGap(nums(1, 2, 2), invoice.DefaultPrefix, 2026, 3), "INV-2026-00002 repeated")
	require.Contains(t, gaplessGap(nums(1, 2), invoice.DefaultPrefix, 2026, 3), "2 invoice numbers, want 3")
	require.Contains(t, gaplessGap(nums(1, 2, 3), invoice.DefaultPrefix, 2025, 3), "missing")
}

// TestStatementOf proves the wait sampling names the statements of a money batch.
func TestStatementOf(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"INSERT INTO invoice_counters AS c (org_id, series, year, last) VALUES ($1, $2, $3, $4)":       "take invoice numbers (counter row)",
		"SELECT d.id, l.email\nFROM deals d LEFT JOIN leads l ON true\nORDER BY d.id\nFOR UPDATE OF d": "lock the won deals (invoices)",
		"SELECT d.id, coalesce(l.name, '') AS name\nFROM deals d\nFOR  UPDATE  OF d":                   "lock the won deals (contracts)",
		"INSERT INTO invoices (org_id, id) SELECT 1":                                                   "insert invoices (with PDFs)",
		"\nWITH done AS (\n    UPDATE jobs j SET status = 'completed'":                                 "complete jobs",
		"SELECT deal_id FROM invoices WHERE org_id = $1":                                               "read invoiced deals",
		"UPDATE deals SET stage = $3, probability = $4::numeric / 10000":                               "move the deal (pipeline totals trigger)",
		"SELECT id, stage FROM deals WHERE org_id = $1 AND id = $2 FOR UPDATE":                         "lock the deal",
		"COMMIT":         "COMMIT",
		"":               "(none)",
		"VACUUM foo bar": "other: VACUUM foo bar",
	} {
		require.Equal(t, want, statementOf(q), q)
	}
	require.Equal(t, "active | CPU (no wait event) | COMMIT", waitKey("active", "", "", "COMMIT"))
	require.Equal(t, "active | Lock/transactionid | COMMIT", waitKey("active", "Lock", "transactionid", "COMMIT"))
}

// TestWaitSample proves the shares are of the busy observations and the top list is ordered.
func TestWaitSample(t *testing.T) {
	t.Parallel()
	w := waitSample{busy: 10, by: map[string]int{
		"active | Lock/transactionid | take invoice numbers (counter row)": 4,
		"active | Lock/transactionid | lock the won deals (contracts)":     3,
		"active | IO/WALSync | COMMIT":                                     2,
		"idle in transaction | Client/ClientRead | emit events":            1,
	}}
	require.InDelta(t, 0.7, w.share("Lock/"), 1e-9)
	require.InDelta(t, 0.4, w.share("Lock/", "counter row"), 1e-9)
	require.InDelta(t, 0.3, w.share("Lock/", "lock the won deals"), 1e-9)
	top := w.top(2)
	require.Len(t, top, 2)
	require.Contains(t, top[0].key, "counter row")
	require.InDelta(t, 0.3, top[1].share, 1e-9)
	require.Zero(t, waitSample{}.share("Lock/"))
}

// TestBatchStatsOf proves the batch summary.
func TestBatchStatsOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, batchStats{batches: 4, mean: 4, p50: 2, largest: 10}, batchStatsOf([]int{10, 1, 2, 3}))
	require.Equal(t, batchStats{}, batchStatsOf(nil))
	require.Equal(t, "none", batchText(batchStats{}))
}

// TestMoneyMarkdown proves the section names the target's verdict from the live run and says
// what each run waited for.
func TestMoneyMarkdown(t *testing.T) {
	t.Parallel()
	run := func(mode string, total time.Duration) moneyRun {
		return moneyRun{mode: mode, wins: time.Second, lastInvoice: total, lastContract: total - 100*time.Millisecond,
			cpu: cpuUse{workers: time.Second, backends: 2 * time.Second, backendsOK: true}, checks: []string{"all good"},
			invoiceBatches: batchStats{batches: 2, mean: 5, p50: 5, largest: 6},
			waits: waitSample{every: 20 * time.Millisecond, samples: 3, busy: 2, by: map[string]int{
				"active | Lock/transactionid | take invoice numbers (counter row)": 2}}}
	}
	r := &report{money: &moneyResult{deals: 1000, winners: 8, workers: 2, settings: []string{"GOGC=400"},
		render: renderCost{n: 10, invoice: 200 * time.Microsecond, contract: 100 * time.Microsecond},
		runs:   []moneyRun{run(modeLive, 10*time.Second), run(modeBacklog, 2*time.Second)}}}
	r.money.runs[0].winnerWaits = waitSample{busy: 4, idle: 1, by: map[string]int{
		"active | Lock/transactionid | move the deal (pipeline totals trigger)": 3, "active | IO/WALSync | COMMIT": 1}}
	md := r.moneyMarkdown()
	require.Contains(t, md, "| live | 1.00 s | 10.00 s | 9.90 s | ")
	require.Contains(t, md, "| **100** | 1000 µs + 2000 µs")
	require.Contains(t, md, "**missed**")
	require.Contains(t, md, "| backlog | ")
	require.Contains(t, md, "| **500** |")
	require.Contains(t, md, "the counter row 100.0 %")
	require.Contains(t, md, "both together 300 µs per deal, 30 % of the workers' CPU")
	require.Contains(t, md, "What the wins' PostgreSQL backends were doing in the live run (the same polls, 4 observations not idle, 1 idle)")
	require.Contains(t, md, "| active | Lock/transactionid | move the deal (pipeline totals trigger) | 75.0 % |")
	require.Contains(t, md, "In all: waiting for a row lock 75.0 %, writing or flushing WAL 25.0 %")
	require.Contains(t, md, "Checked after each run: all good.")
}
