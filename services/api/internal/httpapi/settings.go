package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/org"
	"example.com/crm/pkg/rules"
)

// settingsRoutes registers the org settings routes: the ideal customer profile that
// qualification scores leads against, and the rules of the scheduled checks (rules.For, with
// the configured defaults).
func (s *Server) settingsRoutes(r router) {
	h := &settingsHandlers{s: s}
	r.GET("/settings/icp", h.getICP)
	r.PUT("/settings/icp", h.putICP)
	settingRoutes(s, r, "/settings/rules", rules.For(s.Rules), rulesRequest.rules)
}

// rulesRequest is the body of PUT /settings/rules: every threshold, replacing the stored ones
// (rules.Rules.Check's bounds, 422 per field).
type rulesRequest struct {
	DealDecayDays        *dealDecayRequest `json:"dealDecayDays" validate:"required"`
	LeadStaleDays        *int              `json:"leadStaleDays" validate:"required"`
	GhostRiskSilenceDays *int              `json:"ghostRiskSilenceDays" validate:"required"`
}

type dealDecayRequest struct {
	Discovery   *int `json:"discovery" validate:"required"`
	Proposal    *int `json:"proposal" validate:"required"`
	Negotiation *int `json:"negotiation" validate:"required"`
}

// rules is the request's value; validation has made every field present.
func (r rulesRequest) rules() rules.Rules {
	return rules.Rules{
		DealDecayDays: rules.DealDecayDays{
			Discovery: *r.DealDecayDays.Discovery, Proposal: *r.DealDecayDays.Proposal, Negotiation: *r.DealDecayDays.Negotiation,
		},
		LeadStaleDays: *r.LeadStaleDays, GhostRiskSilenceDays: *r.GhostRiskSilenceDays,
	}
}

// settingsHandlers are the settings routes' handlers.
type settingsHandlers struct {
	s *Server
}

// icpRequest is the body of PUT /settings/icp: the whole ICP, replacing the stored one. An
// absent or null list is empty ("no preference"). The limits are org.ICP's.
type icpRequest struct {
	Industries      []string `json:"industries" validate:"max=50,dive,min=1,max=100,nocontrol"`
	MinEmployees    *int     `json:"minEmployees" validate:"omitnil,min=1,max=10000000"`
	MaxEmployees    *int     `json:"maxEmployees" validate:"omitnil,min=1,max=10000000"`
	Titles          []string `json:"titles" validate:"max=50,dive,min=1,max=100,nocontrol"`
	Seniorities     []string `json:"seniorities" validate:"max=10,dive,oneof=owner founder c_level vp head director manager senior entry"`
	Countries       []string `json:"countries" validate:"max=250,dive,len=2,alpha"`
	Keywords        []string `json:"keywords" validate:"max=100,dive,min=1,max=100,nocontrol"`
	ExcludedDomains []string `json:"excludedDomains" validate:"max=500,dive,max=253,fqdn"`
}

// getICP answers the org's ICP (the empty ICP when it never set one).
func (h *settingsHandlers) getICP(c echo.Context) error {
	icp, err := org.GetICP(c.Request().Context(), h.s.DB, orgOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, icp)
}

// putICP replaces the org's ICP and emits org.icp_updated (org.SetICP); a PUT that changes
// nothing emits nothing.
func (h *settingsHandlers) putICP(c echo.Context) error {
	var req icpRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	in := org.ICP{
		Industries: req.Industries, MinEmployees: req.MinEmployees, MaxEmployees: req.MaxEmployees,
		Titles: req.Titles, Seniorities: req.Seniorities, Countries: req.Countries, Keywords: req.Keywords,
		ExcludedDomains: req.ExcludedDomains,
	}
	out, err := org.SetICP(c.Request().Context(), h.s.DB, h.s.Emitter, orgOf(c), actorOf(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// settingRoutes registers GET and PUT path for the org setting set (org.Setting, one row of
// org_settings): GET answers the org's value (the setting's default when it saved none) in one
// round trip; PUT binds and validates a Req, makes the value of it with in, and answers the
// value as stored, or the setting's check's 422 with nothing written. A new /settings/<name>
// route is one call of it.
func settingRoutes[Req, T any](s *Server, r router, path string, set org.Setting[T], in func(Req) T) {
	r.GET(path, func(c echo.Context) error {
		out, err := set.Read(c.Request().Context(), s.DB, orgOf(c))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	})
	r.PUT(path, func(c echo.Context) error {
		var req Req
		if err := s.bindJSON(c, &req); err != nil {
			return err
		}
		out, err := set.Save(c.Request().Context(), s.DB, orgOf(c), in(req))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	})
}
