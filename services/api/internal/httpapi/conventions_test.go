package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/org"
)

// TestOpsRoutes proves health, readiness and metrics answer without credentials.
func TestOpsRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		r := a.do(http.MethodGet, p, nil, withoutHeader("Authorization"), withoutHeader("X-Org-Id"))
		require.Equal(t, http.StatusOK, r.Status, p)
	}
}

// TestUnknownRouteAndMethod proves echo's own 404 and 405 are problem documents.
func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do(http.MethodGet, "/nope", nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "not_found", r.problem(t).Code)
	r = a.do(http.MethodPut, "/healthz", nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.Status)
	require.Equal(t, "method_not_allowed", r.problem(t).Code)
}

// TestAuthentication proves the statuses of API.md: no key, a malformed, unknown or revoked key
// are 401; a good key with another org's X-Org-Id is 403; a malformed X-Org-Id is 400.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	otherOrg, otherKey := a.newOrg("other")
	path := "/observability/jobs"

	ok := a.do(http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, ok.Status, string(ok.Body))

	cases := []struct {
		name   string
		opts   []reqOpt
		status int
	}{
		{"no authorization", []reqOpt{withoutHeader("Authorization")}, http.StatusUnauthorized},
		{"not bearer", []reqOpt{withHeader("Authorization", "Basic "+a.key)}, http.StatusUnauthorized},
		{"empty bearer", []reqOpt{withHeader("Authorization", "Bearer ")}, http.StatusUnauthorized},
		{"garbage key", []reqOpt{withHeader("Authorization", "Bearer nope")}, http.StatusUnauthorized},
		{"unknown key of this org", []reqOpt{withHeader("Authorization", "Bearer "+a.key[:len(a.key)-4]+"AAAA")}, http.StatusUnauthorized},
		{"no org header", []reqOpt{withoutHeader("X-Org-Id")}, http.StatusUnauthorized},
		{"bad org header", []reqOpt{withHeader("X-Org-Id", "acme")}, http.StatusBadRequest},
		{"key of another org", []reqOpt{withHeader("Authorization", "Bearer "+otherKey)}, http.StatusForbidden},
		{"other org with this key", []reqOpt{withHeader("X-Org-Id", otherOrg.String())}, http.StatusForbidden},
		{"unknown org", []reqOpt{withHeader("X-Org-Id", uuid.NewString())}, http.StatusForbidden},
	}
	for _, tc := range cases {
		r := a.do(http.MethodGet, path, nil, tc.opts...)
		require.Equal(t, tc.status, r.Status, "%s: %s", tc.name, r.Body)
		if tc.status == http.StatusUnauthorized {
			require.NotEmpty(t, r.Header.Get("WWW-Authenticate"), tc.name)
		}
	}

	// A revoked key stops working at once.
	k, err := org.CreateKey(t.Context(), a.owner, a.org, "second")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, a.do(http.MethodGet, path, nil, asOrg(a.org, k.Clear)).Status)
	require.NoError(t, org.RevokeKey(t.Context(), a.owner, a.org, k.ID))
	require.Equal(t, http.StatusUnauthorized, a.do(http.MethodGet, path, nil, asOrg(a.org, k.Clear)).Status)
}

// TestCORS proves a configured origin gets CORS headers and another origin does not.
func TestCORS(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do(http.MethodOptions, "/leads", nil, withHeader("Origin", "https://ui.example.com"), withHeader("Access-Control-Request-Method", "POST"))
	require.Equal(t, "https://ui.example.com", r.Header.Get("Access-Control-Allow-Origin"))
	r = a.do(http.MethodOptions, "/leads", nil, withHeader("Origin", "https://evil.example.com"), withHeader("Access-Control-Request-Method", "POST"))
	require.Empty(t, r.Header.Get("Access-Control-Allow-Origin"))
}
