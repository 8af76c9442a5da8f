package httpx_test

import (
	"mime"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/httpx"
)

// TestCheckCharset proves that only UTF-8 (in any spelling of its name) and US-ASCII pass, and
// that a media type without a charset is UTF-8.
func TestCheckCharset(t *testing.T) {
	t.Parallel()
	for ct, ok := range map[string]bool{
		"application/json":                     true,
		"application/json; charset=utf-8":      true,
		"application/json; charset=UTF-8":      true,
		"application/json; charset=utf8":       true,
		"application/json; charset=us-ascii":   true,
		"application/json; charset=latin1":     false,
		"application/json; charset=iso-8859-1": false,
		"text/csv; charset=windows-1252":       false,
		"application/json; charset=utf-16":     false,
	} {
		_, params, err := mime.ParseMediaType(ct)
		require.NoError(t, err)
		err = httpx.CheckCharset(params)
		if ok {
			require.NoError(t, err, ct)
			continue
		}
		require.Equal(t, apperr.Unsupported, apperr.CodeOf(err), ct)
	}
}
