package db

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// PostgreSQL error codes that callers branch on.
const (
	CodeUniqueViolation     = "23505"
	CodeForeignKeyViolation = "23503"
	CodeCheckViolation      = "23514"
	CodeInsufficientPriv    = "42501"
	CodeQueryCanceled       = "57014"
	CodeLockNotAvailable    = "55P03"
)

// PgCode returns the SQLSTATE of the first PostgreSQL error in err's chain, or "".
// It covers raw Exec/Raw paths that gorm's TranslateError does not.
func PgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// IsUniqueViolation reports a unique-index conflict.
func IsUniqueViolation(err error) bool {
	return errors.Is(err, gorm.ErrDuplicatedKey) || PgCode(err) == CodeUniqueViolation
}

// IsForeignKeyViolation reports a missing referenced row (for example an id of another org).
func IsForeignKeyViolation(err error) bool {
	return errors.Is(err, gorm.ErrForeignKeyViolated) || PgCode(err) == CodeForeignKeyViolation
}

// IsTimeout reports a statement cancelled by statement_timeout or a cancel request, or a lock
// not granted within lock_timeout.
func IsTimeout(err error) bool {
	c := PgCode(err)
	return c == CodeQueryCanceled || c == CodeLockNotAvailable
}
