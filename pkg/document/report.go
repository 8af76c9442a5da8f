package document

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/go-analyze/charts"
)

// ReportInput is everything a report PDF shows: a title, the period, the narrative, a table of
// figures and the charts. The dates are shown as calendar dates in their own location.
type ReportInput struct {
	Title string
	// PeriodStart and PeriodEnd bound the reported period, [start, end); the document shows the
	// last day as PeriodEnd's previous day.
	PeriodStart, PeriodEnd time.Time
	// Author names who wrote the narrative (a model's name, or "builtin").
	Author     string
	Summary    string
	Highlights []string
	// Figures are the rows of the figures table: a label and its value as text.
	Figures [][2]string
	// Charts are drawn after the figures, each as a bar chart.
	Charts []Chart
}

// Chart is one bar chart: a bar per label for each series (one series is a plain bar chart,
// several are grouped bars with a legend).
type Chart struct {
	Title  string
	Labels []string
	Series []Series
}

// Series is one named row of values of a Chart, one value per label.
type Series struct {
	Name   string
	Values []float64
}

// Chart images are rendered at twice the size they are shown at, so that they stay sharp in
// print.
const (
	chartPxW   = 1000
	chartPxH   = 500
	chartShowW = bodyWidth
	chartShowH = bodyWidth * chartPxH / chartPxW
)

// Report renders in as a PDF: title, period, the narrative and its highlights, the figures as a
// two-column table, then each chart as a PNG image (go-analyze/charts) on its own line. Equal
// input gives equal bytes: the PDF's dates are PeriodEnd, and the charts are drawn without any
// clock or randomness.
func Report(in ReportInput) ([]byte, error) {
	if strings.TrimSpace(in.Title) == "" || !in.PeriodEnd.After(in.PeriodStart) {
		return nil, errors.New("render report: a title and a period are required")
	}
	p := newPDF(in.Title, in.PeriodEnd)
	heading(p, in.Title, 20)
	p.SetFont("Helvetica", "", 11)
	last := in.PeriodEnd.AddDate(0, 0, -1)
	para(p, fmt.Sprintf("Period: %s to %s", in.PeriodStart.Format(dateLayout), last.Format(dateLayout)))
	if in.Author != "" {
		para(p, "Narrative written by: "+in.Author)
	}
	p.Ln(4)

	label(p, "Summary")
	para(p, in.Summary)
	p.Ln(3)
	if len(in.Highlights) > 0 {
		label(p, "Highlights")
		for _, h := range in.Highlights {
			para(p, "- "+h)
		}
		p.Ln(3)
	}

	label(p, "Figures")
	valueW := 70.0
	for i, row := range in.Figures {
		p.SetFillColor(245, 245, 245)
		fill := i%2 == 0
		p.SetFont("Helvetica", "", 10)
		p.CellFormat(bodyWidth-valueW, 6, winLine(row[0]), "", 0, "L", fill, 0, "")
		p.SetFont("Helvetica", "B", 10)
		p.CellFormat(valueW, 6, winLine(row[1]), "", 1, "R", fill, 0, "")
	}
	p.Ln(4)

	for i, c := range in.Charts {
		// fpdf writes the image objects in the order of their pixel widths, ties in map order:
		// each chart one pixel narrower than the one before keeps that order, and so the bytes,
		// fixed (the difference is invisible at the shown size).
		png, err := chartPNG(c, chartPxW-i)
		if err != nil {
			return nil, fmt.Errorf("render report chart %q: %w", c.Title, err)
		}
		name := "chart" + strconv.Itoa(i)
		p.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(png))
		if p.GetY()+chartShowH > 297-margin {
			p.AddPage()
		}
		p.ImageOptions(name, margin, p.GetY(), chartShowW, chartShowH, true, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	}
	if err := p.Error(); err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	return output(p)
}

// chartPNG draws c as a bar chart in PNG, width pixels wide.
func chartPNG(c Chart, width int) ([]byte, error) {
	if len(c.Labels) == 0 || len(c.Series) == 0 {
		return nil, errors.New("a chart needs labels and series")
	}
	values := make([][]float64, len(c.Series))
	names := make([]string, len(c.Series))
	for i, s := range c.Series {
		if len(s.Values) != len(c.Labels) {
			return nil, fmt.Errorf("series %q has %d values for %d labels", s.Name, len(s.Values), len(c.Labels))
		}
		values[i], names[i] = s.Values, s.Name
	}
	opts := []charts.OptionFunc{
		charts.PNGOutputOptionFunc(),
		charts.DimensionsOptionFunc(width, chartPxH),
		charts.ThemeNameOptionFunc("light"),
		charts.TitleTextOptionFunc(c.Title),
		// Every label shown, and bars measured from zero: a count of 1 is a bar, not the axis.
		charts.XAxisOptionFunc(charts.XAxisOption{Labels: c.Labels, LabelCount: len(c.Labels)}),
		charts.YAxisOptionFunc(charts.YAxisOption{Min: charts.Ptr(0.0)}),
		charts.SeriesShowLabel(true),
	}
	if len(names) > 1 {
		opts = append(opts, charts.LegendLabelsOptionFunc(names))
	}
	pt, err := charts.BarRender(values, opts...)
	if err != nil {
		return nil, fmt.Errorf("draw: %w", err)
	}
	png, err := pt.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return png, nil
}
