package httpx

import (
	"net/http"
	"strings"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
)

// Credentials reads the API's credentials from h: `Authorization: Bearer <key>` and
// `X-Org-Id: <uuid>`. No key, or another scheme, is apperr.Unauthorized, and so is no org; an
// org that is not a UUID in its 36-character form is apperr.BadRequest. Either header given
// more than once is apperr.BadRequest on that header: taking the first copy would let a client
// (or a proxy that appends a header) act for an org other than the one it meant. The key is
// returned trimmed and unchecked; the caller authenticates it.
func Credentials(h http.Header) (key string, orgID uuid.UUID, err error) {
	if err := CheckSingleHeaders(h, "Authorization", "X-Org-Id"); err != nil {
		return "", uuid.Nil, err
	}
	scheme, key, ok := strings.Cut(h.Get("Authorization"), " ")
	key = strings.TrimSpace(key)
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		return "", uuid.Nil, apperr.Errorf(apperr.Unauthorized, "an API key is required: Authorization: Bearer <key>")
	}
	rawOrg := h.Get("X-Org-Id")
	if rawOrg == "" {
		return "", uuid.Nil, apperr.Errorf(apperr.Unauthorized, "the X-Org-Id header is required")
	}
	orgID, err = uuid.Parse(rawOrg)
	if err != nil || len(rawOrg) != 36 {
		return "", uuid.Nil, apperr.Errorf(apperr.BadRequest, "X-Org-Id must be a UUID").
			WithFields(apperr.FieldError{Field: "X-Org-Id", Message: "must be a UUID"})
	}
	return key, orgID, nil
}

// SingletonHeaders are the request headers that mean one thing each: credentials, the
// idempotency key, the body's media type and the signature schemes of the intake gateway. Both
// services refuse a request that repeats one (CheckSingleHeaders), whatever the route.
var SingletonHeaders = []string{
	"Authorization", "X-Org-Id", "Idempotency-Key", "Content-Type",
	"X-Signature", "webhook-id", "webhook-timestamp", "webhook-signature",
}

// CheckSingleHeaders refuses (apperr.BadRequest, on that header) a request in which one of names
// appears more than once. Go's Header.Get reads the first copy only, so a repeated header would
// otherwise be half read: a second X-Org-Id or signature that a client or proxy appended would
// go unseen. Names are checked in the order given, so the answer is always the same.
func CheckSingleHeaders(h http.Header, names ...string) error {
	for _, name := range names {
		if len(h.Values(name)) > 1 {
			return apperr.Errorf(apperr.BadRequest, "the %s header is given more than once", name).
				WithFields(apperr.FieldError{Field: name, Message: "must be given once"})
		}
	}
	return nil
}
