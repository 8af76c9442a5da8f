package httpapi

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/idempotency"
)

// idempotent makes POST and PATCH honour an Idempotency-Key header: the first request's
// response is stored for 24 hours and replayed to a repeat with the same body; the same key with
// another body is 422, and a repeat while the first still runs is 409. 5xx responses are not
// stored, so a retry runs again.
func (s *Server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		// A header that is present but empty is a malformed key, not an absent one: a client that
		// meant to send a key must learn that it did not.
		keys := req.Header.Values("Idempotency-Key")
		if len(keys) == 0 || (req.Method != http.MethodPost && req.Method != http.MethodPatch) {
			return next(c)
		}
		// A repeated header never gets here: checkRequest refuses it first (httpx.SingletonHeaders).
		key := keys[0]
		if !idempotency.ValidKey(key) {
			return apperr.Errorf(apperr.BadRequest, "Idempotency-Key must be 1 to 255 printable ASCII characters").
				WithFields(apperr.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"})
		}
		body, err := httpx.ReadBody(req.Body, s.Config.BodyLimit)
		if err != nil {
			return err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		h := sha256.New()
		_, _ = io.WriteString(h, req.Method+"\n"+req.URL.Path+"\n"+req.URL.RawQuery+"\n")
		_, _ = h.Write(body)
		orgID := orgOf(c)
		stored, err := idempotency.Begin(req.Context(), s.DB, orgID, key, req.Method, req.URL.Path, h.Sum(nil))
		if err != nil {
			return err
		}
		if stored != nil {
			c.Response().Header().Set("Idempotent-Replayed", "true")
			if stored.Location != "" {
				c.Response().Header().Set(echo.HeaderLocation, stored.Location)
			}
			return c.Blob(stored.Status, stored.ContentType, stored.Body)
		}

		rec := &recorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		err = next(c)
		if err != nil {
			// Let the error handler write the problem now, so it is what gets stored.
			s.handleError(err, c)
		}
		ctx := req.Context()
		if c.Response().Status >= 500 {
			if aerr := idempotency.Abandon(ctx, s.DB, orgID, key); aerr != nil {
				s.Log.Error("abandoning idempotency key failed", zap.Error(aerr), zap.String("request_id", requestID(c)))
			}
			return nil
		}
		resp := idempotency.Stored{Status: c.Response().Status, ContentType: c.Response().Header().Get(echo.HeaderContentType),
			Location: c.Response().Header().Get(echo.HeaderLocation), Body: rec.buf.Bytes()}
		if ferr := idempotency.Finish(ctx, s.DB, orgID, key, resp); ferr != nil {
			s.Log.Error("storing idempotent response failed", zap.Error(ferr), zap.String("request_id", requestID(c)))
		}
		return nil
	}
}

// recorder copies what is written to the client.
type recorder struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}
