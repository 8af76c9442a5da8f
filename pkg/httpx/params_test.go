package httpx_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/httpx"
)

// TestCheckParams proves that a path parameter, query value or query name that is not UTF-8 or
// holds a NUL is refused with 400 on that field, and that ordinary text passes.
func TestCheckParams(t *testing.T) {
	t.Parallel()
	require.NoError(t, httpx.CheckParams([]string{"id"}, []string{"Zoë-1"}, url.Values{"q": {"café"}, "p": {""}}.Encode()))
	require.NoError(t, httpx.CheckParams(nil, nil, "q=a+b&limit=5&empty=&flag"))

	cases := map[string]struct {
		names, values []string
		query         url.Values
		raw           string
		field         string
	}{
		"bad escape in a value":  {raw: "limit=%zz", field: "query"},
		"bad escape in a name":   {raw: "%zz=1", field: "query"},
		"semicolon separator":    {raw: "stage=lost;limit=5", field: "query"},
		"truncated escape":       {raw: "q=abc%2", field: "query"},
		"a name twice":           {raw: "stage=lost&stage=new", field: "stage"},
		"a name twice, empty":    {raw: "limit=&limit=5", field: "limit"},
		"nul in a path param":    {names: []string{"formToken"}, values: []string{"\x00"}, field: "formToken"},
		"bad utf-8 in a path":    {names: []string{"id"}, values: []string{"a\xffb"}, field: "id"},
		"nul in a query value":   {query: url.Values{"entityType": {"\x00"}}, field: "entityType"},
		"bad utf-8 in a query":   {query: url.Values{"entityType": {"\xff"}}, field: "entityType"},
		"bad utf-8 query name":   {query: url.Values{"\xff": {"x"}}, field: "query"},
		"nul in a query name":    {query: url.Values{"a\x00": {"x"}}, field: "query"},
		"truncated utf-8 in a q": {query: url.Values{"q": {"caf\xc3"}}, field: "q"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw := tc.raw
			if raw == "" {
				raw = tc.query.Encode()
			}
			err := httpx.CheckParams(tc.names, tc.values, raw)
			require.Error(t, err)
			e, ok := apperr.As(err)
			require.True(t, ok)
			require.Equal(t, apperr.BadRequest, e.Code)
			require.Equal(t, tc.field, e.Fields[0].Field)
			require.Equal(t, 400, httpx.ProblemFor(err).Status)
		})
	}
}

// TestCheckContentEncoding proves that a request body with any content coding is refused with
// 415 and that none, or identity, passes.
func TestCheckContentEncoding(t *testing.T) {
	t.Parallel()
	for _, ok := range []http.Header{{}, {"Content-Encoding": {"identity"}}, {"Content-Encoding": {""}}} {
		require.NoError(t, httpx.CheckContentEncoding(ok))
	}
	for _, v := range []string{"gzip", "br", "identity, gzip", "x-gzip", "deflate"} {
		err := httpx.CheckContentEncoding(http.Header{"Content-Encoding": {v}})
		require.Equal(t, apperr.Unsupported, apperr.CodeOf(err), v)
		require.Equal(t, 415, httpx.ProblemFor(err).Status, v)
	}
}
