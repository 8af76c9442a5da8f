package httpapi

import (
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
	e.GET("/healthz", ops)
	e.GET("/readyz", ops)
	e.GET("/metrics", ops)
	e.GET("/api/openapi.json", openapiDocument())

	e.POST("/intake/webhook/:sourceId", s.webhook, s.shed)
	e.POST("/intake/form/:formToken", s.form, s.shed)
	e.OPTIONS("/intake/form/:formToken", s.formPreflight)
	e.POST("/intake/csv", s.csvUpload)
}
