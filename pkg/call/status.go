package call

import "slices"

// Status is a call's status (API.md "States").
type Status string

// The statuses. Completed, NoShow and Cancelled are final.
const (
	StatusBooked    Status = "booked"
	StatusCompleted Status = "completed"
	StatusNoShow    Status = "no_show"
	StatusCancelled Status = "cancelled"
)

// Statuses lists every status; Allowed answers in this order.
var Statuses = []Status{StatusBooked, StatusCompleted, StatusNoShow, StatusCancelled}

// Valid reports whether s is a status.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Final reports whether s is a status no call leaves.
func (s Status) Final() bool {
	return s == StatusCompleted || s == StatusNoShow || s == StatusCancelled
}

// Allowed returns the statuses a call in status from may move to: booked -> completed, no_show,
// cancelled; none from a final or unknown status (an empty, non-nil slice).
func Allowed(from Status) []Status {
	if from != StatusBooked {
		return []Status{}
	}
	return []Status{StatusCompleted, StatusNoShow, StatusCancelled}
}

// CanMove reports whether a call may move from one status to another. Staying is not a move.
func CanMove(from, to Status) bool { return slices.Contains(Allowed(from), to) }
