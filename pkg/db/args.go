package db

import "strconv"

// Args collects the arguments of a statement built piece by piece and names each one's
// placeholder ($n), so that conditions can be added in any order without counting by hand.
type Args []any

// Add appends v and returns its placeholder.
func (a *Args) Add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// Marks collects the arguments of a statement for gorm, whose placeholder is ?: Add appends v
// and returns "?".
type Marks []any

// Add appends v and returns its placeholder.
func (m *Marks) Add(v any) string {
	*m = append(*m, v)
	return "?"
}
