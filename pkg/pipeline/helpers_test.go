package pipeline_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
)

// bundle is a fresh database with the lead service on the owner's handle, one org, and a
// superuser handle for the tests' own reads and for faults.
type bundle struct {
	svc   *lead.Service
	super *db.DB
	org   uuid.UUID
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

// pipe is a fresh database with the lead service and the router on it, one org and a superuser
// handle for assertions (row-level security hides rows from the others).
type pipe struct {
	d      *db.DB
	super  *db.DB
	svc    *lead.Service
	router *pipeline.Router
	org    uuid.UUID
}

func newPipe(t *testing.T) *pipe {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	return &pipe{d: d, super: dbtest.SuperDB(t, url), svc: lead.NewService(d, em), router: pipeline.NewRouter(em),
		org: dbtest.NewOrg(t, d, "acme")}
}

// count runs a counting query as the superuser.
func (p *pipe) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, p.super.Pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}
