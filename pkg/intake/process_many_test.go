package intake_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// intakeCase is a delivery of TestProcessIntakeManyAgrees.
type intakeCase struct {
	contentType, body string
	mapped            bool // sent by the source with a field mapping
}

// intakeWorld is one database holding the deliveries of TestProcessIntakeManyAgrees, with the
// leads they may repeat: a live one (existing) and a deleted one.
type intakeWorld struct {
	*pipe
	ids            []uuid.UUID
	existing, gone uuid.UUID
}

func newIntakeWorld(t *testing.T, cases []intakeCase) *intakeWorld {
	t.Helper()
	w := &intakeWorld{pipe: newPipe(t)}
	existing, err := w.svc.Create(t.Context(), w.org, "test", lead.NewLead{Contact: lead.Contact{Email: "edsger@beta.io", Name: "Edsger"}})
	require.NoError(t, err)
	gone, err := w.svc.Create(t.Context(), w.org, "test", lead.NewLead{Contact: lead.Contact{Email: "barbara@mit.example"}})
	require.NoError(t, err)
	require.NoError(t, w.svc.Delete(t.Context(), w.org, "test", gone.ID))
	w.existing, w.gone = existing.ID, gone.ID
	src := w.source(t, map[string]string{"Mail": "email", "Who": "name"})
	for _, c := range cases {
		var s *uuid.UUID
		if c.mapped {
			s = &src
		}
		w.ids = append(w.ids, w.accept(t, s, c.contentType, c.body))
	}
	return w
}

// describe says what a result is, with lead ids named by the delivery that made the lead (or
// "existing" and "deleted"), so that two databases compare.
func (w *intakeWorld) describe(t *testing.T, res intake.Result) string {
	t.Helper()
	return fmt.Sprintf("%s done=%v reason=%q lead=%s", res.Status, res.AlreadyDone, res.RejectReason, w.name(t, res.LeadID))
}

func (w *intakeWorld) name(t *testing.T, id *uuid.UUID) string {
	t.Helper()
	switch {
	case id == nil:
		return "-"
	case *id == w.existing:
		return "existing"
	case *id == w.gone:
		return "deleted"
	}
	var intakeID *uuid.UUID
	require.NoError(t, w.super.Pool.QueryRow(t.Context(), `SELECT intake_id FROM leads WHERE id = $1`, *id).Scan(&intakeID))
	for i, raw := range w.ids {
		if intakeID != nil && raw == *intakeID {
			return fmt.Sprintf("of delivery %d", i)
		}
	}
	return "unknown " + id.String()
}

// state is what the database holds after processing, without ids and times: each raw row, each
// lead with its touchpoints, and the events and jobs by type.
func (w *intakeWorld) state(t *testing.T) []string {
	t.Helper()
	var out []string
	for i, id := range w.ids {
		r := w.raw(t, id)
		out = append(out, fmt.Sprintf("raw %d: %s lead=%s fingerprint=%v reason=%v", i, r.Status, w.name(t, r.LeadID),
			deref(r.Fingerprint), deref(r.RejectReason)))
	}
	rows, err := w.super.Pool.Query(t.Context(), `SELECT l.id, to_jsonb(x)::text FROM leads l, LATERAL (
		SELECT l.first_name, l.last_name, l.name, l.email, l.phone, l.company, l.website, l.domain, l.title,
		       l.profile_link, l.source, l.notes, l.extra, l.stage, l.priority, l.fingerprint, l.version,
		       l.source_id IS NOT NULL AS has_source, l.deleted_at IS NOT NULL AS deleted,
		       l.last_activity_at IS NOT NULL AS active,
		       (SELECT jsonb_agg(a.payload - 'intakeId' - 'sourceId' ORDER BY a.payload->>'submitted')
		        FROM lead_activities a WHERE a.lead_id = l.id) AS touchpoints) x
		WHERE l.org_id = $1 ORDER BY x::text`, w.org)
	require.NoError(t, err)
	for rows.Next() {
		var id uuid.UUID
		var doc string
		require.NoError(t, rows.Scan(&id, &doc))
		out = append(out, "lead "+w.name(t, &id)+": "+doc)
	}
	require.NoError(t, rows.Err())
	rows, err = w.super.Pool.Query(t.Context(), `SELECT 'events ' || type || ' ' || count(*) FROM events WHERE org_id = $1 GROUP BY type
		UNION ALL SELECT 'jobs ' || job_type || ' ' || count(*) FROM jobs WHERE org_id = $1 GROUP BY job_type ORDER BY 1`, w.org)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestProcessIntakeManyAgrees proves a batch of many (one statement per step for the new leads
// of a batch) writes and returns exactly what a batch of one does delivery by delivery in the
// same order: new leads (JSON, mapped fields, a form, a CSV row, the person of a
// deleted lead), rejections, a repeat of a live lead, one person delivered twice in the batch
// (the first makes the lead, the second is its touchpoint), and a row processed before; that a
// rerun changes nothing; and that a batch naming a missing row, another org's row or one row
// twice is refused.
func TestProcessIntakeManyAgrees(t *testing.T) {
	t.Parallel()
	cases := []intakeCase{
		{"application/json", `{"email": "ada@acme.io", "name": "Ada Lovelace", "title": "CTO", "budget": 5000}`, false},
		{"application/json", `{"Mail": "grace@navy.example", "Who": "Grace Hopper", "company": "Navy"}`, true},
		{"application/json", `not json`, false},
		{"application/json", `{"company": "No Contact Ltd"}`, false},
		{"application/json", `{"email": "EDSGER@beta.io", "phone": "+31 20 555 0100"}`, false},
		{"application/x-www-form-urlencoded", "email=+ADA%40Acme.IO+&phone=%2B44+20+7946+0000", false},
		{"application/json", `{"email": "alan@bletchley.example"}`, false},
		{"application/x-www-form-urlencoded", "email=kathleen%40booth.example&name=Kathleen+Booth", false},
		{"application/json", `{"email": "barbara@mit.example", "title": "Professor"}`, false},
		{"text/csv", `{"Email": "margaret@apollo.example", "First Name": "Margaret", "Last Name": "Hamilton", "=cmd": "+1"}`, false},
	}
	const processedBefore = 6

	one, many := newIntakeWorld(t, cases), newIntakeWorld(t, cases)
	for _, w := range []*intakeWorld{one, many} {
		_, err := w.process(t, w.ids[processedBefore])
		require.NoError(t, err)
	}

	var want []string
	for _, id := range one.ids {
		res, err := one.process(t, id)
		require.NoError(t, err)
		want = append(want, one.describe(t, res))
	}
	batch := func(ids []uuid.UUID) ([]intake.Result, error) {
		var res []intake.Result
		err := many.d.Tx(t.Context(), many.org, func(tx *gorm.DB) error {
			var err error
			res, err = many.proc.Process(t.Context(), tx, many.org, ids)
			return err
		})
		return res, err
	}
	res, err := batch(many.ids)
	require.NoError(t, err)
	require.Len(t, res, len(many.ids))
	var got []string
	for _, r := range res {
		got = append(got, many.describe(t, r))
	}
	require.Equal(t, want, got, "the results, delivery by delivery")
	require.Equal(t, one.state(t), many.state(t), "what the databases hold")
	require.Contains(t, got[5], "duplicate done=false reason=\"\" lead=of delivery 0", "the person delivered twice")
	require.Contains(t, got[4], "lead=existing")

	// A rerun of the whole batch changes nothing, and says so.
	before := many.state(t)
	res, err = batch(many.ids)
	require.NoError(t, err)
	for i, r := range res {
		require.True(t, r.AlreadyDone, "delivery %d", i)
	}
	require.Equal(t, before, many.state(t))

	// Refused, writing nothing: a missing row, another org's row, a row named twice.
	fresh := many.accept(t, nil, "application/json", `{"email": "hedy@lamarr.example"}`)
	elsewhere, err := intake.NewAcceptor(many.d, jobs.Config{}).Accept(t.Context(), intake.Delivery{
		OrgID: dbtest.NewOrg(t, many.d, "other"), DeliveryKey: uuid.NewString(), ContentType: "application/json",
		Body: []byte(`{"email": "x@y.example"}`),
	})
	require.NoError(t, err)
	for name, ids := range map[string][]uuid.UUID{
		"missing":   {fresh, uuid.New()},
		"other org": {fresh, elsewhere.IntakeID},
		"twice":     {fresh, fresh},
	} {
		_, err := batch(ids)
		require.Error(t, err, name)
		if name != "twice" {
			require.Equal(t, apperr.NotFound, apperr.CodeOf(err), name)
		}
		require.Equal(t, "pending", many.raw(t, fresh).Status, name)
		require.Zero(t, many.count(t, `SELECT count(*) FROM leads WHERE email = 'hedy@lamarr.example'`), name)
	}
}
