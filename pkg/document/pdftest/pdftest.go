// Package pdftest reads the stored PDFs of the money flow back in tests. It is a test helper:
// import it from _test.go files only (depguard).
package pdftest

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// Text requires doc to be a PDF and returns its text: pdftotext's (Debian's poppler-utils, which
// scripts/test.sh installs) in -layout mode where it is present, else the PDF itself, whose
// content streams pkg/document leaves uncompressed, so the fields still read as text.
func Text(t testing.TB, doc []byte) string {
	t.Helper()
	require.True(t, bytes.HasPrefix(doc, []byte("%PDF-")), "a PDF")
	if _, err := exec.LookPath("pdftotext"); err != nil {
		return string(doc)
	}
	cmd := exec.CommandContext(t.Context(), "pdftotext", "-layout", "-", "-")
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.Output()
	require.NoError(t, err)
	return string(out)
}
