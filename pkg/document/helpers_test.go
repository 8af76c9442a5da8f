package document_test

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/document/pdftest"
)

// extractor returns the text of a PDF, whitespace collapsed to single spaces.
type extractor func(t *testing.T, pdf []byte) string

// extractors returns the ways tests read a PDF back, each of which every content test asserts
// with: "default" is pdftotext (Debian's poppler-utils) when it is installed and the Go
// extraction (pdftest.GoText) otherwise; "go" is always the Go extraction, so both run where
// pdftotext is present and neither is ever skipped.
func extractors() map[string]extractor {
	def := extractor(goText)
	if _, err := exec.LookPath("pdftotext"); err == nil {
		def = popplerText
	}
	return map[string]extractor{"default": def, "go": goText}
}

// goText is pdftest.GoText.
func goText(t *testing.T, pdf []byte) string { return pdftest.GoText(t, pdf) }

// popplerText runs pdftotext over pdf, in -layout mode so that a label and its value on one
// line stay together.
func popplerText(t *testing.T, pdf []byte) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "pdftotext", "-layout", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "pdftotext: %s", stderr.String())
	return pdftest.Squash(string(out))
}
