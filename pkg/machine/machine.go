// Package machine holds a status machine as data: the statuses each status may move to. The
// domains whose records have a status (invoices, contracts, clients) declare theirs as a
// Machine and answer a refused move with its Refuse, so that every such machine checks and
// refuses the same way (apperr.Conflict with Extra "currentStatus" and "allowed").
//
// It imports apperr only; every domain package may import it.
package machine

import (
	"slices"

	"example.com/crm/pkg/apperr"
)

// Machine maps each status to the statuses it may move to; a final status maps to an empty list.
// The keys are the valid statuses.
type Machine[S ~string] map[S][]S

// Valid reports whether s is a status of the machine.
func (m Machine[S]) Valid(s S) bool {
	_, ok := m[s]
	return ok
}

// Allowed are the statuses from may move to (none, never nil, for a final or unknown one).
func (m Machine[S]) Allowed(from S) []S {
	out := m[from]
	if out == nil {
		return []S{}
	}
	return out
}

// CanMove reports whether from may move to to.
func (m Machine[S]) CanMove(from, to S) bool { return slices.Contains(m[from], to) }

// Check returns nil when from may move to to, else apperr.Conflict "<what> that is <from>
// cannot become <to>" (what is the record with its article: "an invoice") with Extra
// "currentStatus" (from) and "allowed" (Allowed(from)).
func (m Machine[S]) Check(what string, from, to S) error {
	if m.CanMove(from, to) {
		return nil
	}
	return apperr.Errorf(apperr.Conflict, "%s that is %s cannot become %s", what, from, to).
		With("currentStatus", from).With("allowed", m.Allowed(from))
}
