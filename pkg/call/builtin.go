package call

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Builtin is the deterministic analyser used without OPENAI_API_KEY. It reads the whole
// transcript and the notes, lower-cased, with punctuation as word breaks, and looks for the
// whole-word phrases of three lexicons:
//
//   - buying signals (signalRules): each category that matches adds its weight once, however
//     often and in however many phrasings it occurs (budget 25, purchase intent 25, timeline 15,
//     pricing 10, fit 10, authority 10, trial 10, scale 8);
//   - objections (objectionRules): each category that matches takes its weight off once (need
//     20, price 15, timing 10, competitor 10, authority 10, risk 8);
//   - next steps (nextStepRules).
//
// A phrase preceded by a negation within two words ("not", "never", "don't", "isn't", "won't",
// "can't", ...) does not count: "we are not ready to buy" is no buying signal, "it is not too
// expensive" no objection. The score is 20 + signals - objections, clamped to 0..100: a call
// with no signal at all scores 20, budget + intent + timeline reach 80.
//
// SignalPhrases are the matched signal phrases as they occur (distinct, in lexicon order);
// Objections are "<category>: <phrase>"; NextSteps the steps found, or "Follow up to agree on
// next steps" when none is; Summary says the length, the score and its strength, and the three
// lists.
type Builtin struct{}

// builtinBase is the score of a call with no signal and no objection.
const builtinBase = 20

type rule struct {
	category string
	weight   int
	phrases  []string
}

var signalRules = []rule{
	{"budget", 25, []string{"budget approved", "budget is approved", "budget has been approved", "budget was approved",
		"we have the budget", "we have budget", "budget is allocated", "budget allocated", "funds are approved", "money is there"}},
	{"intent", 25, []string{"ready to buy", "ready to sign", "ready to move forward", "ready to go ahead", "let's move forward",
		"lets move forward", "we want to proceed", "we'd like to proceed", "we would like to proceed", "go ahead with",
		"sign the contract", "send the contract", "send over the contract", "send us the contract", "send me the contract",
		"purchase order", "where do i sign", "we'll take it", "we will take it"}},
	{"timeline", 15, []string{"when can we start", "how soon can", "how quickly can", "start next month", "start next week",
		"this quarter", "by the end of the month", "implementation timeline", "go live", "onboarding"}},
	{"pricing", 10, []string{"pricing", "how much", "price per", "quote", "proposal", "cost per", "discount", "annual plan",
		"payment terms", "contract length"}},
	{"fit", 10, []string{"exactly what we need", "exactly what we're looking for", "solves our problem", "love it", "love this",
		"really impressed", "very impressed", "this is great", "perfect fit", "game changer"}},
	{"authority", 10, []string{"i'm the decision maker", "i am the decision maker", "i make the decision", "i can sign off",
		"leadership is on board", "my boss is on board", "ceo is on board", "the team agreed", "we agreed internally"}},
	{"trial", 10, []string{"pilot", "trial", "proof of concept"}},
	{"scale", 8, []string{"how many seats", "more licenses", "more seats", "rollout", "roll it out", "the whole team", "company wide"}},
}

var objectionRules = []rule{
	{"need", 20, []string{"not interested", "don't need", "do not need", "no need for", "doesn't fit", "not a fit", "not relevant"}},
	{"price", 15, []string{"too expensive", "too pricey", "over our budget", "over budget", "no budget", "don't have the budget",
		"don't have budget", "can't afford", "cannot afford", "costs too much", "expensive", "cheaper"}},
	{"timing", 10, []string{"not right now", "not a priority", "maybe next year", "bad timing", "not the right time",
		"call me back later", "check back later", "next year"}},
	{"competitor", 10, []string{"already use", "already using", "happy with our current", "locked into a contract",
		"current vendor", "competitor"}},
	{"authority", 10, []string{"need to check with", "need approval", "not my decision", "run it by", "talk to my boss",
		"ask my manager", "the board needs"}},
	{"risk", 8, []string{"concerned about", "worried about", "security concerns", "risky", "integration issues"}},
}

var nextStepRules = []rule{
	{"Send the contract", 0, []string{"send the contract", "send over the contract", "send us the contract", "send me the contract"}},
	{"Send a proposal", 0, []string{"send the proposal", "send a proposal", "send over a proposal", "send over the proposal",
		"send us a proposal", "send me a proposal"}},
	{"Send pricing", 0, []string{"send pricing", "send the pricing", "send a quote", "send over pricing", "send us a quote",
		"send me a quote"}},
	{"Schedule a demo", 0, []string{"schedule a demo", "set up a demo", "book a demo", "product demo"}},
	{"Set up a pilot", 0, []string{"pilot", "trial", "proof of concept"}},
	{"Complete the security review", 0, []string{"security review", "security questionnaire"}},
	{"Involve the other stakeholders", 0, []string{"loop in", "bring in our", "introduce you to", "meet the team", "involve our"}},
	{"Share case studies and references", 0, []string{"case study", "case studies", "references"}},
	{"Schedule a follow-up call", 0, []string{"follow up", "call next week", "talk next week", "reconnect", "check in next"}},
}

// defaultNextStep is the next step when the call names none.
const defaultNextStep = "Follow up to agree on next steps"

var negations = map[string]bool{
	"not": true, "never": true, "don't": true, "dont": true, "doesn't": true, "didn't": true, "isn't": true,
	"aren't": true, "wasn't": true, "weren't": true, "won't": true, "can't": true, "cannot": true, "wouldn't": true,
	"haven't": true, "hardly": true,
}

// Analyze implements Analyzer; it never fails.
func (Builtin) Analyze(_ context.Context, in Input) (Analysis, error) {
	text := normalize(in.Transcript + "\n" + in.Notes)
	score := builtinBase
	phrases := []string{}
	var signalCats []string
	for _, r := range signalRules {
		found := r.matches(text, MaxListItems-len(phrases))
		if len(found) == 0 {
			continue
		}
		score += r.weight
		signalCats = append(signalCats, r.category)
		phrases = append(phrases, found...)
	}
	objections := []string{}
	for _, r := range objectionRules {
		if found := r.matches(text, 1); len(found) > 0 {
			score -= r.weight
			objections = append(objections, r.category+": "+found[0])
		}
	}
	steps := []string{}
	for _, r := range nextStepRules {
		if len(r.matches(text, 1)) > 0 {
			steps = append(steps, r.category)
		}
	}
	if len(steps) == 0 {
		steps = append(steps, defaultNextStep)
	}
	score = min(max(score, 0), 100)
	words := len(strings.Fields(in.Transcript))
	summary := fmt.Sprintf("Call transcript of %d words. Buying signal %d/100 (%s)%s. Objections: %s. Next steps: %s.",
		words, score, strength(score), listOf(": ", signalCats), orNone(objections), strings.Join(steps, "; "))
	if utf8.RuneCountInString(summary) > MaxSummaryLen {
		summary = string([]rune(summary)[:MaxSummaryLen])
	}
	return Analysis{Summary: summary, BuyingSignalScore: score, SignalPhrases: phrases, Objections: objections,
		NextSteps: steps, Model: BuiltinModel}, nil
}

// matches returns up to limit of r's phrases that occur in text (normalised) without a negation
// just before them.
func (r rule) matches(text string, limit int) []string {
	var out []string
	for _, p := range r.phrases {
		if len(out) >= limit {
			break
		}
		if occurs(text, p) {
			out = append(out, p)
		}
	}
	return out
}

// occurs reports whether phrase occurs in text as whole words at least once without a negation
// among the two words before it.
func occurs(text, phrase string) bool {
	needle := " " + phrase + " "
	for from := 0; ; {
		i := strings.Index(text[from:], needle)
		if i < 0 {
			return false
		}
		at := from + i
		if !negated(text[max(0, at-40) : at+1]) {
			return true
		}
		from = at + 1
	}
}

// negated reports whether one of the last two words of before is a negation.
func negated(before string) bool {
	w := strings.Fields(before)
	for i := len(w) - 1; i >= 0 && i >= len(w)-2; i-- {
		if negations[w[i]] {
			return true
		}
	}
	return false
}

// normalize lower-cases s and turns everything but letters, digits and apostrophes into single
// spaces, with a space at both ends, so that phrases match as whole words.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(' ')
	space := true
	for _, r := range s {
		switch {
		case r == '\'' || r == '\u2019':
			b.WriteByte('\'')
			space = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
			space = false
		case !space:
			b.WriteByte(' ')
			space = true
		}
	}
	if !space {
		b.WriteByte(' ')
	}
	return b.String()
}

func strength(score int) string {
	switch {
	case score >= 75:
		return "strong"
	case score >= 50:
		return "moderate"
	case score >= 30:
		return "weak"
	default:
		return "none to speak of"
	}
}

func listOf(prefix string, items []string) string {
	if len(items) == 0 {
		return ""
	}
	return prefix + strings.Join(items, ", ")
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, "; ")
}
