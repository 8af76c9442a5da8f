package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/ai"
	"example.com/crm/pkg/ai/aitest"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/document/pdftest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/page"
	"example.com/crm/pkg/report"
)

// The week the tests report on, and a slot of the week after it.
var (
	weekStart = time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)
	weekEnd   = weekStart.AddDate(0, 0, 7)
	slot      = time.Date(2026, 11, 16, 7, 0, 0, 0, time.UTC)
)

type bundle struct {
	d     *db.DB
	em    *events.Emitter
	super *db.DB
	org   uuid.UUID
}

func setup(t *testing.T) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	return &bundle{d: d, em: em, super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme")}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	return dbtest.Count(t, b.super, sql, args...)
}

// commit is the Commit of a job of the bundle's org: a tenant transaction of its own.
func (b *bundle) commit(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return b.d.Tx(ctx, b.org, fn)
}

// seedWeek stores records of org around the test week: for every figure, rows at the week's
// start and just before its end (counted), just before its start and at its end (not counted),
// and the rows a figure leaves out (deleted leads, void invoices). The figures they give are
// seededFigures.
func (b *bundle) seedWeek(t *testing.T, org uuid.UUID) {
	t.Helper()
	exec := func(sql string) {
		t.Helper()
		_, err := b.super.Pool.Exec(t.Context(), sql, org, weekStart, weekEnd)
		require.NoError(t, err, sql)
	}
	// $2 is the week's start, $3 its end; "in" is a microsecond before the end, "before" one
	// before the start.
	exec(`INSERT INTO leads (org_id, id, email, fingerprint, stage, created_at, qualified_at, deleted_at)
SELECT $1::uuid, gen_random_uuid(), 'l' || n || '@example.com', 'fp:' || n || ':' || $1::uuid::text, 'new', c, q, d
FROM (VALUES
  (1, $2::timestamptz,                              $2::timestamptz,                              NULL::timestamptz),
  (2, $3::timestamptz - interval '1 microsecond',  NULL,                                         NULL),
  (3, $2::timestamptz - interval '1 microsecond',  $3::timestamptz - interval '1 microsecond',  NULL),
  (4, $3::timestamptz,                              $3::timestamptz,                              NULL),
  (5, $2::timestamptz + interval '1 hour',          $2::timestamptz + interval '1 hour',          $2::timestamptz + interval '2 hours')
) AS v(n, c, q, d)`)
	exec(`INSERT INTO calls (org_id, lead_id, status, scheduled_at, created_at, completed_at)
SELECT $1::uuid, (SELECT id FROM leads WHERE org_id = $1 ORDER BY created_at LIMIT 1), s, $2, c, d
FROM (VALUES
  ('booked',    $2::timestamptz,                             NULL::timestamptz),
  ('completed', $2::timestamptz - interval '1 microsecond', $2::timestamptz),
  ('booked',    $3::timestamptz,                             NULL),
  ('completed', $3::timestamptz - interval '1 microsecond', $3::timestamptz)
) AS v(s, c, d)`)
	exec(`INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency, stage, probability, won_at, lost_at)
SELECT $1::uuid, ('00000000-0000-0000-0000-00000000000' || n)::uuid, (SELECT id FROM leads WHERE org_id = $1 ORDER BY created_at LIMIT 1),
       'Deal ' || n, v, c, s, 1, w, l
FROM (VALUES
  (1, 150000, 'EUR', 'won',  $2::timestamptz,                             NULL::timestamptz),
  (2, 2000,   'USD', 'won',  $3::timestamptz - interval '1 microsecond', NULL),
  (3, 99,     'EUR', 'won',  $3::timestamptz,                             NULL),
  (4, 50000,  'EUR', 'won',  $2::timestamptz + interval '1 day',          NULL),
  (5, 7000,   'EUR', 'lost', NULL,                                        $2::timestamptz + interval '2 days'),
  (6, 1,      'EUR', 'lost', NULL,                                        $2::timestamptz - interval '1 microsecond')
) AS v(n, v, c, s, w, l)`)
	exec(`INSERT INTO invoices (org_id, deal_id, number, amount, currency, status, issued_at, paid_at, voided_at)
SELECT $1::uuid, ('00000000-0000-0000-0000-00000000000' || n)::uuid, 'INV-' || n, a, c, s, i, p, CASE WHEN s = 'void' THEN i END
FROM (VALUES
  (1, 150000, 'EUR', 'paid',   $2::timestamptz,                             $3::timestamptz - interval '1 microsecond'),
  (2, 2000,   'USD', 'issued', $3::timestamptz - interval '1 microsecond', NULL::timestamptz),
  (4, 50000,  'EUR', 'void',   $2::timestamptz + interval '1 day',          NULL),
  (3, 99,     'EUR', 'paid',   $2::timestamptz - interval '1 microsecond', $2::timestamptz)
) AS v(n, a, c, s, i, p)`)
	exec(`INSERT INTO integrity_alerts (org_id, check_name, detected_at)
SELECT $1::uuid, 'test-' || extract(epoch FROM d), d FROM (VALUES ($2::timestamptz), ($3::timestamptz), ($3::timestamptz - interval '1 microsecond'),
  ($2::timestamptz - interval '1 microsecond')) AS v(d)
WHERE $3::timestamptz IS NOT NULL`)
}

// seededFigures are the figures of seedWeek's records.
var seededFigures = report.Figures{
	Leads: report.LeadFigures{In: 2, Qualified: 2},
	Calls: report.CallFigures{Booked: 2, Completed: 1},
	Deals: report.DealFigures{
		Won: report.Tally{Count: 3, ByCurrency: []report.CurrencyTotal{
			{Currency: "EUR", Count: 2, Amount: 200000}, {Currency: "USD", Count: 1, Amount: 2000}}},
		Lost: report.Tally{Count: 1, ByCurrency: []report.CurrencyTotal{{Currency: "EUR", Count: 1, Amount: 7000}}},
	},
	Money: report.MoneyFigures{
		Invoiced: report.Tally{Count: 2, ByCurrency: []report.CurrencyTotal{
			{Currency: "EUR", Count: 1, Amount: 150000}, {Currency: "USD", Count: 1, Amount: 2000}}},
		Paid: report.Tally{Count: 2, ByCurrency: []report.CurrencyTotal{{Currency: "EUR", Count: 2, Amount: 150099}}},
	},
	Alerts: report.AlertFigures{Opened: 2},
}

// TestWeekBefore proves that a slot anywhere in a week reports on the ISO week before it, in
// UTC, and that a slot at Monday 00:00 reports on the seven days just ended.
func TestWeekBefore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ at, start string }{
		{"2026-11-16T07:00:00Z", "2026-11-09T00:00:00Z"},
		{"2026-11-16T00:00:00Z", "2026-11-09T00:00:00Z"},
		{"2026-11-22T23:59:59Z", "2026-11-09T00:00:00Z"},
		{"2026-11-15T23:59:59Z", "2026-11-02T00:00:00Z"},
		{"2026-11-16T01:00:00+02:00", "2026-11-02T00:00:00Z"}, // Sunday 23:00 UTC
		{"2027-01-01T12:00:00Z", "2026-12-21T00:00:00Z"},      // a Friday across the year
	} {
		at, err := time.Parse(time.RFC3339, tc.at)
		require.NoError(t, err)
		start, end := report.WeekBefore(at)
		require.Equal(t, tc.start, start.Format(time.RFC3339), tc.at)
		require.Equal(t, start.AddDate(0, 0, 7), end, tc.at)
		require.Equal(t, time.Monday, start.Weekday())
	}
}

// TestFigures proves the figures of a seeded week exactly: a record at the week's start and
// one just before its end count, one just before its start and one at its end do not, deleted
// leads, void invoices and another org's records never do, and an empty week is all zeros.
func TestFigures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seedWeek(t, b.org)
	other := dbtest.NewOrg(t, b.d, "other")
	b.seedWeek(t, other)
	svc := report.NewService(b.d, b.em, nil)

	got, err := svc.Figures(t.Context(), b.org, weekStart, weekEnd)
	require.NoError(t, err)
	require.Equal(t, seededFigures, got)

	empty, err := svc.Figures(t.Context(), b.org, weekStart.AddDate(0, 0, -14), weekStart.AddDate(0, 0, -7))
	require.NoError(t, err)
	require.Equal(t, report.Figures{Deals: report.DealFigures{Won: report.Tally{ByCurrency: []report.CurrencyTotal{}},
		Lost: report.Tally{ByCurrency: []report.CurrencyTotal{}}},
		Money: report.MoneyFigures{Invoiced: report.Tally{ByCurrency: []report.CurrencyTotal{}}, Paid: report.Tally{ByCurrency: []report.CurrencyTotal{}}}},
		empty)
}

// TestFiguresLeadsEqualACount proves the lead figures, read from the lead projections, equal a
// fresh count of the org's live leads for every day of three weeks, every week, and windows with
// partial days at their edges, within a day, across a midnight, given in other zones, and empty:
// after leads created in one week and qualified in another, multi-row updates that qualify,
// requalify in another week, unqualify, delete (qualified ones too), restore and leave alone,
// hard deletes, and the lead use cases' own qualification and deletion.
func TestFiguresLeadsEqualACount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	other := dbtest.NewOrg(t, b.d, "other")
	first := weekStart.AddDate(0, 0, -7) // three weeks: the one before the test week, it, and the one after
	for _, org := range []uuid.UUID{b.org, other} {
		_, err := b.super.Pool.Exec(ctx, `INSERT INTO leads (org_id, email, fingerprint, notes, created_at, qualified_at, deleted_at)
SELECT $1, 'l' || g || '@example.com', 'fp:' || g, g::text, c, CASE WHEN g % 3 = 0 THEN c + make_interval(hours => g % 240) END,
    CASE WHEN g % 10 = 0 THEN c + interval '1 hour' END
FROM generate_series(1, 700) g, LATERAL (SELECT $2::timestamptz + make_interval(mins => (g * 7919) % (21 * 24 * 60))) x (c)`, org, first)
		require.NoError(t, err)
	}
	for _, sql := range []string{
		`UPDATE leads SET qualified_at = created_at + interval '2 days' WHERE org_id = $1 AND notes::int % 5 = 1`,
		`UPDATE leads SET qualified_at = qualified_at + interval '9 days' WHERE org_id = $1 AND notes::int % 17 = 0 AND qualified_at IS NOT NULL`,
		`UPDATE leads SET qualified_at = NULL WHERE org_id = $1 AND notes::int % 13 = 0`,
		`UPDATE leads SET deleted_at = now() WHERE org_id = $1 AND notes::int % 11 = 0 AND deleted_at IS NULL`,
		`UPDATE leads SET deleted_at = NULL WHERE org_id = $1 AND notes::int % 4 = 0 AND notes::int % 11 <> 0`,
		`UPDATE leads SET priority = 'high', qualified_at = qualified_at WHERE org_id = $1`,
		`DELETE FROM leads WHERE org_id = $1 AND notes::int % 19 = 0`,
	} {
		_, err := b.super.Pool.Exec(ctx, sql, b.org)
		require.NoError(t, err, sql)
	}
	leads := lead.NewService(b.d, b.em)
	for i, at := range []time.Time{weekStart.Add(-time.Minute), weekStart.Add(5 * time.Hour), weekEnd.Add(-time.Second)} {
		_, err := b.super.Pool.Exec(ctx, `INSERT INTO leads (org_id, email, fingerprint, created_at) VALUES ($1, $2, $2, $3)`,
			b.org, fmt.Sprintf("uc%d@example.com", i), at)
		require.NoError(t, err)
	}
	var ucs []uuid.UUID
	require.NoError(t, b.super.Gorm.Raw(`SELECT id FROM leads WHERE org_id = ? AND email LIKE 'uc%' ORDER BY email`, b.org).Scan(&ucs).Error)
	require.Len(t, ucs, 3)
	for _, id := range ucs {
		_, err := leads.ChangeStage(ctx, b.org, "test", id, lead.StageQualified, "")
		require.NoError(t, err)
	}
	require.NoError(t, leads.Delete(ctx, b.org, "test", ucs[1]))

	svc := report.NewService(b.d, b.em, nil)
	check := func(start, end time.Time) {
		t.Helper()
		var want report.LeadFigures
		require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE created_at >= $2 AND created_at < $3),
    count(*) FILTER (WHERE qualified_at >= $2 AND qualified_at < $3)
FROM leads WHERE org_id = $1 AND deleted_at IS NULL`, b.org, start, end).Scan(&want.In, &want.Qualified))
		got, err := svc.Figures(ctx, b.org, start, end)
		require.NoError(t, err)
		require.Equal(t, want, got.Leads, "[%s, %s)", start, end)
	}
	for d := first; d.Before(weekEnd.AddDate(0, 0, 21)); d = d.AddDate(0, 0, 1) {
		check(d, d.AddDate(0, 0, 1))
	}
	for w := first.AddDate(0, 0, -7); w.Before(weekEnd.AddDate(0, 0, 14)); w = w.AddDate(0, 0, 7) {
		check(w, w.AddDate(0, 0, 7))
	}
	east, west := time.FixedZone("IST", 5*3600+1800), time.FixedZone("PST", -8*3600)
	for _, w := range [][2]time.Time{
		{weekStart.Add(5 * time.Hour), weekEnd.Add(-3 * time.Hour)},
		{first.Add(-time.Hour), weekEnd.AddDate(0, 0, 7).Add(time.Minute)},
		{weekStart.Add(5 * time.Hour), weekStart.Add(20 * time.Hour)},
		{weekStart.Add(23 * time.Hour), weekStart.Add(25 * time.Hour)},
		{weekStart.Add(23 * time.Hour), weekStart.Add(49 * time.Hour)},
		{weekStart.Add(-time.Minute), weekStart.Add(time.Minute)},
		{weekStart.In(east), weekEnd.In(west)},
		{weekStart.Add(90 * time.Minute).In(east), weekEnd.Add(-90 * time.Minute).In(west)},
		{weekStart.Add(time.Hour), weekStart.Add(time.Hour)},
	} {
		check(w[0], w[1])
	}
	all, err := svc.Figures(ctx, b.org, first.AddDate(0, 0, -1), weekEnd.AddDate(0, 0, 21))
	require.NoError(t, err)
	require.Greater(t, all.Leads.In, int64(500))
	require.Greater(t, all.Leads.Qualified, int64(200))
}

// TestGenerateOnce proves that Generate stores the week's report with the built-in narrative and
// its PDF and emits report.generated, and that the same slot again, or another slot of the same
// week, writes nothing more, while the next week's slot writes the next week's report.
func TestGenerateOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seedWeek(t, b.org)
	svc := report.NewService(b.d, b.em, nil)

	res, err := svc.Generate(t.Context(), b.org, slot, b.commit)
	require.NoError(t, err)
	require.Empty(t, res.Skipped)
	require.Empty(t, res.Fallback)
	r := res.Report
	require.Equal(t, report.KindWeekly, r.Kind)
	require.Equal(t, weekStart, r.PeriodStart)
	require.Equal(t, weekEnd, r.PeriodEnd)
	require.Equal(t, report.BuiltinModel, r.Model)
	require.Equal(t, seededFigures, r.Body.Figures)
	require.Equal(t, report.BuiltinNarrative(report.Input{Kind: report.KindWeekly, PeriodStart: weekStart, PeriodEnd: weekEnd,
		Figures: seededFigures}), r.Body.Narrative)
	require.Contains(t, r.Body.Narrative.Summary, "2 leads came in and 2 qualified")
	require.Contains(t, r.Body.Narrative.Summary, "3 deals were won (EUR 2,000.00, USD 20.00)")

	got, err := svc.Get(t.Context(), b.org, r.ID)
	require.NoError(t, err)
	require.Equal(t, r, got)
	doc, err := svc.Document(t.Context(), b.org, r.ID)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(doc, []byte("%PDF-")))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'report.generated' AND entity_id = $2`, b.org, r.ID))

	for _, again := range []time.Time{slot, slot.Add(3 * 24 * time.Hour), weekEnd} {
		res, err := svc.Generate(t.Context(), b.org, again, b.commit)
		require.NoError(t, err)
		require.NotEmpty(t, res.Skipped, again)
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM reports WHERE org_id = $1`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'report.generated'`, b.org))

	next, err := svc.Generate(t.Context(), b.org, slot.AddDate(0, 0, 7), b.commit)
	require.NoError(t, err)
	require.Empty(t, next.Skipped)
	require.Equal(t, weekEnd, next.Report.PeriodStart)
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM reports WHERE org_id = $1`, b.org))

	p, err := svc.List(t.Context(), b.org, report.ListFilter{Kind: report.KindWeekly, Page: page.Request{Limit: 1}})
	require.NoError(t, err)
	require.Len(t, p.Data, 1)
	require.Equal(t, next.Report.ID, p.Data[0].ID, "the latest period first")
	require.NotNil(t, p.NextCursor)
}

// TestGenerateWithModel proves the model path against a fake OpenAI server: the model is given
// the period and figures only (no person's data), its valid answer is the narrative and its
// name the report's model; a malformed or invalid answer falls back to the built-in writer; a
// server error is returned for the queue to retry, writing nothing.
func TestGenerateWithModel(t *testing.T) {
	t.Parallel()
	newSvc := func(t *testing.T, b *bundle, replies ...aitest.Reply) (*report.Service, *aitest.Server) {
		srv := aitest.NewServer(t, replies...)
		client, err := ai.New(ai.Config{APIKey: "test", BaseURL: srv.URL, MaxRetries: -1})
		require.NoError(t, err)
		return report.NewService(b.d, b.em, report.NewAI(client)), srv
	}

	t.Run("valid answer", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.seedWeek(t, b.org)
		want := report.Narrative{Summary: "A strong week: three deals won.", Highlights: []string{"EUR 2,000.00 won", "Two alerts"}}
		svc, srv := newSvc(t, b, aitest.JSON(want))
		res, err := svc.Generate(t.Context(), b.org, slot, b.commit)
		require.NoError(t, err)
		require.Empty(t, res.Fallback)
		require.Equal(t, want, res.Report.Body.Narrative)
		require.NotEqual(t, report.BuiltinModel, res.Report.Model)
		require.NotEmpty(t, res.Report.Model)

		reqs := srv.Requests()
		require.Len(t, reqs, 1)
		body, err := json.Marshal(reqs[0])
		require.NoError(t, err)
		require.Contains(t, string(body), `"strict":true`)
		require.Contains(t, string(body), `\"leads\":{\"in\":2,\"qualified\":2}`)
		require.NotContains(t, string(body), "@example.com", "no person's data")
		require.NotContains(t, string(body), "Deal 1", "no deal titles")
	})
	for name, reply := range map[string]aitest.Reply{
		"invalid json":   aitest.Content(`{"summary": "cut`),
		"unknown member": aitest.Content(`{"summary": "ok", "highlights": ["a"], "extra": 1}`),
		"no highlights":  aitest.JSON(map[string]any{"summary": "ok", "highlights": []string{}}),
		"refusal":        aitest.Refusal("no"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.seedWeek(t, b.org)
			svc, _ := newSvc(t, b, reply)
			res, err := svc.Generate(t.Context(), b.org, slot, b.commit)
			require.NoError(t, err)
			require.NotEmpty(t, res.Fallback)
			require.Equal(t, report.BuiltinModel, res.Report.Model)
			require.Equal(t, report.BuiltinNarrative(report.Input{Kind: report.KindWeekly, PeriodStart: weekStart, PeriodEnd: weekEnd,
				Figures: seededFigures}), res.Report.Body.Narrative)
			require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'report.generated'
AND payload->>'fallback' <> ''`, b.org))
		})
	}
	t.Run("server error", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		svc, _ := newSvc(t, b, aitest.Status(500))
		_, err := svc.Generate(t.Context(), b.org, slot, b.commit)
		require.Error(t, err)
		require.False(t, ai.IsPermanent(err))
		require.Zero(t, b.count(t, `SELECT count(*) FROM reports`))
	})
}

// TestRender proves the PDF shows the period, the narrative and every figure, holds two chart
// images, and renders to equal bytes for an equal report; an empty week renders too.
func TestRender(t *testing.T) {
	t.Parallel()
	in := report.Input{Kind: report.KindWeekly, PeriodStart: weekStart, PeriodEnd: weekEnd, Figures: seededFigures}
	r := report.Report{Kind: report.KindWeekly, PeriodStart: weekStart, PeriodEnd: weekEnd, Model: report.BuiltinModel,
		Body: report.Body{Figures: seededFigures, Narrative: report.BuiltinNarrative(in)}}
	doc, err := report.Render(r)
	require.NoError(t, err)
	// Read back by pdftotext where it is installed, and by the Go extraction always.
	for _, text := range []string{pdftest.Squash(pdftest.Text(t, doc)), pdftest.GoText(t, doc)} {
		for _, s := range []string{
			"Weekly report", "Period: 2026-11-09 to 2026-11-15", "Narrative written by: builtin",
			"Leads in 2", "Leads qualified 2", "Calls booked 2", "Calls completed 1",
			"Deals won 3: EUR 2,000.00, USD 20.00", "Deals lost 1: EUR 70.00", "Invoiced 2: EUR 1,500.00, USD 20.00",
			"Paid 2: EUR 1,500.99", "Integrity alerts opened 2", "Win rate: 3 of 4 closed deals won (75%).",
			"Pipeline: 2 new leads in, 2 qualified this week.",
		} {
			require.Contains(t, text, s)
		}
	}
	require.Equal(t, 2, bytes.Count(doc, []byte("/Subtype /Image")), "two chart images")
	again, err := report.Render(r)
	require.NoError(t, err)
	require.Equal(t, doc, again, "deterministic")

	empty := report.Report{Kind: report.KindWeekly, PeriodStart: weekStart, PeriodEnd: weekEnd, Model: report.BuiltinModel}
	empty.Body.Narrative = report.BuiltinNarrative(report.Input{PeriodStart: weekStart, PeriodEnd: weekEnd})
	doc, err = report.Render(empty)
	require.NoError(t, err)
	require.Equal(t, 2, bytes.Count(doc, []byte("/Subtype /Image")))
	require.Contains(t, pdftest.Text(t, doc), "No new leads came in this week.")
}

// racingWriter generates the same week's report through another service while it writes: the
// report then exists when the first Generate commits, as when two slots of one week race.
type racingWriter struct {
	t     *testing.T
	b     *bundle
	other *report.Service
}

func (w racingWriter) Write(ctx context.Context, in report.Input) (report.Narrative, string, error) {
	res, err := w.other.Generate(ctx, w.b.org, slot, w.b.commit)
	require.NoError(w.t, err)
	require.Empty(w.t, res.Skipped)
	return report.Builtin{}.Write(ctx, in)
}

// TestGenerateRace proves that of two generations of one week that both found no report, the
// unique key lets one store it and emit report.generated; the other writes nothing.
func TestGenerateRace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := report.NewService(b.d, b.em, racingWriter{t: t, b: b, other: report.NewService(b.d, b.em, nil)})
	res, err := svc.Generate(t.Context(), b.org, slot, b.commit)
	require.NoError(t, err)
	require.NotEmpty(t, res.Skipped)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM reports WHERE org_id = $1`, b.org))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'report.generated'`, b.org))
}
