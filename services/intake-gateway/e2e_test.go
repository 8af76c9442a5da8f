package main_test

// End-to-end tests of the gateway binary: TestMain builds it once, and each test starts the real
// process against its own freshly migrated database, connected as the app role like production
// (STYLE.md 4.6).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/proctest"
)

// gatewayBin is the gateway binary built by TestMain.
var gatewayBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := proctest.Build("example.com/crm/services/intake-gateway")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	gatewayBin = bin
	code := m.Run()
	cleanup()
	if workerBuild.cleanup != nil {
		workerBuild.cleanup()
	}
	os.Exit(code)
}

func post(t *testing.T, url string, header map[string]string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, out
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(out)
}

func TestBinaryAcceptsAndShutsDown(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	created, err := org.Create(t.Context(), owner, "e2e")
	require.NoError(t, err)
	svc := intake.NewService(owner, events.NewEmitter(jobs.New(owner, jobs.Config{}), nil))
	hook, err := svc.Create(t.Context(), created.OrgID, "apikey:test", intake.NewSource{Kind: intake.KindWebhook, Name: "hook"})
	require.NoError(t, err)

	p := proctest.Start(t, gatewayBin, "intake-gateway", proctest.Env(dbtest.AppURL(t, url), "INTAKE_SOURCE_CACHE_TTL_MS=2000"), "serve")
	base := p.BaseURL(t)
	status, body := get(t, base+"/readyz")
	require.Equal(t, http.StatusOK, status, body)
	require.NotContains(t, p.Output(), "row-level security does not bind", "the binary runs as the app role")

	lead := []byte(`{"email":"e2e@example.com","name":"End To End"}`)
	h := map[string]string{"Content-Type": "application/json", "X-Signature": intake.Sign(hook.SigningSecret, time.Now(), lead)}
	var ids []string
	for range 2 {
		status, out := post(t, base+"/intake/webhook/"+hook.ID.String(), h, lead)
		require.Equal(t, http.StatusAccepted, status, string(out))
		var a struct {
			IntakeID string `json:"intakeId"`
		}
		require.NoError(t, json.Unmarshal(out, &a))
		ids = append(ids, a.IntakeID)
	}
	require.Equal(t, ids[0], ids[1], "a replay is the same delivery")

	status, out := post(t, base+"/intake/csv", map[string]string{
		"Content-Type": "text/csv", "Authorization": "Bearer " + created.APIKey, "X-Org-Id": created.OrgID.String(),
	}, []byte("email,name\r\na@example.com,A\r\nb@example.com,B\r\n"))
	require.Equal(t, http.StatusAccepted, status, string(out))

	super := dbtest.SuperDB(t, url)
	var raw, queued int
	require.NoError(t, super.Pool.QueryRow(t.Context(), `SELECT count(*) FROM lead_intake_raw`).Scan(&raw))
	require.NoError(t, super.Pool.QueryRow(t.Context(), `SELECT count(*) FROM jobs WHERE job_type = 'process_intake'`).Scan(&queued))
	require.Equal(t, 3, raw)
	require.Equal(t, 3, queued)

	status, metrics := get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, metrics, `crm_intake_deliveries_total{kind="webhook",outcome="accepted"} 1`)
	require.Contains(t, metrics, `crm_intake_deliveries_total{kind="webhook",outcome="duplicate"} 1`)
	require.Contains(t, metrics, `crm_intake_csv_rows_total{outcome="accepted"} 2`)
	require.True(t, strings.Contains(metrics, "crm_intake_http_request_duration_seconds_bucket"))

	p.Signal(t, syscall.SIGTERM)
	require.Zero(t, p.WaitExit(t, 20*time.Second).ExitStatus())
}

func TestBinaryRefusesBadSettings(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewDB(t)
	p := proctest.Start(t, gatewayBin, "intake-gateway", proctest.Env(url, "INTAKE_CSV_BATCH_ROWS=0"), "serve")
	require.Equal(t, 1, p.WaitExit(t, 20*time.Second).ExitStatus())
	require.Contains(t, p.Output(), "INTAKE_CSV_BATCH_ROWS must be an integer from 1 to 10000")
}
