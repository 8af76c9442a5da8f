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

// span is a half-open interval [From, To) of time; From equal to To is empty.
type span struct{ From, To time.Time }

// cut cuts w at UTC midnights for the day summaries: the whole days [days.From, days.To) are read
// from a summary, the spans of plus are counted from the rows and added, those of minus counted
// and subtracted. A window's partial edge day is either counted from its rows (its part inside
// the window) or read whole from the summary less the rows of its part outside the window,
// whichever part is shorter; so an edge costs a scan of at most half a day, and the end of a
// window that reaches up to now costs almost nothing (no row is created after now). Without a
// whole day inside it, the window is counted from its rows.
func (w Window) cut() (days span, plus, minus [2]span) {
	const day = 24 * time.Hour
	empty := span{w.To, w.To}
	plus, minus = [2]span{empty, empty}, [2]span{empty, empty}
	firstDay := w.From.Truncate(day)
	if firstDay.Before(w.From) {
		firstDay = firstDay.Add(day)
	}
	endDay := w.To.Truncate(day)
	if !firstDay.Before(endDay) {
		plus[0] = span{w.From, w.To}
		return span{firstDay, firstDay}, plus, minus
	}
	days = span{firstDay, endDay}
	if firstDay.Sub(w.From) <= w.From.Sub(firstDay.Add(-day)) {
		plus[0] = span{w.From, firstDay}
	} else {
		days.From = firstDay.Add(-day)
		minus[0] = span{days.From, w.From}
	}
	if w.To.Sub(endDay) <= endDay.Add(day).Sub(w.To) {
		plus[1] = span{endDay, w.To}
	} else {
		days.To = endDay.Add(day)
		minus[1] = span{w.To, days.To}
	}
	return days, plus, minus
}

// cutArgs are the arguments $2 to $11 of a windowed count (queries.go): the two spans to add,
// the whole days, the two spans to subtract.
func (w Window) cutArgs() []any {
	days, plus, minus := w.cut()
	return []any{plus[0].From, plus[0].To, days.From, days.To, plus[1].From, plus[1].To,
		minus[0].From, minus[0].To, minus[1].From, minus[1].To}
}
