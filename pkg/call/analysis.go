package call

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Analysis is what an Analyzer says about a call.
type Analysis struct {
	// Summary is 1..MaxSummaryLen characters.
	Summary string `json:"summary"`
	// BuyingSignalScore is 0..100.
	BuyingSignalScore int `json:"buyingSignalScore"`
	// SignalPhrases are the transcript's phrases that drove the score (0..MaxListItems).
	SignalPhrases []string `json:"signalPhrases"`
	// Objections are the objections raised (0..MaxListItems).
	Objections []string `json:"objections"`
	// NextSteps are the agreed or recommended next steps (0..MaxListItems).
	NextSteps []string `json:"nextSteps"`
	// Model is who analysed: BuiltinModel or the AI model's name.
	Model string `json:"model"`
}

// BuiltinModel is Analysis.Model of the built-in analyser.
const BuiltinModel = "builtin"

// Limits of an Analysis.
const (
	MaxSummaryLen = 2000
	MaxListItems  = 20
	MaxItemLen    = 300
)

// Validate checks the analysis's fields and ranges.
func (a Analysis) Validate() error {
	if a.BuyingSignalScore < 0 || a.BuyingSignalScore > 100 {
		return fmt.Errorf("buying signal score %d is not in 0..100", a.BuyingSignalScore)
	}
	if strings.TrimSpace(a.Summary) == "" || utf8.RuneCountInString(a.Summary) > MaxSummaryLen || !utf8.ValidString(a.Summary) {
		return fmt.Errorf("summary must be 1..%d characters", MaxSummaryLen)
	}
	for name, list := range map[string][]string{"signalPhrases": a.SignalPhrases, "objections": a.Objections, "nextSteps": a.NextSteps} {
		if list == nil {
			return fmt.Errorf("%s is missing", name)
		}
		if len(list) > MaxListItems {
			return fmt.Errorf("%s has %d items, want at most %d", name, len(list), MaxListItems)
		}
		for i, s := range list {
			if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > MaxItemLen || !utf8.ValidString(s) {
				return fmt.Errorf("%s[%d] must be 1..%d characters", name, i, MaxItemLen)
			}
		}
	}
	if a.Model == "" {
		return errors.New("model is empty")
	}
	return nil
}

// Input is what an Analyzer reads: the call's transcript and the notes taken with it.
type Input struct {
	Transcript string
	Notes      string
}

// Analyzer analyses a completed call. Errors are retryable unless IsPermanent says otherwise
// (Builtin never fails).
type Analyzer interface {
	Analyze(ctx context.Context, in Input) (Analysis, error)
}

// The transcript budget of the AI analyser (see the package doc, "Long transcripts").
const (
	// AITranscriptBudget is the most transcript characters sent to the model (about 12k tokens).
	AITranscriptBudget = 48_000
	// AIHeadChars of the budget go to the transcript's opening, the rest to its close.
	AIHeadChars = 16_000
)

// Excerpt returns s when it has at most budget characters; otherwise its first head characters
// and its last budget-head characters, each cut back to a whitespace boundary when one is near
// (within 200 characters), joined by a line saying how many characters were left out. The
// result never has more than budget characters plus that line.
func Excerpt(s string, budget, head int) string {
	r := []rune(s)
	if len(r) <= budget {
		return s
	}
	head = min(max(head, 0), budget)
	tail := budget - head
	h := r[:head]
	if i := lastSpace(h, 200); i > 0 {
		h = h[:i]
	}
	t := r[len(r)-tail:]
	if i := firstSpace(t, 200); i >= 0 {
		t = t[i+1:]
	}
	omitted := len(r) - len(h) - len(t)
	return strings.TrimRightFunc(string(h), unicode.IsSpace) +
		fmt.Sprintf("\n\n[... %d characters of the middle of the call omitted ...]\n\n", omitted) +
		strings.TrimLeftFunc(string(t), unicode.IsSpace)
}

// lastSpace is the index of the last whitespace among the last within runes of r, or -1.
func lastSpace(r []rune, within int) int {
	for i := len(r) - 1; i >= 0 && i >= len(r)-within; i-- {
		if unicode.IsSpace(r[i]) {
			return i
		}
	}
	return -1
}

// firstSpace is the index of the first whitespace among the first within runes of r, or -1.
func firstSpace(r []rune, within int) int {
	for i := 0; i < len(r) && i < within; i++ {
		if unicode.IsSpace(r[i]) {
			return i
		}
	}
	return -1
}
