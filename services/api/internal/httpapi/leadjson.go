package httpapi

// A hand-written JSON encoder for the lead reads (GET /leads/{id}, GET /leads), the API's
// heaviest answers: encoding/json spends most of a page of 50 leads on reflection and on
// re-validating the three JSON documents of every lead. The encoder writes exactly the bytes
// encoding/json writes for lead.Lead and page.Page[lead.Lead] (its field names and order,
// HTML-safe string escaping, compacted documents, the trailing newline of echo's c.JSON);
// leadjson_test.go holds it to that.

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/page"
)

// maxPooledJSON is the largest encoding buffer kept for reuse.
const maxPooledJSON = 1 << 20

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// writeJSON answers with the JSON that appendFn appends, as c.JSON would answer with the value
// it encodes: status, Content-Type and body (with its trailing newline), plus a Content-Length.
// A request for pretty output (?pretty, or echo in debug mode) goes through c.JSON itself.
func writeJSON(c echo.Context, status int, v any, appendFn func(b []byte) []byte) error {
	if _, pretty := c.QueryParams()["pretty"]; pretty || c.Echo().Debug {
		return c.JSON(status, v)
	}
	bp := jsonBufs.Get().(*[]byte)
	b := append(appendFn((*bp)[:0]), '\n')
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	err := c.Blob(status, echo.MIMEApplicationJSON, b)
	if cap(b) <= maxPooledJSON {
		*bp = b[:0]
		jsonBufs.Put(bp)
	}
	return err
}

// writeLead answers with one lead.
func writeLead(c echo.Context, status int, l *lead.Lead) error {
	return writeJSON(c, status, l, func(b []byte) []byte { return appendLead(b, l) })
}

// writeLeadPage answers with a page of leads.
func writeLeadPage(c echo.Context, status int, p *page.Page[lead.Lead]) error {
	return writeJSON(c, status, p, func(b []byte) []byte { return appendLeadPage(b, p) })
}

// appendLeadPage appends p as encoding/json encodes a page.Page[lead.Lead].
func appendLeadPage(b []byte, p *page.Page[lead.Lead]) []byte { return appendPage(b, p, appendLead) }

// appendPage appends p as encoding/json encodes a page.Page[T] whose items appendItem encodes.
func appendPage[T any](b []byte, p *page.Page[T], appendItem func(b []byte, v *T) []byte) []byte {
	b = append(b, `{"data":`...)
	if p.Data == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range p.Data {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendItem(b, &p.Data[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"nextCursor":`...)
	b = appendStringPtr(b, p.NextCursor)
	return append(b, '}')
}

// appendLead appends l as encoding/json encodes a lead.Lead (Fingerprint is not shown).
func appendLead(b []byte, l *lead.Lead) []byte {
	b = append(b, `{"id":`...)
	b = appendUUID(b, l.ID)
	b = append(b, `,"firstName":`...)
	b = appendStringPtr(b, l.FirstName)
	b = append(b, `,"lastName":`...)
	b = appendStringPtr(b, l.LastName)
	b = append(b, `,"name":`...)
	b = appendStringPtr(b, l.Name)
	b = append(b, `,"email":`...)
	b = appendStringPtr(b, l.Email)
	b = append(b, `,"phone":`...)
	b = appendStringPtr(b, l.Phone)
	b = append(b, `,"company":`...)
	b = appendStringPtr(b, l.Company)
	b = append(b, `,"website":`...)
	b = appendStringPtr(b, l.Website)
	b = append(b, `,"domain":`...)
	b = appendStringPtr(b, l.Domain)
	b = append(b, `,"title":`...)
	b = appendStringPtr(b, l.Title)
	b = append(b, `,"profileLink":`...)
	b = appendStringPtr(b, l.ProfileLink)
	b = append(b, `,"source":`...)
	b = appendStringPtr(b, l.Source)
	b = append(b, `,"notes":`...)
	b = appendStringPtr(b, l.Notes)
	b = append(b, `,"extra":`...)
	b = appendDoc(b, l.Extra)
	b = append(b, `,"stage":`...)
	b = appendString(b, string(l.Stage))
	b = append(b, `,"stageReason":`...)
	b = appendStringPtr(b, l.StageReason)
	b = append(b, `,"score":`...)
	b = appendIntPtr(b, l.Score)
	b = append(b, `,"scoreReasons":`...)
	b = appendDoc(b, l.ScoreReasons)
	b = append(b, `,"icpMatch":`...)
	if l.ICPMatch == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendBool(b, *l.ICPMatch)
	}
	b = append(b, `,"recommendedPath":`...)
	b = appendStringPtr(b, l.RecommendedPath)
	b = append(b, `,"priority":`...)
	b = appendString(b, string(l.Priority))
	b = append(b, `,"ghostRisk":`...)
	b = strconv.AppendInt(b, int64(l.GhostRisk), 10)
	b = append(b, `,"revenueBand":`...)
	b = appendStringPtr(b, l.RevenueBand)
	b = append(b, `,"enrichment":`...)
	b = appendDoc(b, l.Enrichment)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(l.Version), 10)
	b = append(b, `,"lastActivityAt":`...)
	if l.LastActivityAt == nil {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, *l.LastActivityAt)
	}
	b = append(b, `,"stageChangedAt":`...)
	b = appendTime(b, l.StageChangedAt)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, l.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, l.UpdatedAt)
	return append(b, '}')
}

// appendTime appends t as time.Time.MarshalJSON does (RFC 3339 with nanoseconds as needed).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendUUID appends id as a JSON string, as its MarshalText spells it.
func appendUUID(b []byte, id uuid.UUID) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i, x := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&0x0f])
	}
	return append(b, '"')
}

func appendIntPtr(b []byte, n *int) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*n), 10)
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// htmlSafe marks the ASCII bytes encoding/json writes as they are in a string: printable, not
// '"', '\\', '<', '>' or '&'.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string exactly as encoding/json does with HTML escaping on:
// '"' and '\\' escaped, \b \f \n \r \t by name, other control characters and '<', '>', '&' as
// \u00XX, invalid UTF-8 as U+FFFD itself (Go 1.27's encoding/json no longer escapes it), and U+2028 and U+2029 as \u2028 and \u2029.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\uFFFD"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendDoc appends a JSON document as encoding/json writes a lead.Doc: "null" when empty, else
// the document compacted (no whitespace outside strings) with '<', '>', '&', U+2028 and U+2029
// inside strings escaped. The documents come from jsonb columns, so they are valid JSON; only
// whitespace and those characters change.
func appendDoc(b []byte, d lead.Doc) []byte {
	if len(d) == 0 {
		return append(b, "null"...)
	}
	inString, escaped := false, false
	start := 0
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !inString {
			switch c {
			case ' ', '\t', '\n', '\r':
				b = append(b, d[start:i]...)
				start = i + 1
			case '"':
				inString = true
			}
			continue
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			inString = false
		case c == '<' || c == '>' || c == '&':
			b = append(b, d[start:i]...)
			b = append(b, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			start = i + 1
		case c == 0xe2 && i+2 < len(d) && d[i+1] == 0x80 && (d[i+2] == 0xa8 || d[i+2] == 0xa9):
			b = append(b, d[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', "89"[d[i+2]-0xa8])
			i += 2
			start = i + 1
		}
	}
	return append(b, d[start:]...)
}
