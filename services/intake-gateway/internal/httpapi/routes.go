package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"example.com/crm/pkg/httpx"
)

// routes registers every route of the gateway in one place.
func (s *Server) routes() {
	e := s.echo
	e.Use(middleware.RequestID(), s.accessLog(), recoverer())
	e.Use(checkRequest)
	e.Use(compress())

	ops := echo.WrapHandler(httpx.OpsHandler(s.Ready, s.Registry, s.Log.Named("http")))
	get(e, "/healthz", ops)
	get(e, "/readyz", ops)
	get(e, "/metrics", ops)
	get(e, "/api/openapi.json", openapiDocument())

	e.POST("/intake/webhook/:sourceId", s.webhook, s.shed)
	e.POST("/intake/form/:formToken", s.form, s.shed)
	e.OPTIONS("/intake/form/:formToken", s.formPreflight)
	e.POST("/intake/csv", s.csvUpload)
}

// get registers h for GET and HEAD on path: every GET route answers HEAD too (RFC 9110 9.3.2),
// with the same handler, status and headers. net/http drops the body a handler writes to a HEAD
// request and still counts it into Content-Length, so HEAD needs no code of its own. Register
// GET routes through get only; TestEveryRouteDocumented holds every GET to its HEAD.
func get(e *echo.Echo, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	e.Match([]string{http.MethodGet, http.MethodHead}, path, h, mw...)
}
