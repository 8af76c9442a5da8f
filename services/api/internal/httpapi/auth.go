package httpapi

import (
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/org"
)

const principalKey = "crm.principal"

// authenticate requires `Authorization: Bearer <key>` and `X-Org-Id: <uuid>`: no key or an
// invalid, unknown or revoked one is 401; a good key of another org than X-Org-Id is 403. Keys
// are checked through s.keys, which remembers an accepted key for Config.KeyCacheTTL (a revoked
// key is refused once its entry expires).
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, key, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			return apperr.Errorf(apperr.Unauthorized, "an API key is required: Authorization: Bearer <key>")
		}
		rawOrg := c.Request().Header.Get("X-Org-Id")
		if rawOrg == "" {
			return apperr.Errorf(apperr.Unauthorized, "the X-Org-Id header is required")
		}
		orgID, err := uuid.Parse(rawOrg)
		if err != nil || len(rawOrg) != 36 {
			return apperr.Errorf(apperr.BadRequest, "X-Org-Id must be a UUID").
				WithFields(apperr.FieldError{Field: "X-Org-Id", Message: "must be a UUID"})
		}
		p, err := s.keys.Authenticate(c.Request().Context(), strings.TrimSpace(key))
		if err != nil {
			return err
		}
		if p.OrgID != orgID {
			return apperr.Errorf(apperr.Forbidden, "this API key does not belong to org %s", orgID)
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// principal is the authenticated caller of c (set by authenticate).
func principal(c echo.Context) org.Principal {
	p, _ := c.Get(principalKey).(org.Principal)
	return p
}

// orgOf is the org the request acts for.
func orgOf(c echo.Context) uuid.UUID { return principal(c).OrgID }

// actorOf names the caller in events.actor: "apikey:<key id>".
func actorOf(c echo.Context) string { return "apikey:" + principal(c).KeyID.String() }
