package pdftest

import (
	"bytes"
	"testing"

	"codeberg.org/go-pdf/fpdf"
	"github.com/stretchr/testify/require"
)

// TestGoTextReadsCompressedStreams checks the Go extraction on what it must handle beyond the
// documents the system writes: a flate-compressed content stream and escaped bytes.
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
	require.Equal(t, `Flate (inflated) \ ok é`, GoText(t, buf.Bytes()))
	require.Equal(t, []byte("a\nb(c)\x07d"), unescape([]byte(`a\nb\(c\)\007d`)))
}
