package org_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/org"
)

// TestCreateSeedsDefaultsAndKey proves Create makes the org, no cron task unless given, and a first
// key that authenticates for that org, storing only the key's hash.
func TestCreateSeedsDefaultsAndKey(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	c, err := org.Create(t.Context(), d, "  Acme  ")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(c.APIKey, "crm_"))
	keyOrg, ok := org.KeyOrg(c.APIKey)
	require.True(t, ok)
	require.Equal(t, c.OrgID, keyOrg)

	var name string
	var tasks, keys int
	var stored struct{ KeyHash []byte }
	require.NoError(t, d.Tx(t.Context(), c.OrgID, func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT name FROM orgs WHERE id = ?`, c.OrgID).Scan(&name).Error; err != nil {
			return err
		}
		if err := tx.Raw(`SELECT count(*) FROM cron_tasks WHERE org_id = ?`, c.OrgID).Scan(&tasks).Error; err != nil {
			return err
		}
		if err := tx.Raw(`SELECT count(*) FROM api_keys WHERE org_id = ?`, c.OrgID).Scan(&keys).Error; err != nil {
			return err
		}
		return tx.Raw(`SELECT key_hash FROM api_keys WHERE org_id = ?`, c.OrgID).Scan(&stored).Error
	}))
	require.Equal(t, "Acme", name)
	require.Zero(t, tasks, "no cron task is seeded unless given")
	require.Equal(t, 1, keys)
	require.Equal(t, org.HashKey(c.APIKey), stored.KeyHash, "only the hash is stored")

	p, err := org.Authenticate(t.Context(), d, c.APIKey)
	require.NoError(t, err)
	require.Equal(t, c.OrgID, p.OrgID)

	_, err = org.Create(t.Context(), d, "   ")
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err))
}

// TestKeysCreateRevokeAuthenticate proves a second key works alongside the first, a revoked key
// stops authenticating, malformed or unknown keys are Unauthorized, and keys of an unknown org
// cannot be made.
func TestKeysCreateRevokeAuthenticate(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	c, err := org.Create(t.Context(), d, "acme")
	require.NoError(t, err)
	k, err := org.CreateKey(t.Context(), d, c.OrgID, "ci")
	require.NoError(t, err)
	require.NotEqual(t, c.APIKey, k.Clear)

	for _, key := range []string{c.APIKey, k.Clear} {
		_, err := org.Authenticate(t.Context(), d, key)
		require.NoError(t, err)
	}
	require.NoError(t, org.RevokeKey(t.Context(), d, c.OrgID, k.ID))
	_, err = org.Authenticate(t.Context(), d, k.Clear)
	require.Equal(t, apperr.Unauthorized, apperr.CodeOf(err))
	require.Equal(t, apperr.NotFound, apperr.CodeOf(org.RevokeKey(t.Context(), d, c.OrgID, k.ID)), "revoked twice")

	tampered := c.APIKey[:len(c.APIKey)-1] + "x"
	if tampered == c.APIKey {
		tampered = c.APIKey[:len(c.APIKey)-1] + "y"
	}
	for _, bad := range []string{"", "crm_", "nope", tampered, "crm_" + strings.Repeat("z", 76),
		"crm_" + strings.Repeat("0", 32) + "_" + strings.Repeat("A", 43)} {
		_, err := org.Authenticate(t.Context(), d, bad)
		require.Equal(t, apperr.Unauthorized, apperr.CodeOf(err), bad)
	}
	_, err = org.CreateKey(t.Context(), d, uuid.New(), "x")
	require.Error(t, err)
	require.True(t, apperr.Is(err, apperr.NotFound) || db.IsForeignKeyViolation(err), err.Error())
}

// TestCreateSeedsGivenCronTasks proves Create seeds the cron tasks it is given, in the org.
func TestCreateSeedsGivenCronTasks(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	seeds := []org.CronTask{{Name: "every hour", JobType: "noop", Cron: "0 * * * *"}, {Name: "daily", JobType: "noop", Cron: "0 6 * * *"}}
	c, err := org.Create(t.Context(), d, "Seeded", seeds...)
	require.NoError(t, err)
	var got []string
	require.NoError(t, d.Tx(t.Context(), c.OrgID, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT name || '|' || job_type || '|' || cron_expr FROM cron_tasks WHERE org_id = ? ORDER BY name`, c.OrgID).Scan(&got).Error
	}))
	require.Equal(t, []string{"daily|noop|0 6 * * *", "every hour|noop|0 * * * *"}, got)
}
