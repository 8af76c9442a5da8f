package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// documentRoute is the handler of a GET /<entities>/{id}/document route: read returns the
// stored PDF of the org's entity id (apperr.NotFound when the org has no such entity or it has no
// document), served by servePDF.
func documentRoute(read func(ctx context.Context, orgID, id uuid.UUID) ([]byte, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathUUID(c, "id")
		if err != nil {
			return err
		}
		doc, err := read(c.Request().Context(), orgOf(c), id)
		if err != nil {
			return err
		}
		return servePDF(c, doc)
	}
}

// servePDF answers with a stored document whose bytes never change: application/pdf with its
// hex SHA-256 as the ETag, or 304 when If-None-Match holds that ETag.
func servePDF(c echo.Context, doc []byte) error {
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	hd := c.Response().Header()
	hd.Set("ETag", etag)
	hd.Set("Cache-Control", "private, no-cache")
	if etagMatch(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, "application/pdf", doc)
}
