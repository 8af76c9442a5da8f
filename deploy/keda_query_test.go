package deploy_test

import (
	"database/sql"
	"errors"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver KEDA's postgresql scaler opens its connection with
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/jobs"
)

// scalerCount runs query as KEDA's postgresql scaler does: database/sql over pgx's stdlib
// driver, one row scanned into a float64.
func scalerCount(t *testing.T, url, query string) float64 {
	t.Helper()
	conn, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	var n float64
	require.NoError(t, conn.QueryRowContext(t.Context(), query).Scan(&n))
	return n
}

// TestKEDAQueryCountsRunnableJobs runs the ScaledObject's query on a migrated database, as the
// owner role that its TriggerAuthentication names, with jobs in every state: it counts exactly
// the jobs a claim could take now, which a claim then takes.
func TestKEDAQueryCountsRunnableJobs(t *testing.T) {
	t.Parallel()
	query := kedaQuery(t)
	d, url := dbtest.NewDB(t)
	ctx := t.Context()
	orgA, orgB := dbtest.NewOrg(t, d, "a"), dbtest.NewOrg(t, d, "b")
	// Retries wait an hour, so a failed attempt leaves its job pending but not due.
	q := jobs.New(d, jobs.Config{BaseDelay: time.Hour, MaxAttempts: 3})
	job := func(org, key string, delay time.Duration, maxAttempts int) jobs.NewJob {
		id := orgA
		if org == "b" {
			id = orgB
		}
		return jobs.NewJob{OrgID: id, Type: "noop", IdempotencyKey: key, Delay: delay, MaxAttempts: maxAttempts}
	}
	require.Zero(t, scalerCount(t, url, query), "an empty queue")

	// Three jobs claimed, then one completed, one failed (back to pending in an hour), one
	// failed on its last attempt (dead-lettered).
	_, err := q.Enqueue(ctx, d.Gorm, job("a", "done", 0, 0), job("a", "retry", 0, 0), job("b", "dead", 0, 1))
	require.NoError(t, err)
	claimed, err := q.Claim(ctx, jobs.NewClaimID("test"), 10)
	require.NoError(t, err)
	require.Len(t, claimed, 3)
	for _, j := range claimed {
		switch j.IdempotencyKey {
		case "done":
			done, err := q.CompleteMany(ctx, []jobs.Completion{{Job: j}})
			require.NoError(t, err)
			require.Len(t, done, 1)
		case "retry", "dead":
			res, err := q.Fail(ctx, j, errors.New("boom"), 0)
			require.NoError(t, err)
			require.Equal(t, j.IdempotencyKey == "dead", res.Dead)
		}
	}
	require.Zero(t, scalerCount(t, url, query), "completed, retrying later and dead-lettered jobs are not runnable")

	// Ten due jobs in two orgs, three not due yet; two of the due ones are then claimed.
	var batch []jobs.NewJob
	for i, org := range []string{"a", "a", "a", "a", "a", "a", "b", "b", "b", "b"} {
		batch = append(batch, job(org, "due-"+string(rune('0'+i)), 0, 0))
	}
	batch = append(batch, job("a", "later-1", time.Hour, 0), job("b", "later-2", time.Hour, 0), job("b", "later-3", time.Minute, 0))
	_, err = q.Enqueue(ctx, d.Gorm, batch...)
	require.NoError(t, err)
	require.Equal(t, float64(10), scalerCount(t, url, query), "the due jobs of both orgs")
	running, err := q.Claim(ctx, jobs.NewClaimID("test"), 2)
	require.NoError(t, err)
	require.Len(t, running, 2)

	n := scalerCount(t, url, query)
	require.Equal(t, float64(8), n, "due and unclaimed")
	// What the scaler counts is what a claim can take now.
	rest, err := q.Claim(ctx, jobs.NewClaimID("test"), 1000)
	require.NoError(t, err)
	require.Len(t, rest, int(n))
	require.Zero(t, scalerCount(t, url, query))

	// Another role sees no job through row-level security: the scaler must use the owner's URL.
	_, err = q.Enqueue(ctx, d.Gorm, job("a", "late", 0, 0))
	require.NoError(t, err)
	require.Equal(t, float64(1), scalerCount(t, url, query))
	require.Zero(t, scalerCount(t, dbtest.AppURL(t, url), query), "as a crm_app member")
}
