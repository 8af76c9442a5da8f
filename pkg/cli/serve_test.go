package cli_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"example.com/crm/pkg/cli"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/httpx"
)

// TestOpenDBHonoursMaxConns proves that the pool has the DB_MAX_CONNS it was given, however
// small, instead of a minimum of the binary's choosing.
func TestOpenDBHonoursMaxConns(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	env := cli.Env{Config: config.Config{DatabaseURL: url, DBMaxConns: 3}, Log: zap.NewNop()}
	d, err := cli.OpenDB(t.Context(), env, "crm-test")
	require.NoError(t, err)
	t.Cleanup(d.Close)
	require.Equal(t, int32(3), d.Pool.Config().MaxConns)
}

// closedPortURL returns the test server's URL with its port replaced by one nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	u, err := url.Parse(dbtest.ServerURL(t))
	require.NoError(t, err)
	u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return u.String()
}

// TestReadyzHidesConnectionDetails proves that /readyz with the database down says "database
// unreachable" and nothing of the connection (user, database, host:port), and that the detail
// goes to the log instead.
func TestReadyzHidesConnectionDetails(t *testing.T) {
	t.Parallel()
	dbURL := closedPortURL(t)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	pool, err := pgxpool.New(t.Context(), dbURL) // connects lazily: nothing answers yet
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	d := &db.DB{Pool: pool}
	core, logs := observer.New(zapcore.InfoLevel)
	srv := httptest.NewServer(httpx.OpsHandler(d.Ready, httpx.NewRegistry(), zap.New(core)))
	t.Cleanup(srv.Close)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/readyz", nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	var body map[string]string
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	require.Equal(t, map[string]string{"status": "unavailable", "detail": "database unreachable"}, body)

	lines := logs.FilterMessage("not ready").All()
	require.Len(t, lines, 1)
	logged, ok := lines[0].ContextMap()["error"].(string)
	require.True(t, ok)
	require.Contains(t, logged, u.Port(), "the log keeps the detail: %s", logged)
}
