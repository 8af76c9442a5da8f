package page

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Args collects the arguments of a statement and returns each one's placeholder: db.Args ($n)
// for statements run on pgx or database/sql, db.Marks (?) for gorm's.
type Args interface {
	Add(v any) string
}

// Key is one column of a keyset: its SQL name, its name in the cursor, the SQL type its cursor
// value is bound as, and how a row's value is read and a cursor's value checked.
type Key[T any] struct {
	col, name, cast string
	// nullsLow: the column holds NULL, which sorts below every value (NULLS FIRST ascending,
	// NULLS LAST descending); only the first key of a keyset may.
	nullsLow bool
	// of is the row's value, nil for SQL NULL (then the cursor leaves the name out).
	of func(T) any
	// parse reads a cursor's value, false for one this key never writes.
	parse func(json.RawMessage) (any, bool)
}

// Time is a timestamptz column; a cursor's zero time is refused.
func Time[T any](col, name string, of func(T) time.Time) Key[T] {
	return Key[T]{col: col, name: name, cast: "timestamptz", of: func(r T) any { return of(r) },
		parse: func(b json.RawMessage) (any, bool) {
			var t time.Time
			return t, json.Unmarshal(b, &t) == nil && !t.IsZero()
		}}
}

// UUID is a uuid column (an id); a cursor's nil UUID is refused.
func UUID[T any](col, name string, of func(T) uuid.UUID) Key[T] {
	return Key[T]{col: col, name: name, cast: "uuid", of: func(r T) any { return of(r) },
		parse: func(b json.RawMessage) (any, bool) {
			var id uuid.UUID
			return id, json.Unmarshal(b, &id) == nil && id != uuid.Nil
		}}
}

// Serial is a bigserial id column; a cursor's id below 1 is refused.
func Serial[T any](col, name string, of func(T) int64) Key[T] {
	return Key[T]{col: col, name: name, cast: "int8", of: func(r T) any { return of(r) },
		parse: func(b json.RawMessage) (any, bool) {
			var n int64
			return n, json.Unmarshal(b, &n) == nil && n > 0
		}}
}

// Int64 is an int8 column of any value (an amount).
func Int64[T any](col, name string, of func(T) int64) Key[T] {
	return Key[T]{col: col, name: name, cast: "int8", of: func(r T) any { return of(r) },
		parse: func(b json.RawMessage) (any, bool) {
			var n int64
			return n, json.Unmarshal(b, &n) == nil
		}}
}

// NullInt is a nullable int column (a score), NULL sorting below every value.
func NullInt[T any](col, name string, of func(T) *int) Key[T] {
	return Key[T]{col: col, name: name, cast: "int", nullsLow: true,
		of: func(r T) any {
			if p := of(r); p != nil {
				return *p
			}
			return nil
		},
		parse: func(b json.RawMessage) (any, bool) {
			var n int
			return n, json.Unmarshal(b, &n) == nil
		}}
}

// Keyset is one order of a list and its cursors: rows ordered by its keys, all ascending or all
// descending, the last key unique (the id), so that a page starts after the position of the last
// row of the page before, however deep, and rows inserted meanwhile neither repeat nor vanish. A
// cursor is a JSON object of the keys' names and the last row's values, plus "s", the order's
// name, when the list has several orders (Sorted).
type Keyset[T any] struct {
	keys  []Key[T]
	desc  bool
	sort  string
	bound bool
}

// Asc is the ascending order of keys.
func Asc[T any](keys ...Key[T]) Keyset[T] { return newKeyset(false, keys) }

// Desc is the descending order of keys.
func Desc[T any](keys ...Key[T]) Keyset[T] { return newKeyset(true, keys) }

func newKeyset[T any](desc bool, keys []Key[T]) Keyset[T] {
	if len(keys) == 0 {
		panic("page: a keyset without keys")
	}
	if keys[0].nullsLow && len(keys) == 1 {
		panic(fmt.Sprintf("page: nullable key %s without a unique key after it", keys[0].col))
	}
	for _, k := range keys[1:] {
		if k.nullsLow {
			panic(fmt.Sprintf("page: nullable key %s after the first", k.col))
		}
	}
	return Keyset[T]{keys: keys, desc: desc}
}

// Sorted names the order in its cursors, for a list with several orders: the cursor of one is
// refused by another.
func (k Keyset[T]) Sorted(name string) Keyset[T] {
	k.sort = name
	return k
}

// Sorts is the keysets of a list with several orders, each Sorted by its name.
func Sorts[S ~string, T any](orders map[S]Keyset[T]) map[S]Keyset[T] {
	for name, k := range orders {
		orders[name] = k.Sorted(string(name))
	}
	return orders
}

// Bounded makes After bound the first column on its own as well, for an index that holds the
// first column but not the rest: the bound limits the index scan, the row comparison filters.
func (k Keyset[T]) Bounded() Keyset[T] {
	k.bound = true
	return k
}

// Order is the ORDER BY list.
func (k Keyset[T]) Order() string {
	dir := " ASC"
	if k.desc {
		dir = " DESC"
	}
	parts := make([]string, len(k.keys))
	for i, key := range k.keys {
		parts[i] = key.col + dir
		switch {
		case key.nullsLow && k.desc:
			parts[i] += " NULLS LAST"
		case key.nullsLow:
			parts[i] += " NULLS FIRST"
		}
	}
	return strings.Join(parts, ", ")
}

// OrderLimit is "ORDER BY ... LIMIT n" for the rows of a page of limit rows: one more than limit,
// which tells Page whether another page follows.
func (k Keyset[T]) OrderLimit(limit int, a Args) string {
	return "ORDER BY " + k.Order() + " LIMIT " + a.Add(limit+1)
}

// Tail ends a statement whose WHERE clause is written (a list's filters): " AND" the condition
// after cursor (none for the first page), then OrderLimit; its arguments are added to a. A bad
// cursor is Position's error.
func (k Keyset[T]) Tail(cursor string, limit int, a Args) (string, error) {
	pos, err := k.Position(cursor)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if after := pos.After(a); after != "" {
		b.WriteString(" AND " + after)
	}
	b.WriteString(" " + k.OrderLimit(limit, a))
	return b.String(), nil
}

// Page is the page of rows fetched (up to limit+1 of them, see OrderLimit), its next cursor
// naming the last row kept.
func (k Keyset[T]) Page(rows []T, limit int) Page[T] {
	return Finish(rows, limit, func(r T) any { return k.cursor(r) })
}

// Position reads cursor: the position after which the page starts ("" is the first page's). A
// cursor that this order did not make (another list's, another order's, or not a cursor) is
// BadCursor.
func (k Keyset[T]) Position(cursor string) (Position[T], error) {
	if cursor == "" {
		return Position[T]{}, nil
	}
	var m map[string]json.RawMessage
	if err := Decode(cursor, &m); err != nil {
		return Position[T]{}, err
	}
	seen := 0
	if k.sort != "" {
		var s string
		if json.Unmarshal(m["s"], &s) != nil || s != k.sort {
			return Position[T]{}, BadCursor()
		}
		seen++
	}
	vals := make([]any, len(k.keys))
	for i, key := range k.keys {
		raw, ok := m[key.name]
		if ok {
			seen++
		}
		if !ok || string(raw) == "null" {
			if !key.nullsLow {
				return Position[T]{}, BadCursor()
			}
			continue
		}
		v, ok := key.parse(raw)
		if !ok {
			return Position[T]{}, BadCursor()
		}
		vals[i] = v
	}
	if seen != len(m) {
		return Position[T]{}, BadCursor()
	}
	return Position[T]{k: k, vals: vals, set: true}, nil
}

// cursor is the cursor that names row r's position.
func (k Keyset[T]) cursor(r T) json.RawMessage {
	b := []byte{'{'}
	add := func(name string, v any) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(appendJSON(b, name), ':')
		b = appendJSON(b, v)
	}
	if k.sort != "" {
		add("s", k.sort)
	}
	for _, key := range k.keys {
		if v := key.of(r); v != nil {
			add(key.name, v)
		}
	}
	return append(b, '}')
}

// appendJSON appends v's encoding to b.
func appendJSON(b []byte, v any) []byte {
	enc, err := json.Marshal(v)
	if err != nil {
		// Cursor values are strings, numbers, times and UUIDs: this cannot fail.
		panic(fmt.Sprintf("page: encode cursor value: %v", err))
	}
	return append(b, enc...)
}

// Position is a page's start in a Keyset: after the row a cursor names, or the first page.
type Position[T any] struct {
	k    Keyset[T]
	vals []any
	set  bool
}

// First reports the first page's position (no cursor).
func (p Position[T]) First() bool { return !p.set }

// After is the condition that keeps the rows after the position, its arguments added to a; ""
// for the first page. A NULL in a nullsLow first key sorts below every value.
func (p Position[T]) After(a Args) string {
	if !p.set {
		return ""
	}
	cmp := ">"
	if p.k.desc {
		cmp = "<"
	}
	first := p.k.keys[0]
	if first.nullsLow && p.vals[0] == nil {
		// Past a NULL: the rest of the NULLs by the other keys, then (ascending) every value.
		rest := p.row(1, a)
		if p.k.desc {
			return "(" + first.col + " IS NULL AND " + rest + ")"
		}
		return "((" + first.col + " IS NULL AND " + rest + ") OR " + first.col + " IS NOT NULL)"
	}
	var bound string
	if p.k.bound {
		bound = first.col + " " + cmp + "= " + p.arg(0, a) + " AND "
	}
	cond := bound + p.row(0, a)
	if first.nullsLow && p.k.desc {
		return "(" + cond + " OR " + first.col + " IS NULL)"
	}
	return cond
}

// row is "(cols) cmp (values)" over the keys from the index from on ("col cmp value" for one).
func (p Position[T]) row(from int, a Args) string {
	cmp := " > "
	if p.k.desc {
		cmp = " < "
	}
	keys := p.k.keys[from:]
	cols := make([]string, len(keys))
	vals := make([]string, len(keys))
	for i, key := range keys {
		cols[i], vals[i] = key.col, p.arg(from+i, a)
	}
	if len(keys) == 1 {
		return cols[0] + cmp + vals[0]
	}
	return "(" + strings.Join(cols, ", ") + ")" + cmp + "(" + strings.Join(vals, ", ") + ")"
}

// arg adds the position's value of key i to a and returns its placeholder, cast to the key's type.
func (p Position[T]) arg(i int, a Args) string {
	return a.Add(p.vals[i]) + "::" + p.k.keys[i].cast
}
