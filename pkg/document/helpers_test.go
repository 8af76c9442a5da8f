package document_test

import (
	"testing"

	"example.com/crm/pkg/document/pdftest"
)

// extractor returns the text of a PDF, whitespace collapsed to single spaces.
type extractor func(t testing.TB, pdf []byte) string

// extractors returns the ways tests read a PDF back, each of which every content test asserts
// with: "default" is pdftest.Text (pdftotext, Debian's poppler-utils, when it is installed, and
// the Go extraction otherwise); "go" is always the Go extraction (pdftest.GoText), so both run
// where pdftotext is present and neither is ever skipped.
func extractors() map[string]extractor {
	return map[string]extractor{
		"default": func(t testing.TB, pdf []byte) string { return pdftest.Squash(pdftest.Text(t, pdf)) },
		"go":      pdftest.GoText,
	}
}
