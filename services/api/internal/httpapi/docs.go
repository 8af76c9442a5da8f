package httpapi

import "github.com/labstack/echo/v4"

// docsRoutes serves the OpenAPI document and Swagger UI (see openapi.go once written).
func (s *Server) docsRoutes(*echo.Echo) {}
