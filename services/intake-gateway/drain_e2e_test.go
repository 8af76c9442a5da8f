package main_test

import (
	"net/http"
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

// TestBinaryDrainsOnSIGTERM proves the shutdown order of the real binary: after SIGTERM /readyz
// answers 503 while deliveries are still accepted, and the process exits cleanly once
// SHUTDOWN_DRAIN_MS has passed, not before.
func TestBinaryDrainsOnSIGTERM(t *testing.T) {
	t.Parallel()
	const drain = 1500 * time.Millisecond
	owner, url := dbtest.NewDB(t)
	created, err := org.Create(t.Context(), owner, "drain")
	require.NoError(t, err)
	svc := intake.NewService(owner, events.NewEmitter(jobs.New(owner, jobs.Config{}), nil))
	hook, err := svc.Create(t.Context(), created.OrgID, "apikey:test", intake.NewSource{Kind: intake.KindWebhook, Name: "hook"})
	require.NoError(t, err)

	p := proctest.Start(t, gatewayBin, "intake-gateway", proctest.Env(dbtest.AppURL(t, url), "SHUTDOWN_DRAIN_MS=1500"), "serve")
	base := p.BaseURL(t)
	status, body := get(t, base+"/readyz")
	require.Equal(t, http.StatusOK, status, body)

	signalled := time.Now()
	p.Signal(t, syscall.SIGTERM)
	proctest.Eventually(t, time.Second, "/readyz to fail", func() bool {
		status, body = get(t, base+"/readyz")
		return status == http.StatusServiceUnavailable
	})
	require.JSONEq(t, `{"status":"unavailable","detail":"shutting down"}`, body)
	lead := []byte(`{"email":"drain@example.com"}`)
	status, out := post(t, base+"/intake/webhook/"+hook.ID.String(), map[string]string{
		"Content-Type": "application/json", "X-Signature": intake.Sign(hook.SigningSecret, time.Now(), lead),
	}, lead)
	require.Equal(t, http.StatusAccepted, status, "a delivery during the drain is accepted: %s", out)

	ws := p.WaitExit(t, 10*time.Second)
	require.Equal(t, 0, ws.ExitStatus(), p.Output())
	require.GreaterOrEqual(t, time.Since(signalled), drain, "the process stops only after the drain")
}
