package intake_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
)

// bundle is a fresh database with two orgs, reached three ways: app as the api and the
// intake-gateway connect (a member of crm_app, bound by row-level security), which every use
// case under test runs on; owner as the migrations' owner; super as a superuser, for fixtures
// and for checks of what is really stored.
type bundle struct {
	app   *db.DB
	owner *db.DB
	super *db.DB
	queue *jobs.Queue
	svc   *intake.Service
	org   uuid.UUID
	other uuid.UUID
}

// actor is the events.actor of the changes the tests make.
const actor = "apikey:test"

func setup(t *testing.T) *bundle {
	t.Helper()
	owner, url := dbtest.NewDB(t)
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 30, AppName: "intake-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	require.NoError(t, app.CheckAppRole(t.Context()), "the tests act as the app role")
	queue := jobs.New(app, jobs.Config{})
	return &bundle{
		app: app, owner: owner, super: dbtest.SuperDB(t, url), queue: queue,
		svc: intake.NewService(app, events.NewEmitter(queue, catalog.New().EventJobs)),
		org: dbtest.NewOrg(t, owner, "acme"), other: dbtest.NewOrg(t, owner, "globex"),
	}
}

// count runs a counting query as the superuser (every org's rows).
func (b *bundle) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), query, args...).Scan(&n), query)
	return n
}

// exec runs a statement as the superuser.
func (b *bundle) exec(t *testing.T, stmt string, args ...any) {
	t.Helper()
	_, err := b.super.Pool.Exec(t.Context(), stmt, args...)
	require.NoError(t, err, stmt)
}

// webhook creates a webhook source in org and returns it with its secret.
func (b *bundle) webhook(t *testing.T, org uuid.UUID, name string) intake.Created {
	t.Helper()
	c, err := b.svc.Create(t.Context(), org, actor, intake.NewSource{Kind: intake.KindWebhook, Name: name})
	require.NoError(t, err)
	require.NotEmpty(t, c.SigningSecret)
	return c
}

// form creates a form source in org.
func (b *bundle) form(t *testing.T, org uuid.UUID, name string) intake.Created {
	t.Helper()
	c, err := b.svc.Create(t.Context(), org, actor, intake.NewSource{
		Kind: intake.KindForm, Name: name, RedirectURL: "https://example.com/thanks",
		AllowedOrigins: []string{"https://example.com"},
	})
	require.NoError(t, err)
	require.NotNil(t, c.PublicToken)
	return c
}

// acceptWith accepts d as the gateway does (intake.Acceptor), with the jobs settings cfg.
func acceptWith(ctx context.Context, b *bundle, cfg jobs.Config, d intake.Delivery) (intake.Accepted, error) {
	return intake.NewAcceptor(b.app, cfg).Accept(ctx, d)
}

// acceptFunc accepts d as the gateway does, with the default jobs settings.
type acceptFunc func(d intake.Delivery) (intake.Accepted, error)

// withAcceptor runs test on a fresh bundle with its accept function.
func withAcceptor(t *testing.T, test func(t *testing.T, b *bundle, accept acceptFunc)) {
	t.Helper()
	b := setup(t)
	test(t, b, func(d intake.Delivery) (intake.Accepted, error) { return acceptWith(t.Context(), b, jobs.Config{}, d) })
}
