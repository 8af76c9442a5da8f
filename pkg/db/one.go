package db

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm/schema"

	"example.com/crm/pkg/apperr"
)

// ReadOne runs query, a statement of at most one row, in one round trip (Read) and returns that
// row read into a T as Select reads it: a struct by column name, any other T from a one-column
// result. found is false when there is no row. It is the form of a request's Get: a gorm
// transaction costs four round trips for the same SELECT.
func ReadOne[T any](ctx context.Context, d *DB, orgID uuid.UUID, query string, args ...any) (v T, found bool, err error) {
	err = d.Read(ctx, orgID, func(b *Batch) { QueueOne(b, &v, &found, query, args...) })
	return v, found, err
}

// ReadByID reads the org's entity id in one round trip as ReadOne does: query selects the
// entity's row with the org as $1 and the id as $2. No row is apperr.NotFound
// "<entity> <id> not found".
func ReadByID[T any](ctx context.Context, d *DB, orgID uuid.UUID, entity string, id uuid.UUID, query string) (T, error) {
	v, found, err := ReadOne[T](ctx, d, orgID, query, UUID(orgID), UUID(id))
	switch {
	case err != nil:
		return v, fmt.Errorf("read %s: %w", entity, err)
	case !found:
		return v, apperr.Errorf(apperr.NotFound, "%s %s not found", entity, id)
	}
	return v, nil
}

// QueueOne queues on b a statement of at most one row and reads that row into *dst as ReadOne
// does, setting *found when there is one: for reads that share their round trip with others.
// A struct's columns are matched to its fields by name as gorm maps a model (column tags, else
// snake-cased names); a column without a field fails the batch.
func QueueOne[T any](b *Batch, dst *T, found *bool, query string, args ...any) {
	if !isModel[T]() {
		b.Row(func(r Row) error { *found = true; return r.Scan(dst) }, query, args...)
		return
	}
	b.b.Queue(query, args...).Query(func(rows pgx.Rows) error {
		if !rows.Next() {
			return rows.Err()
		}
		*found = true
		if err := scanStruct(rows, dst); err != nil {
			return err
		}
		return rows.Err()
	})
}

// ReadAll runs query in one round trip (Read) and returns its rows, each read into a T as
// ReadOne reads one (none is an empty, non-nil slice).
func ReadAll[T any](ctx context.Context, d *DB, orgID uuid.UUID, query string, args ...any) ([]T, error) {
	out := []T{}
	err := d.Read(ctx, orgID, func(b *Batch) { QueueAll(b, &out, query, args...) })
	return out, err
}

// QueueAll queues on b a statement and appends each of its rows, read into a T as QueueOne
// reads one, to *dst.
func QueueAll[T any](b *Batch, dst *[]T, query string, args ...any) {
	model := isModel[T]()
	b.Rows(func(r Row) error {
		var v T
		var err error
		if model {
			err = scanStruct(r.(pgx.Rows), &v)
		} else {
			err = r.Scan(&v)
		}
		*dst = append(*dst, v)
		return err
	}, query, args...)
}

// scanStruct reads the current row into the fields of *dst that its columns name.
func scanStruct[T any](rows pgx.Rows, dst *T) error {
	cols, err := columnFields(reflect.TypeFor[T]())
	if err != nil {
		return err
	}
	v := reflect.ValueOf(dst).Elem()
	descs := rows.FieldDescriptions()
	targets := make([]any, len(descs))
	for i, fd := range descs {
		idx, ok := cols[fd.Name]
		if !ok {
			return fmt.Errorf("scan into %T: no field for column %q", *dst, fd.Name)
		}
		targets[i] = v.FieldByIndex(idx).Addr().Interface()
	}
	return rows.Scan(targets...)
}

var (
	// schemas caches gorm's parse of each row type (its own cache store).
	schemas sync.Map
	// fieldsByType caches columnFields per row type.
	fieldsByType sync.Map
)

// columnFields maps the column names of the struct type t to its fields' indexes, as gorm maps a
// model with its default naming.
func columnFields(t reflect.Type) (map[string][]int, error) {
	if m, ok := fieldsByType.Load(t); ok {
		return m.(map[string][]int), nil
	}
	s, err := schema.Parse(reflect.New(t).Interface(), &schemas, schema.NamingStrategy{})
	if err != nil {
		return nil, fmt.Errorf("map the columns of %s: %w", t, err)
	}
	m := make(map[string][]int, len(s.Fields))
	for _, f := range s.Fields {
		if f.DBName != "" {
			m[f.DBName] = f.StructField.Index
		}
	}
	fieldsByType.Store(t, m)
	return m, nil
}
