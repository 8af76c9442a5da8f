package document_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/document"
)

func sampleContract() document.ContractInput {
	return document.ContractInput{
		Title: document.DefaultContractTemplate.Title,
		Body:  document.DefaultContractTemplate.Body,
		Values: map[string]string{
			document.PlaceholderClientName:    "Zoë O'Brien",
			document.PlaceholderClientCompany: "Globex Ltd",
			document.PlaceholderDealTitle:     "Website relaunch",
			document.PlaceholderDealValue:     "EUR 12,345.50",
			document.PlaceholderSellerName:    "Acme Consulting GmbH",
		},
		Date: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC),
	}
}

// TestCheckTemplate accepts the default and every known placeholder (with or without inner
// spaces) and refuses an unknown, unclosed or empty one, naming the field and the placeholder.
func TestCheckTemplate(t *testing.T) {
	t.Parallel()
	require.NoError(t, document.CheckTemplate(document.DefaultContractTemplate.Title, document.DefaultContractTemplate.Body))
	all := "{{" + strings.Join(document.Placeholders, "}} {{") + "}} {{ client.name }} }} stray {"
	require.NoError(t, document.CheckTemplate("For {{client.company}}", all))

	for name, tc := range map[string]struct {
		title, body string
		field, want string
	}{
		"unknown in body":   {"T", "Dear {{client.phone}},", "body", "{{client.phone}}"},
		"unknown in title":  {"For {{lead.name}}", "body", "title", "{{lead.name}}"},
		"unclosed":          {"T", "Dear {{ client.name, hello", "body", `"{{ client.name, hello"`},
		"unclosed at line":  {"T", "Dear {{client.name\n}}", "body", `"{{client.name"`},
		"nested opening":    {"T", "{{client.{{date}}}}", "body", `"{{client."`},
		"empty placeholder": {"T", "Hi {{}}", "body", "{{}}"},
		"empty body":        {"T", " \n", "body", "is required"},
		"empty title":       {"", "b", "title", "is required"},
		"long title":        {strings.Repeat("x", document.MaxTitleLength+1), "b", "title", "at most 200"},
		"long body":         {"T", strings.Repeat("é", document.MaxBodyLength+1), "body", "at most 50000"},
	} {
		err := document.CheckTemplate(tc.title, tc.body)
		e, ok := apperr.As(err)
		require.True(t, ok, name)
		require.Equal(t, apperr.Invalid, e.Code, name)
		require.Len(t, e.Fields, 1, name)
		require.Equal(t, tc.field, e.Fields[0].Field, name)
		require.Contains(t, e.Fields[0].Message, tc.want, name)
	}
	require.NoError(t, document.CheckTemplate("T", strings.Repeat("é", document.MaxBodyLength)))
}

// TestContractShowsValues reads the default template back filled in, with each extractor; a
// known placeholder without a value renders empty and an unknown one as written (render time
// never refuses a template).
func TestContractShowsValues(t *testing.T) {
	t.Parallel()
	pdf, err := document.Contract(sampleContract())
	require.NoError(t, err)
	for how, extract := range extractors() {
		text := extract(t, pdf)
		for _, w := range []string{"Services agreement: Website relaunch", "made on 2026-03-14 between Acme Consulting GmbH",
			"Globex Ltd, represented by Zoë O'Brien", `described as "Website relaunch"`, "EUR 12,345.50",
			"Signed for Globex Ltd by Zoë O'Brien:"} {
			require.Contains(t, text, w, "read with %s: %q", how, text)
		}
		require.NotContains(t, text, "{{", how)
	}

	in := sampleContract()
	in.Title = ""
	in.Body = "Hello {{client.name}} of {{ client.company }}, {{unknown}} {{deal.value"
	in.Values = map[string]string{document.PlaceholderClientName: "{{date}}", document.PlaceholderDate: "14 March 2026"}
	pdf, err = document.Contract(in)
	require.NoError(t, err)
	for how, extract := range extractors() {
		require.Contains(t, extract(t, pdf), "Contract Hello {{date}} of , {{unknown}} {{deal.value", how)
	}
}

// TestContractRunsOverPages renders a long body over several numbered pages.
func TestContractRunsOverPages(t *testing.T) {
	t.Parallel()
	in := sampleContract()
	in.Body = strings.Repeat(in.Body, 12)
	pdf, err := document.Contract(in)
	require.NoError(t, err)
	for how, extract := range extractors() {
		text := extract(t, pdf)
		require.Contains(t, text, "Services agreement: Website relaunch - page 1 of ", how)
		require.Contains(t, text, "Services agreement: Website relaunch - page 2 of ", how)
		require.NotContains(t, text, "{nb}", how)
	}
}

// TestContractIsDeterministic renders the same input to the same bytes, dated by Date.
func TestContractIsDeterministic(t *testing.T) {
	t.Parallel()
	first, err := document.Contract(sampleContract())
	require.NoError(t, err)
	again, err := document.Contract(sampleContract())
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Contains(t, string(first), "/CreationDate (D:20260314093000)")

	in := sampleContract()
	in.Date = time.Time{}
	_, err = document.Contract(in)
	require.True(t, apperr.Is(err, apperr.Invalid))
}

// BenchmarkContract renders the default template filled in per iteration.
func BenchmarkContract(b *testing.B) {
	in := sampleContract()
	for b.Loop() {
		if _, err := document.Contract(in); err != nil {
			b.Fatal(err)
		}
	}
}
