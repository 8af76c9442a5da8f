// Package pdftest reads the PDFs the system writes back in tests. It is a test helper: import it
// from _test.go files only (depguard).
package pdftest

import (
	"bytes"
	"compress/zlib"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"
)

// Text requires doc to be a PDF and returns its text: pdftotext's (Debian's poppler-utils, which
// scripts/test.sh installs) in -layout mode where it is present, else GoText's.
func Text(t testing.TB, doc []byte) string {
	t.Helper()
	require.True(t, bytes.HasPrefix(doc, []byte("%PDF-")), "a PDF")
	if _, err := exec.LookPath("pdftotext"); err != nil {
		return GoText(t, doc)
	}
	// -layout keeps a label and its value on one line together.
	cmd := exec.CommandContext(t.Context(), "pdftotext", "-layout", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(doc)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "pdftotext: %s", stderr.String())
	return string(out)
}

var (
	streamStart = regexp.MustCompile(`<<([^<>]*?/Length (\d+)[^<>]*)>>\s*stream\r?\n`)
	textOp      = regexp.MustCompile(`\((?:\\.|[^\\)])*\)\s*Tj`)
)

// GoText is a small text extraction of the PDFs fpdf writes with its core fonts, for machines
// without pdftotext: it inflates every content stream (the /Length bytes after "stream"), takes
// the string operand of every Tj operator in order, undoes the string escapes and decodes
// Windows-1252 to UTF-8. Every Tj is a cell (a table's label, then its value), so the cells are
// joined with spaces, and every run of whitespace is one space.
func GoText(t testing.TB, pdf []byte) string {
	t.Helper()
	var cells []string
	for _, m := range streamStart.FindAllSubmatchIndex(pdf, -1) {
		dict := string(pdf[m[2]:m[3]])
		n, err := strconv.Atoi(string(pdf[m[4]:m[5]]))
		require.NoError(t, err)
		data := pdf[m[1] : m[1]+n]
		if strings.Contains(dict, "/FlateDecode") {
			r, err := zlib.NewReader(bytes.NewReader(data))
			require.NoError(t, err)
			data, err = io.ReadAll(r)
			require.NoError(t, err)
		}
		for _, op := range textOp.FindAll(data, -1) {
			s := op[:bytes.LastIndexByte(op, ')')+1]
			raw := unescape(s[1 : len(s)-1])
			utf, err := charmap.Windows1252.NewDecoder().Bytes(raw)
			require.NoError(t, err)
			cells = append(cells, string(utf))
		}
	}
	return Squash(strings.Join(cells, " "))
}

// unescape undoes a PDF literal string's escapes (PDF 32000-1 7.3.4.2).
func unescape(s []byte) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			out = append(out, s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case '\n':
		default:
			if c >= '0' && c <= '7' {
				v, j := 0, i
				for ; j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7'; j++ {
					v = v*8 + int(s[j]-'0')
				}
				out = append(out, byte(v))
				i = j - 1
				continue
			}
			out = append(out, c)
		}
	}
	return out
}

// Squash collapses every run of whitespace to one space.
func Squash(s string) string { return strings.Join(strings.Fields(s), " ") }
