package httpapi

import (
	"bytes"
	"encoding/json"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/httpx"
)

// Media types the routes take.
const (
	mediaJSON = "application/json"
	mediaForm = "application/x-www-form-urlencoded"
	mediaCSV  = "text/csv"
	mediaMult = "multipart/form-data"
)

// mediaType returns the request's media type (lower case) with its parameters when it is one of
// allowed, else apperr.Unsupported (415). A charset, when given, must be UTF-8 (or US-ASCII, a
// subset): the gateway stores bodies as received and never transcodes.
func mediaType(c echo.Context, allowed ...string) (string, map[string]string, error) {
	raw := c.Request().Header.Get(echo.HeaderContentType)
	want := "Content-Type must be " + strings.Join(allowed, " or ")
	if raw == "" {
		return "", nil, apperr.Errorf(apperr.Unsupported, "the request has no Content-Type; %s", want)
	}
	mt, params, err := mime.ParseMediaType(raw)
	if err != nil {
		return "", nil, apperr.Errorf(apperr.Unsupported, "the Content-Type is malformed; %s", want)
	}
	found := false
	for _, a := range allowed {
		found = found || mt == a
	}
	if !found {
		return "", nil, apperr.Errorf(apperr.Unsupported, "%s, not %s", want, mt)
	}
	if err := httpx.CheckCharset(params); err != nil {
		return "", nil, err
	}
	return mt, params, nil
}

// readBody reads the whole body, up to limit bytes: a declared or actual length over it is
// apperr.TooLarge (413), an empty body apperr.BadRequest.
func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	b, err := httpx.ReadBody(r.Body, limit)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, apperr.Errorf(apperr.BadRequest, "the request body is empty")
	}
	return b, nil
}

func tooLarge(limit int64) error {
	return apperr.Errorf(apperr.TooLarge, "the request body is over its limit of %d bytes", limit).With("limitBytes", limit)
}

// checkText refuses bytes that are not valid UTF-8 or hold a NUL byte (PostgreSQL text and jsonb
// cannot hold NUL, and nothing downstream should have to cope with either).
func checkText(b []byte, what string) error {
	if !utf8.Valid(b) {
		return apperr.Errorf(apperr.BadRequest, "%s is not valid UTF-8", what)
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return apperr.Errorf(apperr.BadRequest, "%s contains a NUL byte", what)
	}
	return nil
}

// jsonObject checks that body is exactly one well-formed JSON object, in valid UTF-8, without
// NUL characters (raw or \u0000) and without a member name twice in any object, and returns its
// members.
func jsonObject(body []byte) (map[string]json.RawMessage, error) {
	if err := checkText(body, "the request body"); err != nil {
		return nil, err
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, apperr.Errorf(apperr.BadRequest, "the request body must be a JSON object")
	}
	var m map[string]json.RawMessage
	if err := httpx.DecodeJSON(body, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// keptHeaders are the request headers stored with a delivery, for audit and debugging. Nothing
// secret: pkg/intake drops credentials whatever is passed, and the signature is not kept.
var keptHeaders = []string{echo.HeaderContentType, "User-Agent", "Origin", "Referer", echo.HeaderXRequestID, echo.HeaderXForwardedFor}

// auditHeaders returns the kept headers of c's request, plus the client address.
func auditHeaders(c echo.Context) map[string]string {
	out := make(map[string]string, len(keptHeaders)+2)
	for _, h := range keptHeaders {
		if v := c.Request().Header.Get(h); v != "" {
			out[strings.ToLower(h)] = v
		}
	}
	if id := requestID(c); id != "" {
		out["x-request-id"] = id
	}
	out["remote-addr"] = c.RealIP()
	return out
}
