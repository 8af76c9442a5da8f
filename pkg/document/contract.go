package document

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"example.com/crm/pkg/apperr"
)

// The placeholders of a contract template (../shared/API.md, GET/PUT /settings/contract-template),
// written {{name}} (spaces inside the braces are allowed: {{ client.name }}).
const (
	PlaceholderClientName    = "client.name"
	PlaceholderClientCompany = "client.company"
	PlaceholderDealTitle     = "deal.title"
	PlaceholderDealValue     = "deal.value"
	PlaceholderDate          = "date"
	PlaceholderSellerName    = "seller.name"
)

// Placeholders lists every placeholder a template may use, sorted.
var Placeholders = []string{
	PlaceholderClientName, PlaceholderClientCompany, PlaceholderDate,
	PlaceholderDealTitle, PlaceholderDealValue, PlaceholderSellerName,
}

// Limits of a template, in characters.
const (
	MaxTitleLength = 200
	MaxBodyLength  = 50_000
)

// DefaultContractTemplate is the template of an org that has saved none.
var DefaultContractTemplate = ContractTemplate{
	Title: "Services agreement: {{deal.title}}",
	Body: `This agreement is made on {{date}} between {{seller.name}} ("the Provider") and ` +
		`{{client.company}}, represented by {{client.name}} ("the Client").

1. Scope. The Provider delivers to the Client the services described as "{{deal.title}}".

2. Fees. The Client pays the Provider {{deal.value}} for these services, against the Provider's ` +
		`invoice and within its payment terms.

3. Term. The agreement starts on {{date}} and runs until the services are delivered and paid ` +
		`for, unless both parties agree in writing to end or extend it.

4. Confidentiality. Each party keeps the other's confidential information confidential and ` +
		`uses it only to perform this agreement.

5. Entire agreement. This document and the invoice it refers to are the whole agreement ` +
		`between the parties about these services.

Signed for {{seller.name}}:


Signed for {{client.company}} by {{client.name}}:
`,
}

// ContractTemplate is an org's contract template: a title and a body with placeholders.
type ContractTemplate struct {
	Title string
	Body  string
}

// ContractInput is a template and the values of its placeholders. Values is keyed by the
// placeholder's name ("client.name"); {{date}} is Date as an ISO 8601 calendar date unless Values
// holds "date". Date is also the PDF's creation date.
type ContractInput struct {
	Title  string
	Body   string
	Values map[string]string
	Date   time.Time
}

// CheckTemplate refuses a template that cannot be saved, with an apperr.Invalid whose field
// errors name the field ("title" or "body") and the placeholder: an unknown placeholder
// ({{client.phone}}), an unclosed one ({{ client.name), an empty title or body, or one over its
// length limit. The API calls it when a template is saved, so a stored template always renders.
func CheckTemplate(title, body string) error {
	var fields []apperr.FieldError
	for _, f := range []struct {
		name, text string
		max        int
	}{{"title", title, MaxTitleLength}, {"body", body, MaxBodyLength}} {
		if strings.TrimSpace(f.text) == "" {
			fields = append(fields, apperr.FieldError{Field: f.name, Message: "is required"})
			continue
		}
		if n := utf8.RuneCountInString(f.text); n > f.max {
			fields = append(fields, apperr.FieldError{Field: f.name, Message: fmt.Sprintf("is %d characters long, at most %d", n, f.max)})
			continue
		}
		for _, tok := range scan(f.text) {
			switch {
			case tok.unclosed:
				fields = append(fields, apperr.FieldError{Field: f.name,
					Message: fmt.Sprintf("placeholder %q is not closed with }}", tok.raw)})
			case !slices.Contains(Placeholders, tok.name):
				fields = append(fields, apperr.FieldError{Field: f.name,
					Message: fmt.Sprintf("unknown placeholder %s; known: {{%s}}", tok.raw, strings.Join(Placeholders, "}}, {{"))})
			}
		}
	}
	if len(fields) > 0 {
		return apperr.Errorf(apperr.Invalid, "the contract template is invalid").WithFields(fields...)
	}
	return nil
}

// Contract renders the template of in with its values filled in: the title as the heading, the
// body's paragraphs below it. It never refuses a template (CheckTemplate does, when it is saved):
// an unknown or unclosed placeholder is rendered as written, a known one without a value as
// nothing. Equal input gives equal bytes (the PDF's creation date is Date).
func Contract(in ContractInput) ([]byte, error) {
	if in.Date.IsZero() {
		return nil, apperr.Errorf(apperr.Invalid, "the contract cannot be rendered").
			WithFields(apperr.FieldError{Field: "date", Message: "is required"})
	}
	values := make(map[string]string, len(in.Values)+1)
	values[PlaceholderDate] = in.Date.Format(dateLayout)
	for k, v := range in.Values {
		values[k] = v
	}
	title := strings.TrimSpace(fill(in.Title, values))
	if title == "" {
		title = "Contract"
	}
	p := newPDF(title, in.Date)
	heading(p, title, 16)
	p.Ln(2)
	para(p, fill(in.Body, values))
	return output(p)
}

// token is one placeholder found in a template: raw is its text as written, name its trimmed
// name, [start, end) its byte range.
type token struct {
	raw, name  string
	start, end int
	unclosed   bool
}

// scan returns the placeholders of text in order. A "{{" without a "}}" before the next "{{" or
// the end of the line is unclosed; its raw text runs to the end of the line.
func scan(text string) []token {
	var out []token
	for i := 0; ; {
		open := strings.Index(text[i:], "{{")
		if open < 0 {
			return out
		}
		open += i
		rest := text[open+2:]
		limit := len(rest)
		if j := strings.IndexAny(rest, "\n"); j >= 0 {
			limit = j
		}
		if j := strings.Index(rest, "{{"); j >= 0 && j < limit {
			limit = j
		}
		closeAt := strings.Index(rest[:limit], "}}")
		if closeAt < 0 {
			out = append(out, token{raw: text[open : open+2+limit], start: open, end: open + 2 + limit, unclosed: true})
			i = open + 2 + limit
			continue
		}
		end := open + 2 + closeAt + 2
		out = append(out, token{raw: text[open:end], name: strings.TrimSpace(rest[:closeAt]), start: open, end: end})
		i = end
	}
}

// fill replaces every known placeholder of text with its value (empty when values has none);
// anything else is kept as written.
func fill(text string, values map[string]string) string {
	toks := scan(text)
	if len(toks) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, tok := range toks {
		if tok.unclosed || !slices.Contains(Placeholders, tok.name) {
			continue
		}
		b.WriteString(text[last:tok.start])
		b.WriteString(values[tok.name])
		last = tok.end
	}
	b.WriteString(text[last:])
	return b.String()
}
