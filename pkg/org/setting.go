package org

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// Setting is one named settings document of every org (GET/PUT /settings/<name>), kept as a
// jsonb row of org_settings keyed by (org, Name): the invoicing settings, the contract template,
// the onboarding checklist. A domain declares its settings as a package variable of this type,
// and its use cases and the api's settings routes read and write through it; an org that saved
// none has Default().
type Setting[T any] struct {
	// Name is the setting's key in org_settings: lower-case letters, digits and dashes.
	Name string
	// Default is the value of an org that has saved none.
	Default func() T
	// Check, when set, returns the value as it is stored (normalised) or an apperr.Invalid that
	// says which fields are wrong; Put and Save store nothing then.
	Check func(T) (T, error)
}

// Get reads the org's value inside the caller's tenant transaction tx (Default when it has
// saved none).
func (s Setting[T]) Get(ctx context.Context, tx *gorm.DB, orgID uuid.UUID) (T, error) {
	raw, found, err := db.Get[[]byte](ctx, tx, getSettingSQL, orgID, s.Name)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("read %s settings: %w", s.Name, err)
	}
	return s.decode(raw, found)
}

// Read reads the org's value in one round trip (db.DB.Read): the form of the GET routes.
func (s Setting[T]) Read(ctx context.Context, d *db.DB, orgID uuid.UUID) (T, error) {
	var raw []byte
	found := false
	err := d.Read(ctx, orgID, func(b *db.Batch) {
		b.Row(func(r db.Row) error { found = true; return r.Scan(&raw) }, getSettingSQL, db.UUID(orgID), s.Name)
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("read %s settings: %w", s.Name, err)
	}
	return s.decode(raw, found)
}

// Put checks v and replaces the org's value with it inside the caller's tenant transaction tx,
// returning the value as stored.
func (s Setting[T]) Put(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, v T) (T, error) {
	v, err := s.check(v)
	if err != nil {
		return v, err
	}
	if _, err := db.Exec(ctx, tx, putSettingSQL, orgID, s.Name, db.JSONOf(v)); err != nil {
		return v, fmt.Errorf("put %s settings: %w", s.Name, err)
	}
	return v, nil
}

// Save checks v and replaces the org's value with it in one round trip (db.DB.Write): the form
// of the PUT routes. It returns the value as stored.
func (s Setting[T]) Save(ctx context.Context, d *db.DB, orgID uuid.UUID, v T) (T, error) {
	v, err := s.check(v)
	if err != nil {
		return v, err
	}
	err = d.Write(ctx, orgID, func(b *db.Batch) {
		b.Exec(putSettingSQL, db.UUID(orgID), s.Name, db.JSONOf(v))
	})
	if err != nil {
		return v, fmt.Errorf("put %s settings: %w", s.Name, err)
	}
	return v, nil
}

func (s Setting[T]) check(v T) (T, error) {
	if s.Check == nil {
		return v, nil
	}
	out, err := s.Check(v)
	if err != nil {
		return v, fmt.Errorf("put %s settings: %w", s.Name, err)
	}
	return out, nil
}

// decode returns the stored value or, with no row, Default. The stored JSON is decoded over
// Default, so a member it lacks (one added to T after the org saved) has its default, not T's
// zero value.
func (s Setting[T]) decode(raw []byte, found bool) (T, error) {
	v := s.Default()
	if !found {
		return v, nil
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			return v, fmt.Errorf("decode %s settings: %w", s.Name, err)
		}
	}
	return v, nil
}

// Fielded is a settings value that normalises itself and lists its field errors.
type Fielded[T any] interface {
	Normalize() T
	Check() []apperr.FieldError
}

// CheckFields returns a Setting's Check for a T that checks itself: the value normalised, or
// apperr.Invalid with message and the value's field errors.
func CheckFields[T Fielded[T]](message string) func(T) (T, error) {
	return func(v T) (T, error) {
		v = v.Normalize()
		if fields := v.Check(); len(fields) > 0 {
			return v, apperr.Errorf(apperr.Invalid, "%s", message).WithFields(fields...)
		}
		return v, nil
	}
}
