package lead_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/lead"
)

func int64p(n int64) *int64 { return &n }

// TestAutoPriorityTable proves each row of the auto-priority table (lead.PriorityRules) with the
// default thresholds, at both sides of each threshold, and that the first matching row wins.
func TestAutoPriorityTable(t *testing.T) {
	t.Parallel()
	r := lead.DefaultPriorityRules()
	for name, tc := range map[string]struct {
		in   lead.PriorityInputs
		want lead.Priority
		rule string
	}{
		"large deal at the threshold":     {lead.PriorityInputs{Stage: lead.StageConverted, OpenDealValue: int64p(1_000_000)}, lead.PriorityUrgent, lead.RuleLargeDeal},
		"large deal beats gone cold":      {lead.PriorityInputs{Stage: lead.StageConverted, GhostRisk: 9, OpenDealValue: int64p(5_000_000)}, lead.PriorityUrgent, lead.RuleLargeDeal},
		"open deal below the threshold":   {lead.PriorityInputs{Stage: lead.StageConverted, OpenDealValue: int64p(999_999)}, lead.PriorityHigh, lead.RuleOpenDeal},
		"open deal of nothing":            {lead.PriorityInputs{Stage: lead.StageConverted, OpenDealValue: int64p(0)}, lead.PriorityHigh, lead.RuleOpenDeal},
		"converted without an open deal":  {lead.PriorityInputs{Stage: lead.StageConverted, Score: intp(99)}, lead.PriorityLow, lead.RuleClosed},
		"lost":                            {lead.PriorityInputs{Stage: lead.StageLost, Score: intp(99)}, lead.PriorityLow, lead.RuleClosed},
		"disqualified":                    {lead.PriorityInputs{Stage: lead.StageDisqualified}, lead.PriorityLow, lead.RuleClosed},
		"gone cold at the threshold":      {lead.PriorityInputs{Stage: lead.StageContacted, Score: intp(95), GhostRisk: 3}, lead.PriorityLow, lead.RuleGoneCold},
		"hot at the threshold":            {lead.PriorityInputs{Stage: lead.StageQualified, Score: intp(80)}, lead.PriorityHigh, lead.RuleHot},
		"hot with some silence":           {lead.PriorityInputs{Stage: lead.StageContacted, Score: intp(90), GhostRisk: 2}, lead.PriorityHigh, lead.RuleHot},
		"at risk at the warm threshold":   {lead.PriorityInputs{Stage: lead.StageContacted, Score: intp(50), GhostRisk: 1}, lead.PriorityHigh, lead.RuleAtRisk},
		"at risk below gone cold":         {lead.PriorityInputs{Stage: lead.StageCallBooked, Score: intp(79), GhostRisk: 2}, lead.PriorityHigh, lead.RuleAtRisk},
		"silent but cold":                 {lead.PriorityInputs{Stage: lead.StageContacted, Score: intp(49), GhostRisk: 1}, lead.PriorityLow, lead.RuleCold},
		"cold below the warm threshold":   {lead.PriorityInputs{Stage: lead.StageNurture, Score: intp(49)}, lead.PriorityLow, lead.RuleCold},
		"cold at zero":                    {lead.PriorityInputs{Stage: lead.StageQualified, Score: intp(0)}, lead.PriorityLow, lead.RuleCold},
		"warm, answering":                 {lead.PriorityInputs{Stage: lead.StageContacted, Score: intp(79)}, lead.PriorityNormal, lead.RuleDefault},
		"unscored":                        {lead.PriorityInputs{Stage: lead.StageNew}, lead.PriorityNormal, lead.RuleDefault},
		"unscored and silent is not risk": {lead.PriorityInputs{Stage: lead.StageContacted, GhostRisk: 2}, lead.PriorityNormal, lead.RuleDefault},
	} {
		got, rule := r.AutoPriority(tc.in)
		require.Equal(t, tc.want, got, name)
		require.Equal(t, tc.rule, rule, name)
	}

	require.NoError(t, r.Check())
	bad := r
	bad.WarmScore = 90
	require.Error(t, bad.Check(), "warm above hot")
	bad = r
	bad.ColdGhostRisk = 1
	require.Error(t, bad.Check(), "gone cold would shadow at risk")
	bad = r
	bad.LargeDealValue = 0
	require.Error(t, bad.Check())
	bad = r
	bad.Hold = -1
	require.Error(t, bad.Check())
}
