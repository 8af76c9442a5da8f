package db

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
)

// JSON is a T kept in a jsonb column as its JSON encoding: a row field or a statement argument
// of this type reads and writes the column through database/sql (gorm included), so that a
// domain type needs no Scan or Value of its own. SQL NULL reads as T's zero value; a nil slice
// or map writes [] or {} (unless T encodes itself), so that a list or object column never holds
// null. In an API answer a JSON is the same encoding of V.
type JSON[T any] struct {
	V T
}

// JSONOf returns v as a jsonb value.
func JSONOf[T any](v T) JSON[T] { return JSON[T]{V: v} }

// Scan reads a jsonb value (text or bytes) into V.
func (j *JSON[T]) Scan(src any) error {
	b, err := JSONBytes(src)
	if err != nil {
		return fmt.Errorf("scan into db.JSON[%T]: %w", j.V, err)
	}
	var v T
	if b != nil {
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("scan into db.JSON[%T]: %w", j.V, err)
		}
	}
	j.V = v
	return nil
}

// Value writes V as JSON text.
func (j JSON[T]) Value() (driver.Value, error) {
	b, err := j.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// MarshalJSON returns V's encoding ([] or {} for a nil slice or map), with <, > and & as they
// are: the encoder that writes the whole answer escapes them or not, as it does for every other
// string.
func (j JSON[T]) MarshalJSON() ([]byte, error) {
	if _, ok := any(j.V).(json.Marshaler); !ok {
		switch r := reflect.ValueOf(j.V); {
		case r.Kind() == reflect.Slice && r.IsNil():
			return []byte("[]"), nil
		case r.Kind() == reflect.Map && r.IsNil():
			return []byte("{}"), nil
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j.V); err != nil {
		return nil, fmt.Errorf("encode db.JSON[%T]: %w", j.V, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads V from its encoding.
func (j *JSON[T]) UnmarshalJSON(b []byte) error {
	return json.Unmarshal(b, &j.V)
}

// JSONBytes returns the bytes of a jsonb value as the driver gives it (text or bytes), copied so
// that they outlive the row; SQL NULL is nil. It is what every jsonb Scan starts from.
func JSONBytes(src any) ([]byte, error) {
	switch v := src.(type) {
	case nil:
		return nil, nil
	case []byte:
		return bytes.Clone(v), nil
	case string:
		return []byte(v), nil
	default:
		return nil, fmt.Errorf("a jsonb value is text or bytes, not %T", src)
	}
}
