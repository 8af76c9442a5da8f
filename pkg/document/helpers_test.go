package document_test

import (
	"bytes"
	"compress/zlib"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"codeberg.org/go-pdf/fpdf"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"
)

// extractor returns the text of a PDF, whitespace collapsed to single spaces.
type extractor func(t *testing.T, pdf []byte) string

// extractors returns the ways tests read a PDF back, each of which every content test asserts
// with: "default" is pdftotext (Debian's poppler-utils) when it is installed and the Go
// extraction below otherwise; "go" is always the Go extraction, so both run where pdftotext is
// present and neither is ever skipped.
func extractors() map[string]extractor {
	def := extractor(goText)
	if _, err := exec.LookPath("pdftotext"); err == nil {
		def = popplerText
	}
	return map[string]extractor{"default": def, "go": goText}
}

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
	return squash(string(out))
}

var (
	streamStart = regexp.MustCompile(`<<([^<>]*?/Length (\d+)[^<>]*)>>\s*stream\r?\n`)
	textOp      = regexp.MustCompile(`\((?:\\.|[^\\)])*\)\s*Tj`)
)

// goText is a small text extraction of the PDFs fpdf writes with its core fonts: it inflates
// every content stream (the /Length bytes after "stream"), takes the string operand of every Tj
// operator, undoes the string escapes and decodes Windows-1252 to UTF-8. Every Tj is a cell, so
// the cells are joined with spaces.
func goText(t *testing.T, pdf []byte) string {
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
	return squash(strings.Join(cells, " "))
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

// squash collapses every run of whitespace to one space.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestGoTextReadsCompressedStreams checks the Go extraction on what it must handle beyond the
// documents of this package: a flate-compressed content stream and escaped bytes.
func TestGoTextReadsCompressedStreams(t *testing.T) {
	t.Parallel()
	p := fpdf.New("P", "mm", "A4", "")
	p.SetCompression(true)
	p.AddPage()
	p.SetFont("Helvetica", "", 12)
	p.Cell(100, 10, "Flate (inflated) \\ ok \xe9")
	var buf bytes.Buffer
	require.NoError(t, p.Output(&buf))
	require.Contains(t, buf.String(), "/FlateDecode")
	require.Equal(t, `Flate (inflated) \ ok é`, goText(t, buf.Bytes()))
	require.Equal(t, []byte("a\nb(c)\x07d"), unescape([]byte(`a\nb\(c\)\007d`)))
}
