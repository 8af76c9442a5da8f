package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// icpJSON is the ICP as the API answers it.
type icpJSON struct {
	Industries      []string `json:"industries"`
	MinEmployees    *int     `json:"minEmployees"`
	MaxEmployees    *int     `json:"maxEmployees"`
	Titles          []string `json:"titles"`
	Seniorities     []string `json:"seniorities"`
	Countries       []string `json:"countries"`
	Keywords        []string `json:"keywords"`
	ExcludedDomains []string `json:"excludedDomains"`
}

// TestICPSettings proves GET/PUT /settings/icp: the empty profile at first, a PUT stored
// normalised and read back, one org.icp_updated per change (none for a PUT that changes
// nothing), and each org seeing only its own profile.
func TestICPSettings(t *testing.T) {
	t.Parallel()
	a := newAPI(t)

	r := a.do(http.MethodGet, "/settings/icp", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var got icpJSON
	r.json(t, &got)
	require.Equal(t, icpJSON{Industries: []string{}, Titles: []string{}, Seniorities: []string{}, Countries: []string{},
		Keywords: []string{}, ExcludedDomains: []string{}}, got)

	body := map[string]any{
		"industries": []string{" SaaS ", "saas", "Fintech"}, "minEmployees": 50, "maxEmployees": 1000,
		"titles": []string{"Head of Sales"}, "seniorities": []string{"vp", "c_level"}, "countries": []string{"de", "US"},
		"keywords": []string{"CRM"}, "excludedDomains": []string{"Competitor.example"},
	}
	r = a.do(http.MethodPut, "/settings/icp", body)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, &got)
	fifty, thousand := 50, 1000
	want := icpJSON{
		Industries: []string{"saas", "fintech"}, MinEmployees: &fifty, MaxEmployees: &thousand,
		Titles: []string{"head of sales"}, Seniorities: []string{"vp", "c_level"}, Countries: []string{"DE", "US"},
		Keywords: []string{"crm"}, ExcludedDomains: []string{"competitor.example"},
	}
	require.Equal(t, want, got)
	r = a.do(http.MethodGet, "/settings/icp", nil)
	require.Equal(t, http.StatusOK, r.Status)
	got = icpJSON{}
	r.json(t, &got)
	require.Equal(t, want, got)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE org_id = $1 AND type = 'org.icp_updated'`, a.org))

	// The same profile again changes nothing and records nothing.
	r = a.do(http.MethodPut, "/settings/icp", body)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, 1, a.count(`SELECT count(*) FROM events WHERE org_id = $1 AND type = 'org.icp_updated'`, a.org))

	var payload []byte
	require.NoError(t, a.super.QueryRow(t.Context(),
		`SELECT payload FROM events WHERE org_id = $1 AND type = 'org.icp_updated'`, a.org).Scan(&payload))
	var ev struct {
		Previous icpJSON `json:"previous"`
		ICP      icpJSON `json:"icp"`
	}
	require.NoError(t, json.Unmarshal(payload, &ev))
	require.Equal(t, want, ev.ICP)
	require.Empty(t, ev.Previous.Industries)

	// An empty body clears the profile.
	r = a.do(http.MethodPut, "/settings/icp", map[string]any{})
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, 2, a.count(`SELECT count(*) FROM events WHERE org_id = $1 AND type = 'org.icp_updated'`, a.org))

	// Another org sees its own (empty) profile, and its PUT leaves ours alone.
	other, key := a.newOrg("globex")
	r = a.do(http.MethodPut, "/settings/icp", map[string]any{"industries": []string{"retail"}}, asOrg(other, key))
	require.Equal(t, http.StatusOK, r.Status)
	r = a.do(http.MethodGet, "/settings/icp", nil)
	got = icpJSON{}
	r.json(t, &got)
	require.Empty(t, got.Industries)
}

// TestICPSettingsRefused proves that a bad profile is refused with the field named and that
// nothing is stored: 422 for broken rules, 400 for malformed or unknown members, 415 for
// another content type.
func TestICPSettingsRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	long := strings.Repeat("x", 101)
	many := make([]string, 51)
	for i := range many {
		many[i] = "industry"
	}
	for _, tc := range []struct {
		body   any
		status int
		field  string
	}{
		{map[string]any{"industries": []string{long}}, http.StatusUnprocessableEntity, "industries[0]"},
		{map[string]any{"industries": []string{""}}, http.StatusUnprocessableEntity, "industries[0]"},
		{map[string]any{"industries": many}, http.StatusUnprocessableEntity, "industries"},
		{map[string]any{"minEmployees": 0}, http.StatusUnprocessableEntity, "minEmployees"},
		{map[string]any{"maxEmployees": 20000000}, http.StatusUnprocessableEntity, "maxEmployees"},
		{map[string]any{"minEmployees": 100, "maxEmployees": 10}, http.StatusUnprocessableEntity, "maxEmployees"},
		{map[string]any{"seniorities": []string{"intern"}}, http.StatusUnprocessableEntity, "seniorities[0]"},
		{map[string]any{"countries": []string{"DEU"}}, http.StatusUnprocessableEntity, "countries[0]"},
		{map[string]any{"countries": []string{"1A"}}, http.StatusUnprocessableEntity, "countries[0]"},
		{map[string]any{"excludedDomains": []string{"not a domain"}}, http.StatusUnprocessableEntity, "excludedDomains[0]"},
		{map[string]any{"titles": []string{"cto\x01"}}, http.StatusUnprocessableEntity, "titles[0]"},
		{map[string]any{"industry": []string{"saas"}}, http.StatusBadRequest, ""},
		{map[string]any{"industries": "saas"}, http.StatusBadRequest, ""},
		{`{"industries": [`, http.StatusBadRequest, ""},
	} {
		r := a.do(http.MethodPut, "/settings/icp", tc.body)
		require.Equal(t, tc.status, r.Status, "%v: %s", tc.body, r.Body)
		if tc.field != "" {
			p := r.problem(t)
			require.NotEmpty(t, p.Errors, "%v", tc.body)
			require.Equal(t, tc.field, p.Errors[0].Field, "%v", tc.body)
		}
	}
	r := a.do(http.MethodPut, "/settings/icp", "industries=saas", withHeader("Content-Type", "application/x-www-form-urlencoded"))
	require.Equal(t, http.StatusUnsupportedMediaType, r.Status)
	require.Equal(t, 0, a.count(`SELECT count(*) FROM events WHERE org_id = $1 AND type = 'org.icp_updated'`, a.org))
	require.Equal(t, 1, a.count(`SELECT count(*) FROM orgs WHERE id = $1 AND icp = '{}'::jsonb`, a.org))
}
