package rules_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/config"
	"example.com/crm/pkg/rules"
)

// TestDefaults proves an org's default rules come from the configuration, with the package's
// own for what it leaves out, and that they pass the check.
func TestDefaults(t *testing.T) {
	t.Parallel()
	got := rules.Defaults(config.Rules{DealDecayDays: 9, GhostRiskSilenceDays: 3})
	require.Equal(t, rules.Rules{DealDecayDays: rules.DealDecayDays{Discovery: 9, Proposal: 9, Negotiation: 9}, LeadStaleDays: 30, GhostRiskSilenceDays: 3}, got)
	require.Empty(t, got.Check())
	require.Equal(t, rules.Rules{DealDecayDays: rules.DealDecayDays{Discovery: 14, Proposal: 14, Negotiation: 14}, LeadStaleDays: 30, GhostRiskSilenceDays: 7},
		rules.For(config.Rules{}).Default())
}

// TestCheck proves every day count is bounded 1..365, each named by its JSON path.
func TestCheck(t *testing.T) {
	t.Parallel()
	ok := rules.Defaults(config.Rules{})
	for _, tc := range []struct {
		field string
		edit  func(r *rules.Rules, v int)
	}{
		{"dealDecayDays.discovery", func(r *rules.Rules, v int) { r.DealDecayDays.Discovery = v }},
		{"dealDecayDays.proposal", func(r *rules.Rules, v int) { r.DealDecayDays.Proposal = v }},
		{"dealDecayDays.negotiation", func(r *rules.Rules, v int) { r.DealDecayDays.Negotiation = v }},
		{"leadStaleDays", func(r *rules.Rules, v int) { r.LeadStaleDays = v }},
		{"ghostRiskSilenceDays", func(r *rules.Rules, v int) { r.GhostRiskSilenceDays = v }},
	} {
		for _, v := range []int{1, 365} {
			r := ok
			tc.edit(&r, v)
			require.Empty(t, r.Check(), "%s = %d", tc.field, v)
		}
		for _, v := range []int{-1, 0, 366} {
			r := ok
			tc.edit(&r, v)
			errs := r.Check()
			require.Len(t, errs, 1, "%s = %d", tc.field, v)
			require.Equal(t, tc.field, errs[0].Field)
		}
	}
	days, open := ok.DealDecayDays.Stage("won")
	require.False(t, open)
	require.Zero(t, days)
}
