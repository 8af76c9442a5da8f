package analytics

import (
	"time"

	"example.com/crm/pkg/apperr"
)

// DefaultSpan is the length of the window when the request names neither end.
const DefaultSpan = 90 * 24 * time.Hour

// Window is the half-open interval [From, To) of a figure, in UTC.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// NewWindow completes a requested window: a missing To is now, a missing From is To minus
// DefaultSpan. A From after To is apperr.Invalid on "from"; From equal to To is an empty window.
func NewWindow(from, to *time.Time, now time.Time) (Window, error) {
	w := Window{To: now.UTC()}
	if to != nil {
		w.To = to.UTC()
	}
	w.From = w.To.Add(-DefaultSpan)
	if from != nil {
		w.From = from.UTC()
	}
	if w.From.After(w.To) {
		return Window{}, apperr.Errorf(apperr.Invalid, "from must not be after to").
			WithFields(apperr.FieldError{Field: "from", Message: "must not be after to"})
	}
	return w, nil
}

// split cuts w at UTC midnights: the whole days [firstDay, endDay) inside it, and the two
// partial spans before and after them. Without a whole day, the first span is the whole window
// and the second is empty (firstDay equals endDay).
func (w Window) split() (head, tail Window, firstDay, endDay time.Time) {
	firstDay = w.From.Truncate(24 * time.Hour)
	if firstDay.Before(w.From) {
		firstDay = firstDay.Add(24 * time.Hour)
	}
	endDay = w.To.Truncate(24 * time.Hour)
	if !firstDay.Before(endDay) {
		return w, Window{From: w.To, To: w.To}, firstDay, firstDay
	}
	return Window{From: w.From, To: firstDay}, Window{From: endDay, To: w.To}, firstDay, endDay
}
