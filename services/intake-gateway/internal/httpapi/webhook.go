package httpapi

import (
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/intake"
)

// acceptedResponse is the 202 answer of the webhook and form routes.
type acceptedResponse struct {
	IntakeID uuid.UUID `json:"intakeId"`
	Status   string    `json:"status"`
}

// SignatureHeader carries a webhook's signature: t=<unix seconds>,v1=<hex HMAC-SHA256>.
const SignatureHeader = "X-Signature"

// signatureHeaders reads the signature headers of either scheme from the request.
func signatureHeaders(c echo.Context) intake.WebhookHeaders {
	h := c.Request().Header
	return intake.WebhookHeaders{
		Signature:         h.Get(SignatureHeader),
		ID:                h.Get(intake.StandardIDHeader),
		Timestamp:         h.Get(intake.StandardTimestampHeader),
		StandardSignature: h.Get(intake.StandardSignatureHeader),
	}
}

// webhook is POST /intake/webhook/{sourceId}: a JSON lead signed with the source's secret, by
// X-Signature or by Standard Webhooks (intake.VerifyDelivery). The checks run cheapest first and
// the source's rate limit is taken only by a delivery that passed the signature, so forged
// traffic cannot use up a sender's allowance. The same delivery again is 202 with the same
// intakeId and writes nothing: under X-Signature an exact replay inside the signature's 300 s
// window (WebhookDeliveryKey), under Standard Webhooks any delivery with a webhook-id the source
// sent before (StandardDeliveryKey), however it was re-signed.
func (s *Server) webhook(c echo.Context) error {
	id, err := uuid.Parse(c.Param("sourceId"))
	if err != nil {
		return notFound()
	}
	mt, _, err := mediaType(c, mediaJSON)
	if err != nil {
		return err
	}
	body, err := readBody(c, s.Config.BodyLimit)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	src, err := s.webhookSource(ctx, id)
	if err != nil {
		return err
	}
	sig := signatureHeaders(c)
	key, err := intake.VerifyDelivery(sig, body, s.Now(), src.Secrets()...)
	if errors.Is(err, intake.ErrSignatureMismatch) {
		// Perhaps signed with a secret rotated in since the source was cached.
		fresh, reloaded, ferr := s.refreshWebhookSource(ctx, id)
		if ferr != nil {
			return ferr
		}
		if reloaded {
			src = fresh
			key, err = intake.VerifyDelivery(sig, body, s.Now(), src.Secrets()...)
		}
	}
	if err != nil {
		s.metrics.signatures.WithLabelValues(signatureReason(err)).Inc()
		return err
	}
	if _, err := jsonObject(body); err != nil {
		return err
	}
	if err := s.rateLimit(c, "webhook:"+id.String(), src.RateLimitPerMinute); err != nil {
		return err
	}
	acc, err := s.Acceptor.Accept(ctx, intake.Delivery{
		OrgID: src.OrgID, SourceID: &src.ID, DeliveryKey: key, ContentType: mt, Body: body, Headers: auditHeaders(c),
	})
	if err != nil {
		return err
	}
	s.metrics.deliveries.WithLabelValues("webhook", outcome(acc)).Inc()
	return c.JSON(http.StatusAccepted, acceptedResponse{IntakeID: acc.IntakeID, Status: "accepted"})
}

func outcome(a intake.Accepted) string {
	if a.Duplicate {
		return "duplicate"
	}
	return "accepted"
}

// signatureReason names a refused signature for the metrics.
func signatureReason(err error) string {
	switch {
	case errors.Is(err, intake.ErrNoSignature):
		return "missing"
	case errors.Is(err, intake.ErrMalformedSignature):
		return "malformed"
	case errors.Is(err, intake.ErrSignatureStale):
		return "stale"
	case errors.Is(err, intake.ErrSignatureFuture):
		return "future"
	case errors.Is(err, intake.ErrSignatureMismatch):
		return "mismatch"
	default:
		return "other"
	}
}
