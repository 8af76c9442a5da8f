package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/httpx"
)

// compress gzips answers of httpx.CompressMinLength bytes and more for clients that accept gzip
// (httpx.Compress): the OpenAPI document, Swagger UI's assets, long lists. A handler's error is written inside, so that the
// problem goes out through the same writer. The operational routes are left alone: /metrics
// compresses by itself, the others are a few bytes.
func compress() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			switch c.Path() {
			case "/healthz", "/readyz", "/metrics":
				return next(c)
			}
			res := c.Response()
			w := res.Writer
			defer func() { res.Writer = w }()
			httpx.Compress(http.HandlerFunc(func(cw http.ResponseWriter, _ *http.Request) {
				res.Writer = cw
				if err := next(c); err != nil {
					c.Error(err)
				}
			})).ServeHTTP(w, c.Request())
			return nil
		}
	}
}
