package httpapi

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"example.com/crm/pkg/httpx"
)

// compress gzips answers of httpx.CompressMinLength bytes and more for clients that accept gzip
// (httpx.AcceptsGzip, q-values honoured): the OpenAPI document, Swagger UI's assets, long lists. Shorter answers, problems included, go out as
// they are. Every answer says Vary: Accept-Encoding, since it depends on it; a compressed one
// has no Content-Length (the server frames it) and sends a strong ETag as a weak one
// (httpx.WeakETagWhenEncoded), which If-None-Match still matches. Flushes pass through, so a
// streamed answer still streams. The operational routes are left alone: /metrics compresses by
// itself, the others are a few bytes.
func compress() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		gzip := middleware.GzipWithConfig(middleware.GzipConfig{MinLength: httpx.CompressMinLength})(next)
		return func(c echo.Context) error {
			switch c.Path() {
			case "/healthz", "/readyz", "/metrics":
				return next(c)
			}
			res := c.Response()
			if !httpx.AcceptsGzip(c.Request().Header.Get(echo.HeaderAcceptEncoding)) {
				res.Header().Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
				return next(c)
			}
			w := res.Writer
			res.Writer = httpx.WeakETagWhenEncoded(w)
			defer func() { res.Writer = w }()
			return gzip(c) // adds the Vary itself
		}
	}
}
