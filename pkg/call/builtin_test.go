package call_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/call"
)

// TestBuiltinAnalyzer checks the built-in analyser's documented rules on typical calls: the
// score (20 + signal categories - objection categories, clamped), the phrases that drove it,
// objections, next steps, negations, and that its answers are valid.
func TestBuiltinAnalyzer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		in         call.Input
		score      int
		phrases    []string
		objections []string
		steps      []string
	}{
		{
			name: "hot call",
			in: call.Input{Transcript: `Rep: Thanks for joining. Prospect: Honestly this is exactly what we need.
The budget is approved and we're ready to move forward. When can we start? Please send over the contract.`},
			score:   20 + 25 + 25 + 15 + 10,
			phrases: []string{"budget is approved", "ready to move forward", "send over the contract", "when can we start", "exactly what we need"},
			steps:   []string{"Send the contract"},
		},
		{
			name: "cold call",
			in: call.Input{Transcript: "Prospect: We're not interested, it's too expensive and we already use a competitor.",
				Notes: "Maybe next year."},
			score:      0,
			phrases:    []string{},
			objections: []string{"need: not interested", "price: too expensive", "timing: maybe next year", "competitor: already use"},
			steps:      []string{"Follow up to agree on next steps"},
		},
		{
			name:       "mixed call",
			in:         call.Input{Transcript: "What is the pricing per seat? I need to check with my boss. Could you send a proposal and schedule a demo?"},
			score:      20 + 10 - 10,
			phrases:    []string{"pricing", "proposal"},
			objections: []string{"authority: need to check with"},
			steps:      []string{"Send a proposal", "Schedule a demo"},
		},
		{
			name:    "negations do not count",
			in:      call.Input{Transcript: "We are not ready to buy. It is not too expensive though. Let's follow-up next week."},
			score:   20,
			phrases: []string{},
			steps:   []string{"Schedule a follow-up call"},
		},
		{
			name:    "empty",
			in:      call.Input{Transcript: "..."},
			score:   20,
			phrases: []string{},
			steps:   []string{"Follow up to agree on next steps"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := call.Builtin{}.Analyze(t.Context(), tc.in)
			require.NoError(t, err)
			require.NoError(t, a.Validate())
			require.Equal(t, tc.score, a.BuyingSignalScore)
			require.Equal(t, tc.phrases, a.SignalPhrases)
			if tc.objections == nil {
				tc.objections = []string{}
			}
			require.Equal(t, tc.objections, a.Objections)
			require.Equal(t, tc.steps, a.NextSteps)
			require.Equal(t, call.BuiltinModel, a.Model)
			require.Contains(t, a.Summary, "Buying signal")
		})
	}
}

// longTranscript is about an hour of talk (some 90,000 characters) whose buying signals come
// only at its very end.
func longTranscript() string {
	var b strings.Builder
	for i := 0; b.Len() < 90_000; i++ {
		b.WriteString("Rep: Let me walk you through the reporting module and how the dashboards refresh.\n")
		b.WriteString("Prospect: Sure, that makes sense, go on.\n")
	}
	b.WriteString("Prospect: Great. The budget is approved, we are ready to sign, please send the contract.\n")
	return b.String()
}

// TestBuiltinLongTranscript proves the built-in analyser scans all of an hour-long transcript:
// the signals at its end count.
func TestBuiltinLongTranscript(t *testing.T) {
	t.Parallel()
	a, err := call.Builtin{}.Analyze(t.Context(), call.Input{Transcript: longTranscript()})
	require.NoError(t, err)
	require.NoError(t, a.Validate())
	require.Equal(t, 20+25+25, a.BuyingSignalScore)
	require.Contains(t, a.SignalPhrases, "budget is approved")
}

// TestExcerpt checks the transcript rule of the AI analyser: short text is kept whole; long
// text keeps its head and its tail within the budget, cut at whitespace, with a marker saying
// how much was left out.
func TestExcerpt(t *testing.T) {
	t.Parallel()
	require.Equal(t, "short text", call.Excerpt("short text", 100, 30))
	s := longTranscript()
	got := call.Excerpt(s, call.AITranscriptBudget, call.AIHeadChars)
	head, tail, ok := strings.Cut(got, "\n\n[... ")
	require.True(t, ok, "the marker is there")
	require.LessOrEqual(t, utf8.RuneCountInString(head), call.AIHeadChars)
	require.Greater(t, utf8.RuneCountInString(head), call.AIHeadChars-200)
	require.True(t, strings.HasPrefix(s, head))
	_, tail, ok = strings.Cut(tail, " omitted ...]\n\n")
	require.True(t, ok)
	require.True(t, strings.HasSuffix(s, tail))
	require.Contains(t, tail, "send the contract", "the close of the call is kept")
	require.LessOrEqual(t, utf8.RuneCountInString(head)+utf8.RuneCountInString(tail), call.AITranscriptBudget)
	require.Less(t, utf8.RuneCountInString(got), call.AITranscriptBudget+100)
}

// TestAnalysisValidate checks the limits of an analysis.
func TestAnalysisValidate(t *testing.T) {
	t.Parallel()
	ok := call.Analysis{Summary: "s", BuyingSignalScore: 50, SignalPhrases: []string{}, Objections: []string{}, NextSteps: []string{}, Model: "m"}
	require.NoError(t, ok.Validate())
	for name, mut := range map[string]func(a *call.Analysis){
		"score over 100":  func(a *call.Analysis) { a.BuyingSignalScore = 101 },
		"negative score":  func(a *call.Analysis) { a.BuyingSignalScore = -1 },
		"empty summary":   func(a *call.Analysis) { a.Summary = " " },
		"long summary":    func(a *call.Analysis) { a.Summary = strings.Repeat("x", call.MaxSummaryLen+1) },
		"nil list":        func(a *call.Analysis) { a.Objections = nil },
		"too many items":  func(a *call.Analysis) { a.NextSteps = make([]string, call.MaxListItems+1) },
		"empty item":      func(a *call.Analysis) { a.SignalPhrases = []string{""} },
		"long item":       func(a *call.Analysis) { a.SignalPhrases = []string{strings.Repeat("x", call.MaxItemLen+1)} },
		"no model":        func(a *call.Analysis) { a.Model = "" },
		"invalid utf8 it": func(a *call.Analysis) { a.Summary = "\xff" },
	} {
		a := ok
		mut(&a)
		require.Error(t, a.Validate(), name)
	}
}
