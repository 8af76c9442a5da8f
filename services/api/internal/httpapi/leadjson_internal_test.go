package httpapi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/page"
)

// encodingJSON is what echo's c.JSON writes for v: encoding/json's Encoder, HTML escaping on,
// with its trailing newline.
func encodingJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.NewEncoder(&buf).Encode(v))
	return buf.Bytes()
}

func ptr[T any](v T) *T { return &v }

// tricky are strings that exercise every escaping rule of encoding/json.
var tricky = []string{
	"", "plain", `quote " and backslash \`, "<script>alert('x') & co</script>", "tab\tnew\nline\rret",
	"\b\f\x00\x01\x1f\x7f", "émoji 🚀 ünïcødé", "line\u2028para\u2029", "bad \xff\xfe utf8 \xc3", "\xe2\x80",
	"slash / and 'single'",
}

// fullLead sets every field of lead.Lead to something other than its zero value.
func fullLead(s string) lead.Lead {
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	return lead.Lead{
		ID: uuid.MustParse("0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"), FirstName: ptr(s), LastName: ptr("Lovelace"), Name: ptr("Ada " + s),
		Email: ptr("ada@example.com"), Phone: ptr("+1 555 0100"), Company: ptr(s + " Labs"), Website: ptr("https://example.com/?a=1&b=<2>"),
		Domain: ptr("example.com"), Title: ptr("CTO"), ProfileLink: ptr("https://linkedin.com/in/ada"), Source: ptr("web form"),
		Notes: ptr("notes: " + s), Extra: lead.Doc(`{"utm_source": "news<letter>", "n": [1, 2.50, {"k": "a & b"}], "s": "` + jsonInner(s) + `"}`),
		Stage: lead.StageQualified, StageReason: ptr(s), Score: ptr(87), ScoreReasons: lead.Doc(`["fits the ICP", "line\u2028sep"]`),
		ICPMatch: ptr(true), RecommendedPath: ptr("book_call"), Priority: lead.PriorityHigh, GhostRisk: 3, RevenueBand: ptr("1M-10M"),
		Enrichment: lead.Doc("{\n  \"domain\" : \"example.com\",\t\"freeMail\": false ,\"x\": null}"), Version: 4,
		LastActivityAt: ptr(at.Add(time.Hour)), StageChangedAt: at, CreatedAt: at.Add(-time.Hour).Truncate(time.Second),
		UpdatedAt: at.Add(time.Minute).Truncate(time.Millisecond), Fingerprint: "f00d",
	}
}

// jsonInner is s as the inside of a JSON string (what PostgreSQL stores for it).
func jsonInner(s string) string {
	b, _ := json.Marshal(strings.ToValidUTF8(s, "?"))
	return string(b[1 : len(b)-1])
}

// TestAppendLeadMatchesEncodingJSON proves the hand-written encoder writes exactly what
// encoding/json writes for a lead, whatever its strings, documents and null fields hold, and
// that the test lead leaves no field at its zero value (so a field added to lead.Lead without
// a line in appendLead fails here).
func TestAppendLeadMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	rv := reflect.ValueOf(fullLead("x"))
	for i := range rv.NumField() {
		require.False(t, rv.Field(i).IsZero(), "fullLead leaves %s unset", rv.Type().Field(i).Name)
	}
	for _, s := range tricky {
		l := fullLead(s)
		require.Equal(t, string(encodingJSON(t, l)), string(append(appendLead(nil, &l), '\n')), "%q", s)
	}
	var zero lead.Lead
	require.Equal(t, string(encodingJSON(t, zero)), string(append(appendLead(nil, &zero), '\n')))
	sparse := lead.Lead{ID: uuid.New(), Email: ptr("a@b.c"), Extra: lead.Doc("{}"), ScoreReasons: lead.Doc("[]"),
		Enrichment: lead.Doc("{}"), Stage: lead.StageNew, Priority: lead.PriorityNormal, Score: ptr(0), ICPMatch: ptr(false),
		CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(), StageChangedAt: time.Now().UTC()}
	require.Equal(t, string(encodingJSON(t, sparse)), string(append(appendLead(nil, &sparse), '\n')))
}

// TestAppendLeadRandom compares the encoders on random strings and documents.
func TestAppendLeadRandom(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "Z", " ", "\"", "\\", "<", ">", "&", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "🚀", "\u2028",
		"\u2029", "\xff", "\xe2\x80", "/", "'", "{", "}", "[", "]", ":", ","}
	str := func() string {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	for range 500 {
		l := fullLead(str())
		l.Notes, l.Company = ptr(str()), nil
		doc, err := json.Marshal(map[string]any{str(): str(), "list": []any{str(), 1.5, nil, true, map[string]any{str(): str()}}})
		require.NoError(t, err)
		var spaced bytes.Buffer
		require.NoError(t, json.Indent(&spaced, doc, " ", "  "))
		l.Extra = lead.Doc(spaced.Bytes())
		require.Equal(t, string(encodingJSON(t, l)), string(append(appendLead(nil, &l), '\n')))
	}
}

// FuzzAppendString holds appendString to encoding/json for any string.
func FuzzAppendString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendString(nil, s)))
	})
}

// TestAppendLeadPageMatchesEncodingJSON covers the page envelope: data empty, nil and full,
// with and without a next cursor.
func TestAppendLeadPageMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, p := range []page.Page[lead.Lead]{
		{},
		{Data: []lead.Lead{}},
		{Data: []lead.Lead{fullLead("a"), fullLead("<b>")}, NextCursor: ptr("eyJzIjoiLWNyZWF0ZWRBdCJ9")},
		page.Finish([]lead.Lead{fullLead("1"), fullLead("2"), fullLead("3")}, 2, func(l lead.Lead) any { return l.ID }),
	} {
		require.Equal(t, string(encodingJSON(t, p)), string(append(appendLeadPage(nil, &p), '\n')))
	}
}

// TestWriteLeadAnswersAsCJSON proves writeLead's answer equals c.JSON's in status, type and
// body, adds the body's length, and leaves ?pretty to c.JSON.
func TestWriteLeadAnswersAsCJSON(t *testing.T) {
	t.Parallel()
	e := echo.New()
	l := fullLead("<x>")
	answer := func(target string, fast bool) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest(http.MethodGet, target, nil), rec)
		if fast {
			require.NoError(t, writeLead(c, http.StatusOK, &l))
		} else {
			require.NoError(t, c.JSON(http.StatusOK, l))
		}
		return rec
	}
	fast, slow := answer("/leads/x", true), answer("/leads/x", false)
	require.Equal(t, slow.Code, fast.Code)
	require.Equal(t, slow.Header().Get(echo.HeaderContentType), fast.Header().Get(echo.HeaderContentType))
	require.Equal(t, slow.Body.String(), fast.Body.String())
	require.Equal(t, fast.Body.Len(), mustAtoi(t, fast.Header().Get(echo.HeaderContentLength)))
	require.Equal(t, answer("/leads/x?pretty", false).Body.String(), answer("/leads/x?pretty", true).Body.String())
	require.Contains(t, answer("/leads/x?pretty", true).Body.String(), "\n  \"id\"")
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
