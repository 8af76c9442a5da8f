package httpapi

import (
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/org"
)

const principalKey = "crm.principal"

// authenticate requires `Authorization: Bearer <key>` and `X-Org-Id: <uuid>`, each once
// (httpx.Credentials): no key or an invalid, unknown or revoked one is 401; a good key of another org than X-Org-Id is 403. Keys
// are checked through s.keys, which remembers an accepted key for Config.KeyCacheTTL (a revoked
// key is refused once its entry expires).
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key, orgID, err := httpx.Credentials(c.Request().Header)
		if err != nil {
			return err
		}
		p, err := s.keys.Authenticate(c.Request().Context(), key)
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
