package db

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"time"

	"gorm.io/gorm"
)

// Row is one row of a result, read column by column in the statement's order. pgx's rows and
// database/sql's rows both are one.
type Row interface {
	Scan(dest ...any) error
}

// Exec runs a statement that returns no rows in tx and returns how many rows it changed.
//
// query uses PostgreSQL's own placeholders ($1, $2, ...) and args go to the driver as they
// are: a Go slice is a PostgreSQL array, never a list that gorm spreads into the text.
func Exec(ctx context.Context, tx *gorm.DB, query string, args ...any) (int64, error) {
	res, err := tx.Statement.ConnPool.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// Each runs query in tx and calls fn with every row it returns, in order, stopping at fn's
// first error. It is the form for hot reads and wide rows: fn scans the columns into exactly
// the destinations it names, without reflection.
func Each(ctx context.Context, tx *gorm.DB, fn func(Row) error, query string, args ...any) error {
	rows, err := tx.Statement.ConnPool.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	return eachRow(rows, func(r *sql.Rows) error { return fn(r) })
}

// Select runs query in tx and returns its rows, each read into a new T: a struct by column
// name as gorm maps a model (fields by their column tags or snake-cased names), any other T
// (a string, a number, a time, a sql.Scanner) from a one-column result.
func Select[T any](ctx context.Context, tx *gorm.DB, query string, args ...any) ([]T, error) {
	rows, err := tx.Statement.ConnPool.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	byName := isModel[T]()
	var out []T
	err = eachRow(rows, func(r *sql.Rows) error {
		var v T
		if byName {
			err = tx.ScanRows(r, &v)
		} else {
			// gorm's ScanRows reads every remaining row into a non-struct destination.
			err = r.Scan(&v)
		}
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// isModel reports whether Select reads T by column name: a struct that is not a value of its
// own (a time, a sql.Scanner).
func isModel[T any]() bool {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
		return false
	}
	return !reflect.PointerTo(t).Implements(reflect.TypeFor[sql.Scanner]())
}

// Get is Select for at most one row: the first row's T and true, or the zero T and false
// when there is none.
func Get[T any](ctx context.Context, tx *gorm.DB, query string, args ...any) (T, bool, error) {
	var zero T
	rows, err := Select[T](ctx, tx, query, args...)
	if err != nil || len(rows) == 0 {
		return zero, false, err
	}
	return rows[0], true, nil
}

// eachRow calls fn for every row of rows and closes them; the error is fn's, the iteration's
// or the close's, in that order.
func eachRow(rows *sql.Rows, fn func(*sql.Rows) error) error {
	for rows.Next() {
		if err := fn(rows); err != nil {
			_ = rows.Close()
			return err
		}
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return err
	}
	return rows.Close()
}
