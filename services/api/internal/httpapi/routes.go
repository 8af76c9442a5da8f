package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/lead"
)

// routes registers every route of the API in one place.
func (s *Server) routes() {
	e := s.echo
	e.Use(middleware.RequestID(), s.accessLog(), recoverer())
	if len(s.Config.CORSOrigins) > 0 {
		// Without configured origins no CORS headers are sent and browsers keep other sites out.
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  s.Config.CORSOrigins,
			AllowMethods:  []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete},
			AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, "X-Org-Id", "Idempotency-Key", echo.HeaderXRequestID},
			ExposeHeaders: []string{echo.HeaderXRequestID, "Idempotent-Replayed", "Retry-After", echo.HeaderLocation},
			MaxAge:        600,
		}))
	}
	e.Use(middleware.ContextTimeout(requestTimeout))
	e.Use(compress())

	ops := echo.WrapHandler(httpx.OpsHandler(s.Ready, s.Registry, s.Log.Named("http")))
	get(e, "/healthz", ops)
	get(e, "/readyz", ops)
	get(e, "/metrics", ops)
	s.docsRoutes(e)

	// Authenticated routes carry their middleware per route (not as a group), so that an unknown
	// path is a plain 404 and a wrong method a 405, before any authentication.
	api := router{e: e, mw: []echo.MiddlewareFunc{checkRequest, s.authenticate, s.idempotent}}
	// One lead service for the routes of every domain that changes leads.
	leads := lead.NewService(s.DB, s.Emitter)
	s.leadRoutes(api, leads)
	s.callRoutes(api, leads)
	s.dealRoutes(api, leads)
	s.intakeSourceRoutes(api)
	s.intakeSubmissionRoutes(api)
	s.observabilityRoutes(api)
	s.settingsRoutes(api)
	s.invoiceRoutes(api)
	s.contractRoutes(api)
	s.clientRoutes(api)
	s.scheduleRoutes(api)
	s.reportRoutes(api)
	s.timelineRoutes(api)
	s.analyticsRoutes(api)
}

// router registers routes with a fixed middleware chain.
type router struct {
	e  *echo.Echo
	mw []echo.MiddlewareFunc
}

func (r router) GET(path string, h echo.HandlerFunc)    { get(r.e, path, h, r.mw...) }
func (r router) POST(path string, h echo.HandlerFunc)   { r.e.POST(path, h, r.mw...) }
func (r router) PATCH(path string, h echo.HandlerFunc)  { r.e.PATCH(path, h, r.mw...) }
func (r router) PUT(path string, h echo.HandlerFunc)    { r.e.PUT(path, h, r.mw...) }
func (r router) DELETE(path string, h echo.HandlerFunc) { r.e.DELETE(path, h, r.mw...) }

// get registers h for GET and HEAD on path: every GET route answers HEAD too (RFC 9110 9.3.2),
// with the same handler, status and headers. net/http drops the body a handler writes to a HEAD
// request and still counts it into Content-Length, so HEAD needs no code of its own. Register
// GET routes through get (or router.GET) only; TestEveryRouteDocumented holds every GET to its
// HEAD.
func get(e *echo.Echo, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	e.Match([]string{http.MethodGet, http.MethodHead}, path, h, mw...)
}
