package scoring

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"example.com/crm/pkg/enrichment"
)

// Path is a recommended next step for a lead.
type Path string

// The paths.
const (
	PathBookCall   Path = "book_call"
	PathNurture    Path = "nurture"
	PathDisqualify Path = "disqualify"
)

// Paths lists every path.
var Paths = []Path{PathBookCall, PathNurture, PathDisqualify}

// Valid reports whether p is a path.
func (p Path) Valid() bool { return p == PathBookCall || p == PathNurture || p == PathDisqualify }

// Lead is the lead data a scorer looks at, as stored (normalised by intake).
type Lead struct {
	Name        string `json:"name"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	Company     string `json:"company"`
	Website     string `json:"website"`
	Domain      string `json:"domain"`
	Title       string `json:"title"`
	ProfileLink string `json:"profileLink"`
	Source      string `json:"source"`
	Notes       string `json:"notes"`
}

// ICP is the org's ideal customer profile as the scorers read it: lower-case lists (countries
// upper-case), each optional; nil bounds are unbounded.
type ICP struct {
	Industries   []string `json:"industries"`
	MinEmployees *int     `json:"minEmployees"`
	MaxEmployees *int     `json:"maxEmployees"`
	Titles       []string `json:"titles"`
	Seniorities  []string `json:"seniorities"`
	Countries    []string `json:"countries"`
	Keywords     []string `json:"keywords"`
	// ExcludedDomains never match the ICP.
	ExcludedDomains []string `json:"excludedDomains"`
}

// Input is everything a scorer looks at.
type Input struct {
	Lead       Lead
	Enrichment enrichment.Result
	ICP        ICP
}

// Result is a qualification.
type Result struct {
	// Score is 0..100.
	Score int `json:"score"`
	// Reasons explain the score: 1..MaxReasons items of 1..MaxReasonLen characters.
	Reasons []string `json:"reasons"`
	// ICPMatch reports whether the lead matches the org's ICP.
	ICPMatch bool `json:"icpMatch"`
	// RecommendedPath is the next step.
	RecommendedPath Path `json:"recommendedPath"`
	// Model is who scored: BuiltinModel or the AI model's name.
	Model string `json:"model"`
}

// BuiltinModel is Result.Model of the built-in scorer.
const BuiltinModel = "builtin"

// Limits of a Result's reasons.
const (
	MaxReasons   = 12
	MaxReasonLen = 300
)

// Validate checks the result's fields and ranges.
func (r Result) Validate() error {
	if r.Score < 0 || r.Score > 100 {
		return fmt.Errorf("score %d is not in 0..100", r.Score)
	}
	if len(r.Reasons) == 0 || len(r.Reasons) > MaxReasons {
		return fmt.Errorf("%d reasons, want 1..%d", len(r.Reasons), MaxReasons)
	}
	for i, s := range r.Reasons {
		if s == "" || utf8.RuneCountInString(s) > MaxReasonLen || !utf8.ValidString(s) {
			return fmt.Errorf("reason %d must be 1..%d characters", i, MaxReasonLen)
		}
	}
	if !r.RecommendedPath.Valid() {
		return fmt.Errorf("recommended path %q is not one of book_call, nurture, disqualify", r.RecommendedPath)
	}
	if r.Model == "" {
		return errors.New("model is empty")
	}
	return nil
}

// Scorer qualifies a lead. Errors are retryable unless the scorer's package says otherwise
// (ai.IsPermanent for AI; Builtin never fails).
type Scorer interface {
	Score(ctx context.Context, in Input) (Result, error)
}
