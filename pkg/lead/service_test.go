package lead_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
)

// bundle is a fresh database with the lead service on the owner's handle, one org, and a
// superuser handle for the tests' own reads and for faults.
type bundle struct {
	svc   *lead.Service
	super *db.DB
	org   uuid.UUID
}

func setup(t *testing.T) *bundle {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	return &bundle{svc: lead.NewService(d, em), super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, d, "acme")}
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

// TestCreateUsesTheIntakeFingerprint proves a manual lead is stored with exactly the
// fingerprint intake computes for the same submission (FingerprintOf of
// Normalize), so a lead typed in by hand and the same person arriving through intake
// are one lead; and that the duplicate is refused with the existing lead's id.
func TestCreateUsesTheIntakeFingerprint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	in := lead.Contact{Email: " Ada@Example.com ", Name: "Ada Lovelace", Website: "https://www.analytical.io/x",
		ProfileLink: "https://linkedin.com/in/ada"}
	l, err := b.svc.Create(ctx, b.org, "apikey:test", lead.NewLead{Contact: in})
	require.NoError(t, err)
	var stored string
	require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT fingerprint FROM leads WHERE id = $1`, l.ID).Scan(&stored))
	require.Equal(t, lead.FingerprintOf(lead.Normalize(in)), stored)
	require.Equal(t, lead.Fingerprint("ada@example.com", "analytical.io", "https://linkedin.com/in/ada"), stored)

	_, err = b.svc.Create(ctx, b.org, "apikey:test", lead.NewLead{Contact: lead.Contact{
		Email: "ADA@example.com", Domain: "analytical.io", ProfileLink: "https://LinkedIn.com/in/ada "}})
	require.True(t, apperr.Is(err, apperr.Conflict), "%v", err)
	e, _ := apperr.As(err)
	require.Equal(t, l.ID, e.Extra["existingLeadId"])
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM leads`))
}

// TestMutationsRollBackWithoutTheirEvent proves every lead mutation commits only with its event:
// when writing the event fails, the state change that goes with it is rolled back too. A trigger
// makes every lead.* event insert fail; then create, update, stage change, activity and delete all
// fail and leave the tables exactly as they were; without the trigger the same calls succeed.
func TestMutationsRollBackWithoutTheirEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	l, err := b.svc.Create(ctx, b.org, "apikey:test", lead.NewLead{Contact: lead.Contact{Email: "ada@example.com"}})
	require.NoError(t, err)

	_, err = b.super.Pool.Exec(ctx, `
CREATE FUNCTION refuse_lead_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.type LIKE 'lead.%' THEN RAISE EXCEPTION 'no lead events today'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_lead_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_lead_events();`)
	require.NoError(t, err)

	snapshot := func() string {
		var s string
		require.NoError(t, b.super.Pool.QueryRow(ctx, `SELECT
			(SELECT coalesce(json_agg(l ORDER BY id), '[]') FROM leads l)::text ||
			(SELECT count(*) FROM lead_activities)::text || '/' ||
			(SELECT count(*) FROM events)::text || '/' || (SELECT count(*) FROM jobs)::text`).Scan(&s))
		return s
	}
	before := snapshot()
	title := "CTO"
	calls := map[string]func() error{
		"create": func() error {
			_, err := b.svc.Create(ctx, b.org, "a", lead.NewLead{Contact: lead.Contact{Email: "grace@example.com"}})
			return err
		},
		"update": func() error {
			_, err := b.svc.Update(ctx, b.org, "a", l.ID, lead.Patch{Title: &title})
			return err
		},
		"stage": func() error {
			_, err := b.svc.ChangeStage(ctx, b.org, "a", l.ID, lead.StageQualified, "fit")
			return err
		},
		"activity": func() error {
			_, err := b.svc.AddActivity(ctx, b.org, "a", l.ID, lead.NewActivity{Kind: lead.ActivityNote, Body: "hi"})
			return err
		},
		"delete": func() error { return b.svc.Delete(ctx, b.org, "a", l.ID) },
	}
	order := []string{"create", "update", "stage", "activity", "delete"}
	for _, name := range order {
		err := calls[name]()
		require.ErrorContains(t, err, "no lead events today", name)
		require.Equal(t, before, snapshot(), "%s left a change without its event", name)
	}

	_, err = b.super.Pool.Exec(ctx, `DROP TRIGGER refuse_lead_events ON events`)
	require.NoError(t, err)
	for _, name := range order {
		require.NoError(t, calls[name](), name)
	}
	require.Equal(t, 6, b.count(t, `SELECT count(*) FROM events WHERE type LIKE 'lead.%'`))
}

// TestActivityTimeRules proves the clock rule of AddActivity with an injected clock: up to a
// minute ahead is accepted (client clock skew), more is apperr.Invalid.
func TestActivityTimeRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	b.svc.Now = func() time.Time { return now }
	l, err := b.svc.Create(ctx, b.org, "a", lead.NewLead{Contact: lead.Contact{Phone: "+1 555 0100"}})
	require.NoError(t, err)

	ok := now.Add(time.Minute)
	a, err := b.svc.AddActivity(ctx, b.org, "a", l.ID, lead.NewActivity{Kind: lead.ActivityCall, Subject: "s", OccurredAt: &ok})
	require.NoError(t, err)
	require.True(t, ok.Equal(a.OccurredAt))

	late := now.Add(time.Minute + time.Second)
	_, err = b.svc.AddActivity(ctx, b.org, "a", l.ID, lead.NewActivity{Kind: lead.ActivityCall, Subject: "s", OccurredAt: &late})
	require.True(t, apperr.Is(err, apperr.Invalid), "%v", err)

	a, err = b.svc.AddActivity(ctx, b.org, "a", l.ID, lead.NewActivity{Kind: lead.ActivityNote, Body: "default time"})
	require.NoError(t, err)
	require.True(t, now.Equal(a.OccurredAt), "no time is the service's now")

	_, err = b.svc.AddActivity(ctx, b.org, "a", l.ID, lead.NewActivity{Kind: lead.ActivitySystem, Body: "x"})
	require.True(t, apperr.Is(err, apperr.Invalid), "system activities are not logged by hand")
}
