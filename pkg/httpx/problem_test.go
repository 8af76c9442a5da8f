package httpx_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/httpx"
)

// TestProblemForDataException proves that PostgreSQL's data exceptions (SQLSTATE class 22),
// raised by a real server and reaching the problem mapping unwrapped or wrapped, are 400: a
// value that the database refuses is the request's fault, never a 500.
func TestProblemForDataException(t *testing.T) {
	t.Parallel()
	conn, err := pgx.Connect(t.Context(), dbtest.ServerURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })

	cases := map[string]struct {
		sql   string
		args  []any
		state string
	}{
		"nul in text":       {sql: `SELECT $1::text`, args: []any{"a\x00b"}, state: "22021"},
		"not an integer":    {sql: `SELECT 'x'::int`, state: "22P02"},
		"division by zero":  {sql: `SELECT 1/0`, state: "22012"},
		"integer too large": {sql: `SELECT 99999999999::int`, state: "22003"},
	}
	for name, tc := range cases {
		var out any
		err := conn.QueryRow(t.Context(), tc.sql, tc.args...).Scan(&out)
		require.Error(t, err, name)
		for _, e := range []error{err, fmt.Errorf("list events: %w", err), apperr.Wrap(err, apperr.Internal, "query failed")} {
			p := httpx.ProblemFor(e)
			require.Equal(t, http.StatusBadRequest, p.Status, "%s: %v", name, e)
			require.Equal(t, string(apperr.BadRequest), p.Code, name)
			require.Contains(t, p.Detail, tc.state, name)
		}
	}
	// Codes given on purpose are kept whatever the cause.
	_, err = conn.Exec(t.Context(), `SELECT 1/0`)
	require.Equal(t, http.StatusNotFound, httpx.ProblemFor(apperr.Wrap(err, apperr.NotFound, "no such thing")).Status)
}

// TestProblemForUnreachableDatabase proves that a database that cannot be reached, or that ends
// the session as it shuts down, is 503 (unavailable), and that a 503 set up by SetRetryAfter
// carries Retry-After.
func TestProblemForUnreachableDatabase(t *testing.T) {
	t.Parallel()
	// A port on which nothing listens: the connection is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = pgx.Connect(t.Context(), "postgres://crm@"+closed+"/crm?sslmode=disable&connect_timeout=5")
	require.Error(t, err)
	requireUnavailable(t, err)
	requireUnavailable(t, fmt.Errorf("authenticate: %w", err))

	// The server ends the session (57P01 admin_shutdown), as on a shutdown or failover.
	victim, err := pgx.Connect(t.Context(), dbtest.ServerURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = victim.Close(context.Background()) })
	_, err = victim.Exec(t.Context(), `SELECT pg_terminate_backend(pg_backend_pid())`)
	require.Error(t, err)
	requireUnavailable(t, err)

	// A deadline that passed while waiting for a connection.
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	requireUnavailable(t, fmt.Errorf("acquire: %w", ctx.Err()))

	p := httpx.ProblemFor(err)
	require.Equal(t, http.StatusServiceUnavailable, p.Status)
	rec := httptest.NewRecorder()
	httpx.SetRetryAfter(rec.Header(), p.Status)
	require.Equal(t, "5", rec.Header().Get("Retry-After"))

	h := http.Header{}
	h.Set("Retry-After", "1")
	httpx.SetRetryAfter(h, http.StatusServiceUnavailable)
	require.Equal(t, "1", h.Get("Retry-After"), "a Retry-After chosen by the code is kept")
	h = http.Header{}
	httpx.SetRetryAfter(h, http.StatusTooManyRequests)
	require.Empty(t, h.Get("Retry-After"), "only 503 gets the default")
}

func requireUnavailable(t *testing.T, err error) {
	t.Helper()
	p := httpx.ProblemFor(err)
	require.Equal(t, http.StatusServiceUnavailable, p.Status, "%v", err)
	require.Equal(t, string(apperr.Unavailable), p.Code)
	require.NotContains(t, p.Detail, "127.0.0.1", "the problem does not show where the database is")
}
