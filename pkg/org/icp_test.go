package org_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
)

// TestICPNormalize proves Normalize trims, folds case (countries upper), drops empty items and
// duplicates, and never leaves a list nil.
func TestICPNormalize(t *testing.T) {
	t.Parallel()
	got := org.ICP{
		Industries: []string{" SaaS", "saas ", ""}, Countries: []string{"de", "DE"},
		ExcludedDomains: []string{"Acme.example."},
	}.Normalize()
	require.Equal(t, []string{"saas"}, got.Industries)
	require.Equal(t, []string{"DE"}, got.Countries)
	require.Equal(t, []string{"acme.example"}, got.ExcludedDomains)
	require.NotNil(t, got.Titles)
	require.Empty(t, got.Titles)
}

// TestICPValidate proves Validate refuses each broken limit, naming the field, and accepts the
// empty ICP.
func TestICPValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, org.ICP{}.Validate())
	zero, ten, hundred := 0, 10, 100
	for field, p := range map[string]org.ICP{
		"industries[0]":  {Industries: []string{strings.Repeat("x", 101)}},
		"industries":     {Industries: make([]string, 51)},
		"seniorities[0]": {Seniorities: []string{"intern"}},
		"countries[0]":   {Countries: []string{"DEU"}},
		"minEmployees":   {MinEmployees: &zero},
		"maxEmployees":   {MinEmployees: &hundred, MaxEmployees: &ten},
	} {
		err := p.Validate()
		require.Equal(t, apperr.Invalid, apperr.CodeOf(err), field)
		e, ok := apperr.As(err)
		require.True(t, ok)
		require.Equal(t, field, e.Fields[0].Field)
	}
}

// TestGetSetICP proves the ICP round trip through the database, one org.icp_updated per change
// (none for a SetICP that changes nothing), refusal of a bad ICP without a write, and NotFound
// for an unknown org.
func TestGetSetICP(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	super := dbtest.SuperDB(t, url)
	emitter := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	orgID := dbtest.NewOrg(t, d, "icp")

	got, err := org.GetICP(t.Context(), d, orgID)
	require.NoError(t, err)
	require.Equal(t, org.ICP{}.Normalize(), got)

	fifty := 50
	in := org.ICP{Industries: []string{"SaaS"}, MinEmployees: &fifty, Seniorities: []string{"vp"}}
	stored, err := org.SetICP(t.Context(), d, emitter, orgID, "test", in)
	require.NoError(t, err)
	require.Equal(t, []string{"saas"}, stored.Industries)
	got, err = org.GetICP(t.Context(), d, orgID)
	require.NoError(t, err)
	require.Equal(t, stored, got)

	_, err = org.SetICP(t.Context(), d, emitter, orgID, "test", in)
	require.NoError(t, err)
	var n int
	require.NoError(t, super.Gorm.Raw(`SELECT count(*) FROM events WHERE org_id = ? AND type = ?`, orgID, org.EventICPUpdated).Scan(&n).Error)
	require.Equal(t, 1, n, "an unchanged ICP records nothing")

	_, err = org.SetICP(t.Context(), d, emitter, orgID, "test", org.ICP{Seniorities: []string{"intern"}})
	require.Equal(t, apperr.Invalid, apperr.CodeOf(err))
	got, err = org.GetICP(t.Context(), d, orgID)
	require.NoError(t, err)
	require.Equal(t, stored, got, "a refused ICP writes nothing")

	_, err = org.GetICP(t.Context(), d, uuid.New())
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
	_, err = org.SetICP(t.Context(), d, emitter, uuid.New(), "test", in)
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
}
