package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/intake"
)

// HoneypotField is the form field that people leave empty and bots fill in: put it in the form
// hidden from people (e.g. an off-screen input named "_gotcha"). A submission with it filled in
// is answered exactly like an accepted one (202 with an intakeId, or the 303 redirect) and
// stored nowhere. Its name begins with "_" so that it clashes with no lead field or sender
// field; when it is empty it is stored with the rest of the body, as received.
const HoneypotField = "_gotcha"

// preflightMaxAge is how long a browser may cache a preflight answer, in seconds.
const preflightMaxAge = "600"

// form is POST /intake/form/{formToken}: a public form, urlencoded or JSON. A request from a
// browser carries Origin, which must be one of the source's allowed origins (else 403); one
// without Origin (a server, curl) is accepted. A request that asks for HTML (Accept: text/html)
// is sent to the source's redirect URL with 303 when it has one.
func (s *Server) form(c echo.Context) error {
	ctx := c.Request().Context()
	src, err := s.formSource(ctx, c.Param("formToken"))
	if err != nil {
		return err
	}
	if err := allowOrigin(c, src); err != nil {
		return err
	}
	mt, _, err := mediaType(c, mediaForm, mediaJSON)
	if err != nil {
		return err
	}
	body, err := readBody(c, s.Config.BodyLimit)
	if err != nil {
		return err
	}
	var trap bool
	if mt == mediaJSON {
		trap, err = jsonHoneypot(body)
	} else {
		trap, err = formHoneypot(body)
	}
	if err != nil {
		return err
	}
	if err := s.rateLimit(c, "form:"+src.ID.String(), src.RateLimitPerMinute); err != nil {
		return err
	}
	if trap {
		// Looks like success to the bot; nothing is stored.
		s.metrics.deliveries.WithLabelValues("form", "honeypot").Inc()
		return formAnswer(c, src, uuid.New())
	}
	acc, err := s.Acceptor.Accept(ctx, intake.Delivery{
		OrgID: src.OrgID, SourceID: &src.ID, DeliveryKey: "form:" + uuid.NewString(), ContentType: mt, Body: body,
		Headers: auditHeaders(c),
	})
	if err != nil {
		return err
	}
	s.metrics.deliveries.WithLabelValues("form", outcome(acc)).Inc()
	return formAnswer(c, src, acc.IntakeID)
}

// formAnswer is 303 to the redirect URL for a browser that asks for HTML, else 202 JSON.
func formAnswer(c echo.Context, src intake.Source, id uuid.UUID) error {
	if src.RedirectURL != nil && wantsHTML(c.Request()) {
		return c.Redirect(http.StatusSeeOther, *src.RedirectURL)
	}
	return c.JSON(http.StatusAccepted, acceptedResponse{IntakeID: id, Status: "accepted"})
}

// wantsHTML reports whether the request asks for an HTML page (a browser's form post does).
func wantsHTML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get(echo.HeaderAccept), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), echo.MIMETextHTML) {
			return true
		}
	}
	return false
}

// formHoneypot checks an urlencoded body (well-formed, its decoded names and values in UTF-8
// without NUL) and reports whether the honeypot is filled in.
func formHoneypot(body []byte) (bool, error) {
	if err := checkText(body, "the request body"); err != nil {
		return false, err
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return false, apperr.Errorf(apperr.BadRequest, "the request body is not a well-formed urlencoded form")
	}
	for k, vs := range values {
		for _, v := range append([]string{k}, vs...) {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				return false, apperr.Errorf(apperr.BadRequest, "a form field is not valid UTF-8 or contains a NUL byte")
			}
		}
	}
	return slices.ContainsFunc(values[HoneypotField], func(v string) bool { return strings.TrimSpace(v) != "" }), nil
}

// jsonHoneypot checks a JSON body (one object, well-formed) and reports whether the honeypot is
// filled in (anything but absent, null, false or "").
func jsonHoneypot(body []byte) (bool, error) {
	m, err := jsonObject(body)
	if err != nil {
		return false, err
	}
	v, ok := m[HoneypotField]
	if !ok {
		return false, nil
	}
	v = bytes.TrimSpace(v)
	var str string
	if json.Unmarshal(v, &str) == nil {
		return strings.TrimSpace(str) != "", nil
	}
	return !bytes.Equal(v, []byte("null")) && !bytes.Equal(v, []byte("false")), nil
}

// allowOrigin applies the source's allowed origins to a request that carries Origin, and sets
// the CORS answer headers for an allowed one (also on error answers, so the page can read them).
func allowOrigin(c echo.Context, src intake.Source) error {
	h := c.Response().Header()
	h.Add(echo.HeaderVary, echo.HeaderOrigin)
	origin := c.Request().Header.Get(echo.HeaderOrigin)
	if origin == "" {
		return nil
	}
	if !slices.Contains(src.AllowedOrigins, strings.ToLower(origin)) {
		return apperr.Errorf(apperr.Forbidden, "origin %q may not post this form", origin)
	}
	h.Set(echo.HeaderAccessControlAllowOrigin, origin)
	h.Set(echo.HeaderAccessControlExposeHeaders, "Retry-After, X-Request-Id")
	return nil
}

// formPreflight is OPTIONS /intake/form/{formToken}: the CORS preflight of a cross-origin JSON
// post. An allowed origin gets 204 with the CORS headers; any other 403.
func (s *Server) formPreflight(c echo.Context) error {
	src, err := s.formSource(c.Request().Context(), c.Param("formToken"))
	if err != nil {
		return err
	}
	if err := allowOrigin(c, src); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderAllow, "OPTIONS, POST")
	if c.Request().Header.Get(echo.HeaderOrigin) != "" {
		h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestMethod)
		h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestHeaders)
		h.Set(echo.HeaderAccessControlAllowMethods, "POST")
		h.Set(echo.HeaderAccessControlAllowHeaders, "Content-Type, Accept, X-Request-Id")
		h.Set(echo.HeaderAccessControlMaxAge, preflightMaxAge)
	}
	return c.NoContent(http.StatusNoContent)
}
