package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRulesSettings proves GET/PUT /settings/rules: the defaults come from the configuration
// (the harness's testRules: 10 days for every deal stage, 5 days of ghost silence) and the
// leads' 30 days; every day count outside 1..365 is a 422 naming its field, and nothing is
// stored; a missing field is a 422 too; a valid PUT round-trips, and another org keeps its
// defaults.
func TestRulesSettings(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	defaults := `{"dealDecayDays":{"discovery":10,"proposal":10,"negotiation":10},"leadStaleDays":30,"ghostRiskSilenceDays":5}`
	r := a.do(http.MethodGet, "/settings/rules", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.JSONEq(t, defaults, string(r.Body))

	valid := func() map[string]any {
		return map[string]any{
			"dealDecayDays": map[string]any{"discovery": 21, "proposal": 14, "negotiation": 7},
			"leadStaleDays": 30, "ghostRiskSilenceDays": 7,
		}
	}
	for _, tc := range []struct {
		field string
		set   func(m map[string]any)
	}{
		{"dealDecayDays.discovery", func(m map[string]any) { m["dealDecayDays"].(map[string]any)["discovery"] = 0 }},
		{"dealDecayDays.proposal", func(m map[string]any) { m["dealDecayDays"].(map[string]any)["proposal"] = 366 }},
		{"dealDecayDays.negotiation", func(m map[string]any) { m["dealDecayDays"].(map[string]any)["negotiation"] = -1 }},
		{"leadStaleDays", func(m map[string]any) { m["leadStaleDays"] = 0 }},
		{"ghostRiskSilenceDays", func(m map[string]any) { m["ghostRiskSilenceDays"] = 1000 }},
		{"dealDecayDays.proposal", func(m map[string]any) { delete(m["dealDecayDays"].(map[string]any), "proposal") }},
		{"leadStaleDays", func(m map[string]any) { delete(m, "leadStaleDays") }},
	} {
		body := valid()
		tc.set(body)
		r = a.do(http.MethodPut, "/settings/rules", body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", tc.field, r.Body)
		var p problem
		r.json(t, &p)
		require.Len(t, p.Errors, 1, string(r.Body))
		require.Equal(t, tc.field, p.Errors[0].Field)
	}
	require.Zero(t, a.count(`SELECT count(*) FROM org_settings WHERE name = 'rules'`))

	// The bounds themselves are accepted.
	edge := valid()
	edge["leadStaleDays"], edge["ghostRiskSilenceDays"] = 1, 365
	r = a.do(http.MethodPut, "/settings/rules", edge)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.JSONEq(t, `{"dealDecayDays":{"discovery":21,"proposal":14,"negotiation":7},"leadStaleDays":1,"ghostRiskSilenceDays":365}`, string(r.Body))
	got := a.do(http.MethodGet, "/settings/rules", nil)
	require.JSONEq(t, string(r.Body), string(got.Body))

	other, key := a.newOrg("other")
	r = a.do(http.MethodGet, "/settings/rules", nil, asOrg(other, key))
	require.JSONEq(t, defaults, string(r.Body))
}
