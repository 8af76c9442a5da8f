package scoring

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"example.com/crm/pkg/enrichment"
)

// Builtin is the deterministic scorer of the package doc. Its zero value is ready to use.
type Builtin struct{}

// Score applies the built-in rules; it never fails.
func (Builtin) Score(_ context.Context, in Input) (Result, error) {
	return Rules(in), nil
}

// part is one scored part and its reason.
type part struct {
	points int
	reason string
}

func (p part) String() string { return fmt.Sprintf("%s (+%d)", p.reason, p.points) }

// Rules is the built-in scoring as a pure function.
func Rules(in Input) Result {
	fit := icpFit(in)
	parts := append(fit, seniorityPart(in.Lead.Title), sizePart(in.Enrichment), domainPart(in), completenessPart(in.Lead))
	score, fitScore := 0, 0
	reasons := make([]string, 0, len(parts)+1)
	for i, p := range parts {
		score += p.points
		if i < len(fit) {
			fitScore += p.points
		}
		reasons = append(reasons, p.String())
	}
	score = min(max(score, 0), 100)
	excluded := excludedDomain(in)
	r := Result{Score: score, Reasons: reasons, ICPMatch: fitScore >= 30 && !excluded, Model: BuiltinModel}
	switch {
	case excluded:
		r.RecommendedPath = PathDisqualify
		r.Reasons = append(r.Reasons, fmt.Sprintf("excluded: the domain %s is excluded by the ICP", in.Enrichment.Domain))
	case score >= 70 && r.ICPMatch:
		r.RecommendedPath = PathBookCall
	case score >= 40:
		r.RecommendedPath = PathNurture
	default:
		r.RecommendedPath = PathDisqualify
	}
	return r
}

func excludedDomain(in Input) bool {
	d := in.Enrichment.Domain
	if d == "" {
		d = enrichment.Registrable(in.Lead.Domain)
	}
	return d != "" && slices.ContainsFunc(in.ICP.ExcludedDomains, func(x string) bool {
		return strings.EqualFold(x, d) || strings.HasSuffix(d, "."+strings.ToLower(x))
	})
}

func icpFit(in Input) []part {
	icp, e := in.ICP, in.Enrichment
	var industry, size, region, persona part
	// industry
	switch ind := lower(companyIndustry(e)); {
	case len(icp.Industries) == 0:
		industry = part{10, "ICP industry: no preference"}
	case ind != "" && slices.ContainsFunc(icp.Industries, func(x string) bool { return overlaps(ind, x) }):
		industry = part{10, "ICP industry: " + ind + " matches"}
	case ind != "":
		industry = part{0, "ICP industry: " + ind + " is not an ICP industry"}
	case containsAny(lower(in.Lead.Company+" "+in.Lead.Notes), icp.Industries) != "":
		industry = part{5, "ICP industry: company or notes mention " + containsAny(lower(in.Lead.Company+" "+in.Lead.Notes), icp.Industries)}
	default:
		industry = part{3, "ICP industry: unknown"}
	}
	// size
	emp := employees(e)
	switch {
	case icp.MinEmployees == nil && icp.MaxEmployees == nil:
		size = part{10, "ICP size: no preference"}
	case emp == nil:
		size = part{3, "ICP size: employee count unknown"}
	case (icp.MinEmployees == nil || *emp >= *icp.MinEmployees) && (icp.MaxEmployees == nil || *emp <= *icp.MaxEmployees):
		size = part{10, fmt.Sprintf("ICP size: %d employees within range", *emp)}
	default:
		size = part{0, fmt.Sprintf("ICP size: %d employees outside range", *emp)}
	}
	// region
	country := ""
	if e.Company != nil {
		country = strings.ToUpper(e.Company.Country)
	}
	switch {
	case len(icp.Countries) == 0:
		region = part{10, "ICP region: no preference"}
	case country == "":
		region = part{3, "ICP region: country unknown"}
	case slices.ContainsFunc(icp.Countries, func(c string) bool { return strings.EqualFold(c, country) }):
		region = part{10, "ICP region: " + country + " matches"}
	default:
		region = part{0, "ICP region: " + country + " is not an ICP country"}
	}
	// persona
	title := lower(in.Lead.Title)
	text := lower(strings.Join([]string{in.Lead.Company, in.Lead.Title, in.Lead.Notes, companyIndustry(e)}, " "))
	seniority := SeniorityOf(title)
	switch {
	case len(icp.Titles) == 0 && len(icp.Seniorities) == 0 && len(icp.Keywords) == 0:
		persona = part{10, "ICP persona: no preference"}
	case title != "" && containsAny(title, icp.Titles) != "":
		persona = part{10, "ICP persona: title matches " + containsAny(title, icp.Titles)}
	case seniority != "" && slices.Contains(icp.Seniorities, seniority):
		persona = part{10, "ICP persona: seniority " + seniority + " matches"}
	case containsAny(text, icp.Keywords) != "":
		persona = part{10, "ICP persona: keyword " + containsAny(text, icp.Keywords) + " found"}
	case title == "" && strings.TrimSpace(text) == "":
		persona = part{3, "ICP persona: unknown"}
	default:
		persona = part{0, "ICP persona: no title, seniority or keyword match"}
	}
	return []part{industry, size, region, persona}
}

// seniorityRules map title words to seniorities, most senior first.
var seniorityRules = []struct {
	level string
	words []string
}{
	{"owner", []string{"owner", "proprietor"}},
	{"founder", []string{"founder", "co-founder", "cofounder"}},
	{"c_level", []string{"ceo", "cto", "cfo", "coo", "cmo", "cro", "cio", "ciso", "cpo", "chief", "president", "managing director", "geschäftsführer", "partner"}},
	{"vp", []string{"vp", "vice president", "svp", "evp"}},
	{"head", []string{"head of", "head"}},
	{"director", []string{"director"}},
	{"manager", []string{"manager", "lead", "leiter"}},
	{"senior", []string{"senior", "sr.", "sr", "principal", "staff"}},
}

// SeniorityOf returns the seniority of a job title (one of owner, founder, c_level, vp, head,
// director, manager, senior), "entry" for any other non-empty title, "" for none. Words match
// whole words, case-insensitively.
func SeniorityOf(title string) string {
	t := " " + strings.Join(strings.FieldsFunc(lower(title), func(r rune) bool {
		return r == ',' || r == '/' || r == '(' || r == ')' || r == '&' || r == ' ' || r == '|' || r == ';'
	}), " ") + " "
	if strings.TrimSpace(t) == "" {
		return ""
	}
	for _, r := range seniorityRules {
		for _, w := range r.words {
			if strings.Contains(t, " "+w+" ") {
				return r.level
			}
		}
	}
	return "entry"
}

var seniorityPoints = map[string]int{
	"owner": 20, "founder": 20, "c_level": 20, "vp": 17, "head": 15, "director": 14, "manager": 10, "senior": 6, "entry": 4,
}

func seniorityPart(title string) part {
	s := SeniorityOf(title)
	if s == "" {
		return part{0, "seniority: no title"}
	}
	return part{seniorityPoints[s], "seniority: " + s}
}

func sizePart(e enrichment.Result) part {
	if emp := employees(e); emp != nil {
		n := *emp
		switch {
		case n >= 1000:
			return part{15, fmt.Sprintf("company size: %d employees", n)}
		case n >= 200:
			return part{12, fmt.Sprintf("company size: %d employees", n)}
		case n >= 50:
			return part{10, fmt.Sprintf("company size: %d employees", n)}
		case n >= 10:
			return part{6, fmt.Sprintf("company size: %d employees", n)}
		default:
			return part{3, fmt.Sprintf("company size: %d employees", n)}
		}
	}
	switch e.RevenueBand {
	case "":
		return part{0, "company size: unknown"}
	case enrichment.Band10To50M, enrichment.Band50To250M, enrichment.BandOver250M:
		return part{10, "company size: revenue " + e.RevenueBand}
	default:
		return part{3, "company size: revenue " + e.RevenueBand}
	}
}

func domainPart(in Input) part {
	e := in.Enrichment
	switch {
	case e.EmailDomain != "" && !e.FreeMail:
		return part{15, "domain: business e-mail at " + e.EmailDomain}
	case e.Domain != "":
		return part{8, "domain: company website " + e.Domain + " without a business e-mail"}
	case e.FreeMail:
		return part{0, "domain: free-mail address at " + e.EmailDomain}
	default:
		return part{0, "domain: none"}
	}
}

func completenessPart(l Lead) part {
	var have []string
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"name", strings.TrimSpace(l.Name) != ""}, {"company", strings.TrimSpace(l.Company) != ""},
		{"title", strings.TrimSpace(l.Title) != ""}, {"phone", strings.TrimSpace(l.Phone) != ""},
		{"website or profile", strings.TrimSpace(l.Website) != "" || strings.TrimSpace(l.ProfileLink) != ""},
	} {
		if f.ok {
			have = append(have, f.name)
		}
	}
	if len(have) == 0 {
		return part{0, "completeness: no name, company, title, phone or website"}
	}
	return part{2 * len(have), "completeness: " + strings.Join(have, ", ")}
}

func companyIndustry(e enrichment.Result) string {
	if e.Company == nil {
		return ""
	}
	return e.Company.Industry
}

func employees(e enrichment.Result) *int {
	if e.Company == nil {
		return nil
	}
	return e.Company.Employees
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// overlaps reports whether a contains b or b contains a (both lower-case, non-empty).
func overlaps(a, b string) bool {
	b = lower(b)
	return b != "" && (strings.Contains(a, b) || strings.Contains(b, a))
}

// containsAny returns the first of words that text contains ("" when none).
func containsAny(text string, words []string) string {
	for _, w := range words {
		if w = lower(w); w != "" && strings.Contains(text, w) {
			return w
		}
	}
	return ""
}
