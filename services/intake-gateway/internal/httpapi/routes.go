package httpapi

import (
	"context"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"example.com/crm/pkg/httpx"
)

// routes registers every route of the gateway in one place.
func (s *Server) routes() {
	e := s.echo
	e.Use(middleware.RequestID(), s.accessLog(), recoverer())
	e.Use(compress())

	ops := echo.WrapHandler(httpx.OpsHandler(func(ctx context.Context) error { return s.DB.Ready(ctx) }, s.Registry))
	e.GET("/healthz", ops)
	e.GET("/readyz", ops)
	e.GET("/metrics", ops)

	e.POST("/intake/webhook/:sourceId", s.webhook, s.shed)
	e.POST("/intake/form/:formToken", s.form, s.shed)
	e.OPTIONS("/intake/form/:formToken", s.formPreflight)
	e.POST("/intake/csv", s.csvUpload)
}
