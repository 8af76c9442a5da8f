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
	"sync"
	"time"

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
	if _, err := hex.Decode(id[:], []byte(rest[:32])); err != nil || id == uuid.Nil {
		return uuid.Nil, false
	}
	return id, true
}

func insertKey(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, name string) (string, uuid.UUID, error) {
	clear, shown, err := generateKey(orgID)
	if err != nil {
		return "", uuid.Nil, err
	}
	id := uuid.New()
	_, err = db.Exec(ctx, tx, insertKeySQL, orgID, id, name, shown, HashKey(clear))
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
func CreateKey(ctx context.Context, d *db.DB, orgID uuid.UUID, name string) (NewKey, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "default"
	}
	var k NewKey
	err := d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		var err error
		k.Clear, k.ID, err = insertKey(ctx, tx, orgID, name)
		return err
	})
	if err != nil {
		return NewKey{}, fmt.Errorf("create api key: %w", err)
	}
	return k, nil
}

// RevokeKey revokes the org's key keyID; it never authenticates again. It returns
// apperr.NotFound when the org has no such unrevoked key.
func RevokeKey(ctx context.Context, d *db.DB, orgID, keyID uuid.UUID) error {
	return d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		n, err := db.Exec(ctx, tx, revokeKeySQL, orgID, keyID)
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		if n == 0 {
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

func badKey() error { return apperr.Wrap(ErrBadKey, apperr.Unauthorized, "invalid api key") }

// lookupKey finds the unrevoked key of org orgID whose SHA-256 is hash, inside that org's
// row-level security scope, in one round trip.
func lookupKey(ctx context.Context, d *db.DB, orgID uuid.UUID, hash []byte) (Principal, error) {
	var id db.NullUUID
	err := d.Read(ctx, orgID, func(b *db.Batch) {
		b.Row(func(r db.Row) error { return r.Scan(&id) }, keyLookupSQL, db.UUID(orgID), hash)
	})
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if !id.Valid {
		return Principal{}, badKey()
	}
	return Principal{OrgID: orgID, KeyID: id.Bytes}, nil
}

// Authenticate checks the clear key and returns the org and key it belongs to. The key is
// looked up inside the org it names (row-level security scope) by its SHA-256 through a unique
// index, so the time taken does not depend on how much of a guessed key is right. A key that is
// malformed, unknown or revoked is apperr.Unauthorized. The api uses a KeyCache instead.
func Authenticate(ctx context.Context, d *db.DB, clear string) (Principal, error) {
	orgID, ok := KeyOrg(clear)
	if !ok {
		return Principal{}, badKey()
	}
	return lookupKey(ctx, d, orgID, HashKey(clear))
}

// MaxCachedKeys bounds the keys a KeyCache remembers at once. Only keys that authenticated are
// remembered, so guessing cannot fill it; past the bound, new keys are simply not remembered.
const MaxCachedKeys = 10_000

// KeyCache authenticates API keys as Authenticate does, on the pgx pool of a *db.DB (one round
// trip per check), and remembers every key it accepted for TTL, keyed by the key's SHA-256:
// within that time the key is accepted again without asking the database. A key revoked in the
// meantime therefore keeps working in this process until its entry expires, for at most TTL
// (API_KEY_CACHE_TTL_MS). Keys that fail are never remembered. With TTL <= 0 every check asks
// the database. Safe for concurrent use.
type KeyCache struct {
	db  *db.DB
	ttl time.Duration
	// Now is the clock of the expiries; nil is time.Now.
	Now func() time.Time

	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cachedKey
}

type cachedKey struct {
	p       Principal
	expires time.Time
}

// NewKeyCache returns a cache of the keys of d that remembers an accepted key for ttl (<= 0:
// not at all).
func NewKeyCache(d *db.DB, ttl time.Duration) *KeyCache {
	if d == nil {
		panic("org.NewKeyCache: nil database")
	}
	return &KeyCache{db: d, ttl: ttl, entries: map[[sha256.Size]byte]cachedKey{}}
}

// TTL is how long an accepted key is remembered (<= 0: not at all).
func (c *KeyCache) TTL() time.Duration { return c.ttl }

func (c *KeyCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Authenticate is Authenticate with the cache: a key accepted less than TTL ago is accepted
// again at once.
func (c *KeyCache) Authenticate(ctx context.Context, clear string) (Principal, error) {
	orgID, ok := KeyOrg(clear)
	if !ok {
		return Principal{}, badKey()
	}
	sum := sha256.Sum256([]byte(clear))
	if c.ttl <= 0 {
		return lookupKey(ctx, c.db, orgID, sum[:])
	}
	now := c.now()
	c.mu.RLock()
	e, hit := c.entries[sum]
	c.mu.RUnlock()
	if hit && now.Before(e.expires) {
		return e.p, nil
	}
	p, err := lookupKey(ctx, c.db, orgID, sum[:])
	if err != nil {
		if hit {
			c.forget(sum)
		}
		return Principal{}, err
	}
	c.remember(sum, cachedKey{p: p, expires: now.Add(c.ttl)}, now)
	return p, nil
}

// remember stores e under sum, first dropping expired entries when the cache is full.
func (c *KeyCache) remember(sum [sha256.Size]byte, e cachedKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= MaxCachedKeys {
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= MaxCachedKeys {
			return
		}
	}
	c.entries[sum] = e
}

func (c *KeyCache) forget(sum [sha256.Size]byte) {
	c.mu.Lock()
	delete(c.entries, sum)
	c.mu.Unlock()
}

// Len is the number of keys remembered (expired ones included until they are dropped).
func (c *KeyCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
