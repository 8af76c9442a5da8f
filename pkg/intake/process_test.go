package intake_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// pipe is a fresh database with the lead service and the intake processor on it, the queue the
// gateway writes through, one org and a superuser handle for assertions (row-level security
// hides rows from the others).
type pipe struct {
	d     *db.DB
	super *db.DB
	queue *jobs.Queue
	svc   *lead.Service
	proc  *intake.Processor
	org   uuid.UUID
}

func newPipe(t *testing.T) *pipe {
	t.Helper()
	d, url := dbtest.NewDB(t)
	q := jobs.New(d, jobs.Config{})
	svc := lead.NewService(d, events.NewEmitter(q, catalog.New().EventJobs))
	return &pipe{d: d, super: dbtest.SuperDB(t, url), queue: q, svc: svc, proc: intake.NewProcessor(svc),
		org: dbtest.NewOrg(t, d, "acme")}
}

// count runs a counting query as the superuser.
func (p *pipe) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, p.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

// source inserts an intake source of kind webhook with mapping and returns its id.
func (p *pipe) source(t *testing.T, mapping map[string]string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	m, err := json.Marshal(mapping)
	require.NoError(t, err)
	_, err = p.super.Pool.Exec(t.Context(), `INSERT INTO intake_sources (org_id, id, kind, name, signing_secret, field_mapping)
VALUES ($1, $2, 'webhook', $3, 'whsec_test', $4::jsonb)`, p.org, id, "source "+id.String()[:8], string(m))
	require.NoError(t, err)
	return id
}

// accept stores a delivery as the gateway does (raw row plus process_intake job) and returns
// the raw row's id.
func (p *pipe) accept(t *testing.T, sourceID *uuid.UUID, contentType, body string) uuid.UUID {
	t.Helper()
	a, err := intake.NewAcceptor(p.d, jobs.Config{}).Accept(t.Context(), intake.Delivery{
		OrgID: p.org, SourceID: sourceID, DeliveryKey: uuid.NewString(), ContentType: contentType, Body: []byte(body),
	})
	require.NoError(t, err)
	require.False(t, a.Duplicate)
	return a.IntakeID
}

// process runs Process on the raw row id alone, in a tenant transaction of its own.
func (p *pipe) process(t *testing.T, id uuid.UUID) (intake.Result, error) {
	t.Helper()
	var res []intake.Result
	err := p.d.Tx(t.Context(), p.org, func(tx *gorm.DB) error {
		var err error
		res, err = p.proc.Process(t.Context(), tx, p.org, []uuid.UUID{id})
		return err
	})
	if err != nil {
		return intake.Result{}, err
	}
	return res[0], nil
}

// rawOutcome is a lead_intake_raw row as the superuser reads it.
type rawOutcome struct {
	Status       string
	LeadID       *uuid.UUID
	Fingerprint  *string
	RejectReason *string
}

func (p *pipe) raw(t *testing.T, id uuid.UUID) rawOutcome {
	t.Helper()
	var r rawOutcome
	require.NoError(t, p.super.Pool.QueryRow(t.Context(),
		`SELECT status, lead_id, fingerprint, reject_reason FROM lead_intake_raw WHERE id = $1`, id).
		Scan(&r.Status, &r.LeadID, &r.Fingerprint, &r.RejectReason))
	return r
}

// TestProcessIntakeCreatesLead proves a webhook delivery becomes a lead: the source's field
// mapping applied, the contact normalised, unknown fields kept as extra, source and raw row
// linked, lead.created emitted with enrich_lead and qualify_lead enqueued, the raw row marked
// processed with its lead and fingerprint; and that a rerun changes nothing.
func TestProcessIntakeCreatesLead(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	src := p.source(t, map[string]string{"E-Mail": "email", "Full Name": "name"})
	id := p.accept(t, &src, "application/json",
		`{"E-Mail": " Ada@Example.COM ", "Full Name": "Ada  King Lovelace", "company_website": "x", "website": "https://www.analytical.io/about", "job_title": 1, "budget": 5000}`)

	res, err := p.process(t, id)
	require.NoError(t, err)
	require.Equal(t, intake.SubmissionProcessed, res.Status)
	require.NotNil(t, res.LeadID)
	require.False(t, res.AlreadyDone)

	var l struct {
		Email, FirstName, LastName, Name, Domain string
		Extra                                    []byte
		SourceID, IntakeID                       uuid.UUID
		Fingerprint                              string
	}
	require.NoError(t, p.super.Pool.QueryRow(t.Context(), `SELECT email, first_name, last_name, name, domain, extra, source_id,
		intake_id, fingerprint FROM leads WHERE id = $1`, *res.LeadID).
		Scan(&l.Email, &l.FirstName, &l.LastName, &l.Name, &l.Domain, &l.Extra, &l.SourceID, &l.IntakeID, &l.Fingerprint))
	require.Equal(t, "ada@example.com", l.Email)
	require.Equal(t, "Ada", l.FirstName)
	require.Equal(t, "King Lovelace", l.LastName)
	require.Equal(t, "analytical.io", l.Domain)
	require.Equal(t, src, l.SourceID)
	require.Equal(t, id, l.IntakeID)
	require.JSONEq(t, `{"budget": 5000, "company_website": "x", "job_title": 1}`, string(l.Extra))
	require.Equal(t, lead.Fingerprint("ada@example.com", "analytical.io", ""), l.Fingerprint)

	raw := p.raw(t, id)
	require.Equal(t, "processed", raw.Status)
	require.Equal(t, *res.LeadID, *raw.LeadID)
	require.Equal(t, l.Fingerprint, *raw.Fingerprint)
	require.Nil(t, raw.RejectReason)

	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.created' AND entity_id = $2
		AND idempotency_key = $3 AND payload->>'via' = 'intake'`, p.org, *res.LeadID, "lead.created:"+res.LeadID.String()))
	require.Equal(t, 2, p.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND job_type IN ('enrich_lead', 'qualify_lead')`, p.org))

	// At-least-once delivery: the same job again changes nothing.
	again, err := p.process(t, id)
	require.NoError(t, err)
	require.True(t, again.AlreadyDone)
	require.Equal(t, intake.SubmissionProcessed, again.Status)
	require.Equal(t, *res.LeadID, *again.LeadID)
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM leads WHERE org_id = $1`, p.org))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, p.org))
	require.Equal(t, 3, p.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1`, p.org), "process_intake, enrich, qualify")
}

// TestProcessIntakeDuplicate proves a second delivery of the same person (other spelling, other
// content type) adds no lead: a touchpoint on the existing lead (once, by its dedup key), the
// lead's last activity moved on, lead.activity_added, and the raw row marked duplicate with
// the lead's id; a rerun adds nothing.
func TestProcessIntakeDuplicate(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	first := p.accept(t, nil, "application/json", `{"email": "grace@navy.example", "name": "Grace Hopper"}`)
	res, err := p.process(t, first)
	require.NoError(t, err)
	leadID := *res.LeadID

	second := p.accept(t, nil, "application/x-www-form-urlencoded", "email=+GRACE%40Navy.Example+&phone=%2B1+555+0100")
	dup, err := p.process(t, second)
	require.NoError(t, err)
	require.Equal(t, intake.SubmissionDuplicate, dup.Status)
	require.Equal(t, leadID, *dup.LeadID)
	raw := p.raw(t, second)
	require.Equal(t, "duplicate", raw.Status)
	require.Equal(t, leadID, *raw.LeadID)

	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM leads WHERE org_id = $1`, p.org))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM lead_activities WHERE org_id = $1 AND lead_id = $2 AND kind = 'touchpoint'
		AND dedup_key = $3 AND payload->>'intakeId' = $4 AND payload->'submitted'->>'phone' = '+1 555 0100'`,
		p.org, leadID, "intake:"+second.String(), second.String()))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND last_activity_at IS NOT NULL`, leadID))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.activity_added'`, p.org))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.created'`, p.org))

	again, err := p.process(t, second)
	require.NoError(t, err)
	require.True(t, again.AlreadyDone)
	require.Equal(t, intake.SubmissionDuplicate, again.Status)
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM lead_activities WHERE org_id = $1`, p.org))
	require.Equal(t, 2, p.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, p.org))
}

// TestProcessIntakeRejects proves each business rule a delivery can break marks its raw row
// rejected with the reason, writes no lead and no event, and is no error (nothing to retry).
func TestProcessIntakeRejects(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	extra := map[string]string{"email": "many@example.com"}
	for i := range 51 {
		extra[fmt.Sprintf("x%d", i)] = "v"
	}
	tooMany, err := json.Marshal(extra)
	require.NoError(t, err)
	for _, tc := range []struct {
		contentType, body, reason string
	}{
		{"application/json", `not json`, "body is not a JSON object"},
		{"application/json", `[{"email": "a@example.com"}]`, "body is not a JSON object"},
		{"application/json", `{"email": "a@example.com"} {}`, "body is not a JSON object"},
		{"application/json", "{\"email\": \"a@example.com\", \"name\": \"\xff\"}", "body is not valid UTF-8"},
		{"application/json", `{"name": "No Contact", "company": "Acme"}`, "email, phone, profileLink: one of email, phone or profileLink is required"},
		{"application/json", `{}`, "one of email, phone or profileLink is required"},
		{"application/json", `{"email": "not-an-email"}`, "email: must be an email address"},
		{"application/json", `{"email": {"a": 1}}`, "email: must be a string"},
		{"application/json", `{"email": "a@example.com", "title": "` + strings.Repeat("t", 201) + `"}`, "title: must have at most 200 characters"},
		{"application/json", `{"phone": "call me"}`, "phone: must contain digits"},
		{"application/json", `{"email": "a@example.com", "notes": "a\u0000b"}`, "notes: must not contain NUL characters"},
		{"application/json", `{"email": "a@example.com", "misc": "a\u0000b"}`, "misc: must not contain NUL characters"},
		{"application/json", string(tooMany), "extra: must have at most 50 keys"},
		{"application/x-www-form-urlencoded", "name=Nobody&company=Acme", "one of email, phone or profileLink is required"},
		{"application/x-www-form-urlencoded", "email=%zz", "body is not a valid form encoding"},
	} {
		id := p.accept(t, nil, tc.contentType, tc.body)
		res, err := p.process(t, id)
		require.NoError(t, err, tc.body)
		require.Equal(t, intake.SubmissionRejected, res.Status, tc.body)
		require.Nil(t, res.LeadID)
		require.Contains(t, res.RejectReason, tc.reason, tc.body)
		raw := p.raw(t, id)
		require.Equal(t, "rejected", raw.Status, tc.body)
		require.Equal(t, res.RejectReason, *raw.RejectReason)
		require.Nil(t, raw.LeadID)
	}
	require.Equal(t, 0, p.count(t, `SELECT count(*) FROM leads WHERE org_id = $1`, p.org))
	require.Equal(t, 0, p.count(t, `SELECT count(*) FROM events WHERE org_id = $1`, p.org))
}

// TestProcessIntakeCSVRowAndForm proves a CSV row (stored by the gateway as a JSON object of
// column -> value, headers in any case and spelling) and an url-encoded form both become leads.
func TestProcessIntakeCSVRowAndForm(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	row := p.accept(t, nil, "application/json", `{"Email": "", "Phone": "+49 30 1234", "First Name": "Max", "last_name": "Muster", "Profile Link": "https://linkedin.example/in/max", "=cmd": "=1+1"}`)
	res, err := p.process(t, row)
	require.NoError(t, err)
	require.Equal(t, intake.SubmissionProcessed, res.Status, res.RejectReason)
	var name, phone, profile, extra string
	require.NoError(t, p.super.Pool.QueryRow(t.Context(), `SELECT name, phone, profile_link, extra::text FROM leads WHERE id = $1`, *res.LeadID).
		Scan(&name, &phone, &profile, &extra))
	require.Equal(t, "Max Muster", name)
	require.Equal(t, "+49 30 1234", phone)
	require.Equal(t, "https://linkedin.example/in/max", profile)
	require.JSONEq(t, `{"=cmd": "=1+1"}`, extra, "a formula cell is kept as text")

	form := p.accept(t, nil, "application/x-www-form-urlencoded; charset=utf-8", "email=lin%40example.org&name=Lin&utm_source=ad&_gotcha=")
	res, err = p.process(t, form)
	require.NoError(t, err)
	require.Equal(t, intake.SubmissionProcessed, res.Status, res.RejectReason)
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND email = 'lin@example.org'
		AND extra = '{"utm_source": "ad"}'::jsonb`, *res.LeadID))
}

// TestProcessIntakeConcurrent proves 20 deliveries of one person processed at the same time
// make one lead: one processed raw row, 19 duplicates with a touchpoint each, one lead.created.
func TestProcessIntakeConcurrent(t *testing.T) {
	t.Parallel()
	p := newPipe(t)
	const n = 20
	ids := make([]uuid.UUID, n)
	for i := range ids {
		email := "Same.Person@Example.com"
		if i%2 == 0 {
			email = strings.ToLower(email)
		}
		ids[i] = p.accept(t, nil, "application/json", fmt.Sprintf(`{"email": " %s ", "notes": "delivery %d"}`, email, i))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i, id := range ids {
		wg.Go(func() {
			<-start
			_, errs[i] = p.process(t, id)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM leads WHERE org_id = $1`, p.org))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM lead_intake_raw WHERE org_id = $1 AND status = 'processed'`, p.org))
	require.Equal(t, n-1, p.count(t, `SELECT count(*) FROM lead_intake_raw WHERE org_id = $1 AND status = 'duplicate'
		AND lead_id = (SELECT id FROM leads WHERE org_id = $1)`, p.org))
	require.Equal(t, n-1, p.count(t, `SELECT count(*) FROM lead_activities WHERE org_id = $1 AND kind = 'touchpoint'`, p.org))
	require.Equal(t, 1, p.count(t, `SELECT count(*) FROM events WHERE org_id = $1 AND type = 'lead.created'`, p.org))
}
