package document

import (
	"bytes"
	"fmt"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// Page geometry in millimetres (A4 portrait).
const (
	margin    = 20.0
	pageWidth = 210.0
	bodyWidth = pageWidth - 2*margin
	lineH     = 5.5
)

// newPDF returns an A4 document whose every varying part is fixed by the caller: the creation
// and modification dates are at (never the clock), the resource catalogs are sorted (never map
// order) and the producer names only the library, so equal input renders to equal bytes. Every
// page has a footer "<title> - page N of M".
//
// The content streams are not compressed: fpdf builds a new flate writer (about 800 KB of
// buffers) per stream, which made rendering three times slower and fifteen times hungrier for
// memory, to save two or three kilobytes of a document of a few.
func newPDF(title string, at time.Time) *fpdf.Fpdf {
	p := fpdf.New("P", "mm", "A4", "")
	p.SetCreationDate(at)
	p.SetModificationDate(at)
	p.SetCatalogSort(true)
	p.SetCompression(false)
	p.SetTitle(winText(title), false)
	p.SetMargins(margin, margin, margin)
	p.SetAutoPageBreak(true, margin)
	p.AliasNbPages("")
	footer := winLine(title)
	p.SetFooterFunc(func() {
		p.SetY(-margin + 5)
		p.SetFont("Helvetica", "", 8)
		p.SetTextColor(100, 100, 100)
		p.CellFormat(bodyWidth, 5, fmt.Sprintf("%s - page %d of {nb}", footer, p.PageNo()), "", 0, "C", false, 0, "")
		p.SetTextColor(0, 0, 0)
	})
	p.AddPage()
	return p
}

// heading writes a bold line of size pt.
func heading(p *fpdf.Fpdf, text string, pt float64) {
	p.SetFont("Helvetica", "B", pt)
	p.MultiCell(bodyWidth, pt*0.5, winText(text), "", "L", false)
	p.Ln(2)
}

// label writes a small grey caption above a block.
func label(p *fpdf.Fpdf, text string) {
	p.SetFont("Helvetica", "B", 9)
	p.SetTextColor(100, 100, 100)
	p.CellFormat(bodyWidth, lineH, winText(text), "", 1, "L", false, 0, "")
	p.SetTextColor(0, 0, 0)
}

// para writes text (it may hold newlines) wrapped to the body width; empty text writes nothing.
func para(p *fpdf.Fpdf, text string) {
	if text == "" {
		return
	}
	p.SetFont("Helvetica", "", 11)
	p.MultiCell(bodyWidth, lineH, winText(text), "", "L", false)
}

// output returns the finished document's bytes.
func output(p *fpdf.Fpdf) ([]byte, error) {
	var buf bytes.Buffer
	if err := p.Output(&buf); err != nil {
		return nil, fmt.Errorf("render pdf: %w", err)
	}
	return buf.Bytes(), nil
}
