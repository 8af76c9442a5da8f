package httpx_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/httpx"
)

// TestCredentials proves what the credential headers must look like: a Bearer key (scheme in
// any case) and a UUID org, each given once.
func TestCredentials(t *testing.T) {
	t.Parallel()
	org := uuid.New()
	h := http.Header{"Authorization": {"bearer  crm_key "}, "X-Org-Id": {org.String()}}
	key, got, err := httpx.Credentials(h)
	require.NoError(t, err)
	require.Equal(t, "crm_key", key)
	require.Equal(t, org, got)

	for name, tc := range map[string]struct {
		h    http.Header
		code apperr.Code
	}{
		"no key":         {http.Header{"X-Org-Id": {org.String()}}, apperr.Unauthorized},
		"basic":          {http.Header{"Authorization": {"Basic x"}, "X-Org-Id": {org.String()}}, apperr.Unauthorized},
		"no org":         {http.Header{"Authorization": {"Bearer k"}}, apperr.Unauthorized},
		"org not uuid":   {http.Header{"Authorization": {"Bearer k"}, "X-Org-Id": {"{" + org.String() + "}"}}, apperr.BadRequest},
		"org twice":      {http.Header{"Authorization": {"Bearer k"}, "X-Org-Id": {org.String(), uuid.NewString()}}, apperr.BadRequest},
		"key twice":      {http.Header{"Authorization": {"Bearer k", "Bearer j"}, "X-Org-Id": {org.String()}}, apperr.BadRequest},
		"same org twice": {http.Header{"Authorization": {"Bearer k"}, "X-Org-Id": {org.String(), org.String()}}, apperr.BadRequest},
	} {
		_, _, err := httpx.Credentials(tc.h)
		require.Equal(t, tc.code, apperr.CodeOf(err), name)
	}
}
