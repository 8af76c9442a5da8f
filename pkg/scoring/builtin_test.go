package scoring_test

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/scoring"
)

var pointsRE = regexp.MustCompile(`\(\+(\d+)\)$`)

// reasonsSum adds up the "(+n)" of every reason.
func reasonsSum(t *testing.T, r scoring.Result) int {
	t.Helper()
	sum := 0
	for _, s := range r.Reasons {
		if m := pointsRE.FindStringSubmatch(s); m != nil {
			n, err := strconv.Atoi(m[1])
			require.NoError(t, err)
			sum += n
		}
	}
	return sum
}

func TestRules(t *testing.T) {
	t.Parallel()
	emp, minE := 120, 50
	strong := contractInputs()["strong"]

	r := scoring.Rules(strong)
	require.Equal(t, 40+20+10+15+10, r.Score, "%v", r.Reasons)
	require.True(t, r.ICPMatch)
	require.Equal(t, scoring.PathBookCall, r.RecommendedPath)
	require.Equal(t, "builtin", r.Model)
	require.Equal(t, r.Score, reasonsSum(t, r), "every point has a reason")

	free := contractInputs()["free-mail"]
	r = scoring.Rules(free)
	// industry unknown 3, size no preference 10, region unknown 3, persona no preference 10; nothing else.
	require.Equal(t, 26, r.Score, "%v", r.Reasons)
	require.False(t, r.ICPMatch)
	require.Equal(t, scoring.PathDisqualify, r.RecommendedPath)
	require.Equal(t, r.Score, reasonsSum(t, r))

	// No ICP (every criterion matches), a manager at a 120-person business domain: book a call.
	mid := scoring.Input{
		Lead:       scoring.Lead{Name: "Cy", Email: "cy@beta.de", Title: "Sales Manager", Website: "beta.de"},
		Enrichment: enrichment.Result{Domain: "beta.de", EmailDomain: "beta.de", Company: &enrichment.Company{Employees: &emp}},
	}
	r = scoring.Rules(mid)
	require.Equal(t, 40+10+10+15+6, r.Score, "%v", r.Reasons)
	require.Equal(t, scoring.PathBookCall, r.RecommendedPath)

	mid.ICP = scoring.ICP{MinEmployees: &minE, Industries: []string{"fintech"}, Countries: []string{"DE"}}
	r = scoring.Rules(mid)
	// industry unknown 3 + size 10 + region unknown 3 + persona 10 = 26: no ICP match.
	require.Equal(t, 26+10+10+15+6, r.Score, "%v", r.Reasons)
	require.False(t, r.ICPMatch)
	require.Equal(t, scoring.PathNurture, r.RecommendedPath)

	// An excluded domain is disqualified whatever the score.
	strong.ICP.ExcludedDomains = []string{"acme.io"}
	r = scoring.Rules(strong)
	require.False(t, r.ICPMatch)
	require.Equal(t, scoring.PathDisqualify, r.RecommendedPath)
	require.Contains(t, r.Reasons[len(r.Reasons)-1], "excluded")
}

func TestRulesAreDeterministic(t *testing.T) {
	t.Parallel()
	for name, in := range contractInputs() {
		require.Equal(t, scoring.Rules(in), scoring.Rules(in), name)
	}
}

func TestSeniorityOf(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"": "", "CEO": "c_level", "Co-Founder & CTO": "founder", "VP Sales": "vp", "Head of Growth": "head",
		"Marketing Director": "director", "Sales Manager": "manager", "Senior Engineer": "senior", "Intern": "entry",
		"Chief Revenue Officer": "c_level", "Owner": "owner",
	}
	for in, want := range cases {
		require.Equal(t, want, scoring.SeniorityOf(in), fmt.Sprintf("SeniorityOf(%q)", in))
	}
}
