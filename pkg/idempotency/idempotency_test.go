package idempotency_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/idempotency"
)

// TestKeyLifecycle walks one key through every outcome of Begin: the first claim runs, a
// repeat while it runs is a conflict, the same request after Finish replays the response,
// another request with the key is refused, an abandoned key and an in-flight key whose request
// died are claimed again, and keys are per org.
func TestKeyLifecycle(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	ctx := t.Context()
	org, other := dbtest.NewOrg(t, d, "a"), dbtest.NewOrg(t, d, "b")
	hash := []byte("request-1")

	got, err := idempotency.Begin(ctx, d, org, "k", "POST", "/leads", hash)
	require.NoError(t, err)
	require.Nil(t, got, "claimed: run the request")

	_, err = idempotency.Begin(ctx, d, org, "k", "POST", "/leads", hash)
	require.True(t, apperr.Is(err, apperr.Conflict), "still running: %v", err)

	got, err = idempotency.Begin(ctx, d, other, "k", "POST", "/leads", hash)
	require.NoError(t, err)
	require.Nil(t, got, "another org's key is its own")

	resp := idempotency.Stored{Status: 201, ContentType: "application/json", Location: "/leads/1", Body: []byte(`{"id":1}`)}
	require.NoError(t, idempotency.Finish(ctx, d, org, "k", resp))
	got, err = idempotency.Begin(ctx, d, org, "k", "POST", "/leads", hash)
	require.NoError(t, err)
	require.Equal(t, &resp, got, "replayed")

	_, err = idempotency.Begin(ctx, d, org, "k", "POST", "/leads", []byte("request-2"))
	require.True(t, apperr.Is(err, apperr.Invalid), "another request: %v", err)

	require.NoError(t, idempotency.Abandon(ctx, d, other, "k"))
	got, err = idempotency.Begin(ctx, d, other, "k", "POST", "/leads", hash)
	require.NoError(t, err)
	require.Nil(t, got, "abandoned: claimed again")

	// The request holding the key died: after a while its key is free again.
	super := dbtest.SuperDB(t, d.URL())
	_, err = super.Pool.Exec(ctx, `UPDATE idempotency_records SET created_at = now() - interval '1 hour' WHERE org_id = $1`, other)
	require.NoError(t, err)
	got, err = idempotency.Begin(ctx, d, other, "k", "POST", "/leads", []byte("request-3"))
	require.NoError(t, err)
	require.Nil(t, got, "a dead request's key is claimed again")

	var n int
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_records`).Scan(&n))
	require.Equal(t, 2, n)
}
