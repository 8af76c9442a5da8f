package httpapi

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
)

// The gateway's OpenAPI document is written by hand in YAML (openapi.yaml, next to this file),
// embedded, and served as JSON at GET /api/openapi.json. The tests validate every exchange of
// the suite against it (harness_test.go, openapi_test.go).

//go:embed openapi.yaml
var openapiYAML []byte

// openapiDoc is the document as served: JSON, with its ETag.
type openapiDoc struct {
	body []byte
	etag string
}

// loadOpenAPI parses and validates the embedded document and encodes it as JSON, once. It
// panics when the document is broken: that is a build mistake, which the tests catch.
var loadOpenAPI = sync.OnceValue(func() openapiDoc {
	doc, err := openapi3.NewLoader().LoadFromData(openapiYAML)
	if err != nil {
		panic(fmt.Sprintf("httpapi: embedded openapi.yaml: load: %v", err))
	}
	if err := doc.Validate(context.Background()); err != nil {
		panic(fmt.Sprintf("httpapi: embedded openapi.yaml: validate: %v", err))
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("httpapi: encode OpenAPI document: %v", err))
	}
	sum := sha256.Sum256(b)
	return openapiDoc{body: b, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
})

// openapiDocument returns the handler of GET /api/openapi.json: the gateway's OpenAPI document,
// without authentication (the contract is public), revalidated by ETag. The document is loaded
// here, when the routes are registered, so a broken one stops the binary at its start.
func openapiDocument() echo.HandlerFunc {
	d := loadOpenAPI()
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("ETag", d.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if etagMatch(c.Request().Header.Get("If-None-Match"), d.etag) {
			return c.NoContent(http.StatusNotModified)
		}
		return c.Blob(http.StatusOK, "application/json", d.body)
	}
}

// etagMatch reports whether an If-None-Match header names etag (weak comparison, RFC 9110 13.1.2).
func etagMatch(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
