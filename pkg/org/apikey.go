package org

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// keyPrefix starts every clear API key, so that leaked keys are easy to find in code and logs.
// A key reads "crm_<org id, 32 hex>_<secret, 43 base64url>": the org in the key lets the api
// check it inside that org's row-level security scope, and tell "a key of another org" (403)
// from "no such key" (401) without any cross-org lookup.
const keyPrefix = "crm_"

// secretShown is how much of the secret is kept in api_keys.prefix to tell keys apart.
const secretShown = 6

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

func generateKey(orgID uuid.UUID) (clear, shown string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("generate api key: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	head := keyPrefix + hex.EncodeToString(orgID[:]) + "_"
	return head + secret, head + secret[:secretShown], nil
}

// KeyOrg returns the org a clear key names, or false when clear is not shaped like a key.
func KeyOrg(clear string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(clear, keyPrefix)
	if !ok || len(rest) != 32+1+43 || rest[32] != '_' {
		return uuid.Nil, false
	}
	var id uuid.UUID
	if _, err := hex.Decode(id[:], []byte(rest[:32])); err != nil {
		return uuid.Nil, false
	}
	return id, true
}

func insertKey(tx *gorm.DB, orgID uuid.UUID, name string) (string, uuid.UUID, error) {
	clear, shown, err := generateKey(orgID)
	if err != nil {
		return "", uuid.Nil, err
	}
	id := uuid.New()
	err = tx.Exec(`INSERT INTO api_keys (org_id, id, name, prefix, key_hash) VALUES (?, ?, ?, ?, ?)`,
		orgID, id, name, shown, HashKey(clear)).Error
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

// Principal is who a request acts as: an org and the key that proved it.
type Principal struct {
	OrgID uuid.UUID
	KeyID uuid.UUID
}

// Authenticate checks the clear key and returns the org and key it belongs to. The key is
// looked up inside the org it names (row-level security scope) by its SHA-256 through a unique
// index, so the time taken does not depend on how much of a guessed key is right. A key that is
// malformed, unknown or revoked is apperr.Unauthorized.
func Authenticate(ctx context.Context, g *gorm.DB, clear string) (Principal, error) {
	orgID, ok := KeyOrg(clear)
	if !ok {
		return Principal{}, apperr.Wrap(ErrBadKey, apperr.Unauthorized, "invalid api key")
	}
	var ids []uuid.UUID
	err := db.Tx(ctx, g, orgID, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT id FROM api_keys WHERE org_id = ? AND key_hash = ? AND revoked_at IS NULL`,
			orgID, HashKey(clear)).Scan(&ids).Error
	})
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if len(ids) == 0 {
		return Principal{}, apperr.Wrap(ErrBadKey, apperr.Unauthorized, "invalid api key")
	}
	return Principal{OrgID: orgID, KeyID: ids[0]}, nil
}
