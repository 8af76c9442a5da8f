package org

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// keyPrefix starts every clear API key, so that leaked keys are easy to find in code and logs.
const keyPrefix = "crm_"

// shownPrefixLen is how much of a clear key is stored to tell keys apart; it is not a secret.
const shownPrefixLen = 12

// NewKey is a freshly made API key: Clear is shown once and never stored.
type NewKey struct {
	ID    uuid.UUID `json:"keyId"`
	Clear string    `json:"apiKey"`
}

// HashKey is the stored form of a clear key.
func HashKey(clear string) []byte {
	h := sha256.Sum256([]byte(clear))
	return h[:]
}

func generateKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate api key: %w", err)
	}
	return keyPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func insertKey(tx *gorm.DB, orgID uuid.UUID, name string) (string, uuid.UUID, error) {
	clear, err := generateKey()
	if err != nil {
		return "", uuid.Nil, err
	}
	id := uuid.New()
	err = tx.Exec(`INSERT INTO api_keys (org_id, id, name, prefix, key_hash) VALUES (?, ?, ?, ?, ?)`,
		orgID, id, name, clear[:shownPrefixLen], HashKey(clear)).Error
	if db.IsForeignKeyViolation(err) {
		return "", uuid.Nil, apperr.Errorf(apperr.NotFound, "org %s not found", orgID)
	}
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("insert api key: %w", err)
	}
	return clear, id, nil
}

// CreateKey adds an API key named name to org orgID. It returns apperr.NotFound for an
// unknown org.
func CreateKey(ctx context.Context, g *gorm.DB, orgID uuid.UUID, name string) (NewKey, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "default"
	}
	var k NewKey
	err := db.Tx(ctx, g, orgID, func(tx *gorm.DB) error {
		var err error
		k.Clear, k.ID, err = insertKey(tx, orgID, name)
		return err
	})
	if err != nil {
		return NewKey{}, fmt.Errorf("create api key: %w", err)
	}
	return k, nil
}

// RevokeKey revokes the org's key keyID; it never authenticates again. It returns
// apperr.NotFound when the org has no such unrevoked key.
func RevokeKey(ctx context.Context, g *gorm.DB, orgID, keyID uuid.UUID) error {
	return db.Tx(ctx, g, orgID, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE api_keys SET revoked_at = now() WHERE org_id = ? AND id = ? AND revoked_at IS NULL`, orgID, keyID)
		if res.Error != nil {
			return fmt.Errorf("revoke api key: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.Errorf(apperr.NotFound, "api key %s not found", keyID)
		}
		return nil
	})
}

// ErrBadKey is returned by Authenticate for a key that is missing, unknown or revoked.
var ErrBadKey = errors.New("invalid api key")

// Authenticate checks clear against the org's live keys and returns the key's id. The lookup
// is by SHA-256 through a unique index, so its time does not depend on how much of a guessed key
// is right. It returns apperr.Unauthorized for a bad key.
func Authenticate(ctx context.Context, g *gorm.DB, orgID uuid.UUID, clear string) (uuid.UUID, error) {
	if !strings.HasPrefix(clear, keyPrefix) {
		return uuid.Nil, apperr.Wrap(ErrBadKey, apperr.Unauthorized, "invalid api key")
	}
	var ids []uuid.UUID
	err := db.Tx(ctx, g, orgID, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT id FROM api_keys WHERE org_id = ? AND key_hash = ? AND revoked_at IS NULL`,
			orgID, HashKey(clear)).Scan(&ids).Error
	})
	if err != nil {
		return uuid.Nil, fmt.Errorf("authenticate: %w", err)
	}
	if len(ids) == 0 {
		return uuid.Nil, apperr.Wrap(ErrBadKey, apperr.Unauthorized, "invalid api key")
	}
	return ids[0], nil
}
