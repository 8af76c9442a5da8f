package httpapi

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
)

// The OpenAPI document is written by hand in YAML (openapi.yaml, next to this file) and served as
// JSON. Swagger UI comes from the swagger-ui-dist npm package (see swaggerui/README.md) and is
// embedded, so /api/docs works without internet access.

//go:embed openapi.yaml
var openapiYAML []byte

//go:embed swaggerui
var swaggerUI embed.FS

// staticFile is one embedded file, ready to serve.
type staticFile struct {
	body        []byte
	contentType string
	etag        string
	cache       string
}

var (
	docsOnce  sync.Once
	docsFiles map[string]staticFile // by name under /api/docs/; "openapi.json" is served apart
	docsJSON  staticFile
)

// docsContentTypes of the files that are embedded; a file of another kind is a build mistake.
var docsContentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".png":  "image/png",
	".txt":  "text/plain; charset=utf-8",
	"":      "text/plain; charset=utf-8", // LICENSE, NOTICE
}

// loadDocs parses and validates the embedded document and indexes the Swagger UI files, once. It
// panics when either is broken: that is a build mistake, which the tests catch.
func loadDocs() {
	docsOnce.Do(func() {
		doc, err := loadOpenAPI(openapiYAML)
		if err != nil {
			panic(fmt.Sprintf("httpapi: embedded openapi.yaml: %v", err))
		}
		b, err := json.Marshal(doc)
		if err != nil {
			panic(fmt.Sprintf("httpapi: encode OpenAPI document: %v", err))
		}
		docsJSON = newStaticFile(b, "application/json", "no-cache")

		docsFiles = map[string]staticFile{}
		err = fs.WalkDir(swaggerUI, "swaggerui", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			name := strings.TrimPrefix(p, "swaggerui/")
			if name == "README.md" {
				return nil // provenance notes for maintainers, not served
			}
			ct, ok := docsContentTypes[path.Ext(name)]
			if !ok {
				return fmt.Errorf("no content type for %s", name)
			}
			b, err := swaggerUI.ReadFile(p)
			if err != nil {
				return err
			}
			// The page itself must pick up a new version at once; the assets may be cached for a
			// day and are revalidated by ETag after that.
			cache := "public, max-age=86400"
			if name == "index.html" {
				cache = "no-cache"
			}
			docsFiles[name] = newStaticFile(b, ct, cache)
			return nil
		})
		if err != nil {
			panic(fmt.Sprintf("httpapi: embedded Swagger UI: %v", err))
		}
		if _, ok := docsFiles["index.html"]; !ok {
			panic("httpapi: embedded Swagger UI has no index.html")
		}
	})
}

// loadOpenAPI parses a YAML or JSON OpenAPI document and validates it.
func loadOpenAPI(data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return doc, nil
}

func newStaticFile(b []byte, contentType, cache string) staticFile {
	sum := sha256.Sum256(b)
	return staticFile{body: b, contentType: contentType, cache: cache, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// docsRoutes serves the OpenAPI document at /api/openapi.json and Swagger UI at /api/docs, both
// without authentication: the contract is public, the data behind it is not.
func (s *Server) docsRoutes(e *echo.Echo) {
	loadDocs()
	get(e, "/api/openapi.json", func(c echo.Context) error { return serveStatic(c, docsJSON) })
	// The page is /api/docs/index.html: it loads its assets by relative URLs, which resolve
	// under /api/docs/ only. /api/docs and /api/docs/ send the browser there (relative
	// Locations, so a path prefix added by a proxy is kept). The page has a name of its own
	// because the document has no path ending in a slash; /api/docs/ is answered before
	// routing, as a convenience outside it.
	get(e, "/api/docs", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "docs/index.html") })
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.URL.Path == "/api/docs/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				return c.Redirect(http.StatusMovedPermanently, "index.html")
			}
			return next(c)
		}
	})
	get(e, "/api/docs/:file", func(c echo.Context) error {
		f, ok := docsFiles[c.Param("file")]
		if !ok {
			return apperr.Errorf(apperr.NotFound, "no such file")
		}
		return serveStatic(c, f)
	})
}

// docsCSP keeps the Swagger UI page to its own origin: its scripts, styles and the document all
// come from this server. Swagger UI sets style attributes, hence 'unsafe-inline' for styles only.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// serveStatic writes f with its validators; a matching If-None-Match is 304.
func serveStatic(c echo.Context, f staticFile) error {
	h := c.Response().Header()
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", f.cache)
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(f.contentType, "text/html") {
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("Referrer-Policy", "no-referrer")
	}
	if etagMatch(c.Request().Header.Get("If-None-Match"), f.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, f.contentType, f.body)
}

// etagMatch reports whether an If-None-Match header names etag (weak comparison, RFC 9110 13.1.2).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
