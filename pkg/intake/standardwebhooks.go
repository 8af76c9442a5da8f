package intake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"example.com/crm/pkg/apperr"
)

// Standard Webhooks (standardwebhooks.com, API.md): the webhook route's second signature scheme,
// so that a lead source can sign with an off-the-shelf library. A delivery carries
//
//	webhook-id: <the message's id, the same on every retry>
//	webhook-timestamp: <unix seconds of this attempt>
//	webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")> [v1,<...> ...]
//
// where key is the source's secret decoded: the part after "whsec_" as base64 (SecretKey). The
// signature header is a space-separated list (one per secret during a rotation); one v1 match is
// enough and other versions (v1a, v2, ...) are ignored. The timestamp must be within
// SignatureTolerance of the receiver's clock, as for X-Signature. The id is the delivery's key
// (StandardDeliveryKey), so a repeated id of a source is the same delivery however it was
// re-signed.

// The Standard Webhooks headers, as the specification names them (HTTP header names are
// case-insensitive).
const (
	StandardIDHeader        = "webhook-id"
	StandardTimestampHeader = "webhook-timestamp"
	StandardSignatureHeader = "webhook-signature"
)

// Bounds of a webhook-id: printable ASCII without white space and without "." (the field
// separator of the signed content, which the specification tells receivers to refuse in ids).
const maxStandardIDLen = 255

// WebhookHeaders are the signature headers a webhook delivery arrived with, of either scheme.
type WebhookHeaders struct {
	// Signature is X-Signature: t=<unix seconds>,v1=<hex> (VerifyWebhook).
	Signature string
	// ID, Timestamp and StandardSignature are webhook-id, webhook-timestamp and
	// webhook-signature (VerifyStandardWebhook).
	ID, Timestamp, StandardSignature string
}

// Standard reports whether the delivery uses Standard Webhooks: it carries any of the webhook-*
// headers. Such a delivery is judged by them alone, and an X-Signature next to them is ignored,
// so a sender that adds the standard headers to its old ones (the specification's migration
// path) is judged by the standard ones.
func (h WebhookHeaders) Standard() bool {
	return h.ID != "" || h.Timestamp != "" || h.StandardSignature != ""
}

// VerifyDelivery verifies a webhook delivery of body under either scheme (Standard picks it)
// against secrets at now, and returns its delivery key (lead_intake_raw.delivery_key): for
// Standard Webhooks StandardDeliveryKey of webhook-id, else WebhookDeliveryKey. Its errors are
// those of VerifyStandardWebhook or VerifyWebhook.
func VerifyDelivery(h WebhookHeaders, body []byte, now time.Time, secrets ...Secret) (string, error) {
	if h.Standard() {
		if err := VerifyStandardWebhook(h.ID, h.Timestamp, h.StandardSignature, body, now, secrets...); err != nil {
			return "", err
		}
		return StandardDeliveryKey(h.ID), nil
	}
	if err := VerifyWebhook(h.Signature, body, now, secrets...); err != nil {
		return "", err
	}
	return WebhookDeliveryKey(h.Signature, body)
}

// StandardDeliveryKey is the delivery key of a Standard Webhooks delivery: "swh:" + its
// webhook-id. Unique per source (lead_intake_raw's unique key), it makes a repeated id a
// duplicate: the first delivery's intake id, nothing written. The prefix keeps it apart from
// X-Signature's "wh:" keys.
func StandardDeliveryKey(id string) string { return "swh:" + id }

func standardMalformed(why string) error {
	return apperr.Wrap(ErrMalformedSignature, apperr.BadRequest,
		"Standard Webhooks headers are malformed ("+why+"); want webhook-id, webhook-timestamp (unix seconds) and "+
			"webhook-signature: v1,<base64 HMAC-SHA256 of \"<id>.<timestamp>.<body>\">")
}

// standardHeaders are parsed Standard Webhooks headers.
type standardHeaders struct {
	id   string
	t    string
	unix int64
	v1   [][]byte
}

// parseStandard checks the three headers: an id of 1 to 255 printable ASCII characters without
// "." or white space, a timestamp of digits, and a signature list with at least one v1 item (one
// that is not base64 of 32 bytes is kept as nil, which matches nothing). All three missing is
// ErrNoSignature; anything else out of shape ErrMalformedSignature.
func parseStandard(id, ts, sig string) (standardHeaders, error) {
	id, ts, sig = strings.TrimSpace(id), strings.TrimSpace(ts), strings.TrimSpace(sig)
	if id == "" && ts == "" && sig == "" {
		return standardHeaders{}, apperr.Wrap(ErrNoSignature, apperr.Unauthorized, "the request is not signed")
	}
	switch {
	case id == "":
		return standardHeaders{}, standardMalformed("no webhook-id")
	case len(id) > maxStandardIDLen:
		return standardHeaders{}, standardMalformed("webhook-id is over 255 characters")
	case !printableID(id):
		return standardHeaders{}, standardMalformed("webhook-id must be printable ASCII without '.' or spaces")
	case ts == "":
		return standardHeaders{}, standardMalformed("no webhook-timestamp")
	case sig == "":
		return standardHeaders{}, standardMalformed("no webhook-signature")
	case len(sig) > maxSignatureHeaderLen:
		return standardHeaders{}, standardMalformed("webhook-signature is too long")
	}
	if len(ts) > maxTimestampDigits || !isDigits(ts) || (len(ts) > 1 && ts[0] == '0') {
		return standardHeaders{}, standardMalformed("webhook-timestamp is not a unix time in seconds")
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return standardHeaders{}, standardMalformed("webhook-timestamp is not a unix time in seconds")
	}
	h := standardHeaders{id: id, t: ts, unix: n}
	for item := range strings.FieldsSeq(sig) {
		version, value, ok := strings.Cut(item, ",")
		if !ok || version == "" {
			return standardHeaders{}, standardMalformed("a signature is not <version>,<value>")
		}
		if version != "v1" {
			continue
		}
		if len(h.v1) == maxSignatures {
			return standardHeaders{}, standardMalformed("too many v1 signatures")
		}
		mac, err := base64.StdEncoding.DecodeString(value)
		if err != nil || len(mac) != sha256.Size {
			// A v1 that cannot be an HMAC-SHA256 matches nothing, but another v1 beside it may,
			// as the Standard Webhooks libraries take it.
			mac = nil
		}
		h.v1 = append(h.v1, mac)
	}
	if len(h.v1) == 0 {
		return standardHeaders{}, standardMalformed("no v1 signature")
	}
	return h, nil
}

func printableID(id string) bool {
	for i := range len(id) {
		if c := id[i]; c <= ' ' || c > '~' || c == '.' {
			return false
		}
	}
	return true
}

// standardSignatureOf is HMAC-SHA256(key, "<id>.<t>.<body>").
func standardSignatureOf(key []byte, id, t string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyStandardWebhook checks a Standard Webhooks delivery of body (the raw bytes as received)
// with the values of its webhook-id, webhook-timestamp and webhook-signature headers against
// secrets at now, as VerifyWebhook does for X-Signature: one v1 signature must equal the HMAC
// under the key (SecretKey) of a secret that has not expired, compared with hmac.Equal; then
// the timestamp must be within SignatureTolerance of now in either direction. A secret whose
// key cannot be decoded signs nothing in this scheme.
//
// Errors are apperr errors: BadRequest wrapping ErrMalformedSignature for headers out of shape
// (one or two of the three missing, a bad id, timestamp or signature item); Unauthorized
// wrapping ErrNoSignature (none of the three), ErrSignatureMismatch, ErrSignatureStale or
// ErrSignatureFuture.
func VerifyStandardWebhook(id, timestamp, signature string, body []byte, now time.Time, secrets ...Secret) error {
	h, err := parseStandard(id, timestamp, signature)
	if err != nil {
		return err
	}
	if !standardSignedBy(h, body, now, secrets) {
		return apperr.Wrap(ErrSignatureMismatch, apperr.Unauthorized, "the signature does not match")
	}
	return checkAge(now, h.unix, "webhook-timestamp")
}

// standardSignedBy reports whether a v1 signature of h is the HMAC of body under the key of a
// secret still valid at now.
func standardSignedBy(h standardHeaders, body []byte, now time.Time, secrets []Secret) bool {
	for _, s := range secrets {
		if s.Value == "" || (s.ExpiresAt != nil && !now.Before(*s.ExpiresAt)) {
			continue
		}
		key, err := SecretKey(s.Value)
		if err != nil {
			continue
		}
		want := standardSignatureOf(key, h.id, h.t, body)
		for _, got := range h.v1 {
			if hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}

// checkAge refuses a signed timestamp (unix seconds) more than SignatureTolerance away from now.
func checkAge(now time.Time, unix int64, what string) error {
	age := now.Sub(time.Unix(unix, 0))
	switch {
	case age > SignatureTolerance:
		return apperr.Wrap(ErrSignatureStale, apperr.Unauthorized,
			"the signature's "+what+" is more than 300 s old; sign each delivery when it is sent")
	case age < -SignatureTolerance:
		return apperr.Wrap(ErrSignatureFuture, apperr.Unauthorized,
			"the signature's "+what+" is more than 300 s in the future; check the sender's clock")
	}
	return nil
}

// SignStandard returns the webhook-signature value for a delivery of body with id sent at t,
// under secret: "v1,<base64>". Tests and Go senders use it; others use a Standard Webhooks
// library with the secret as shown.
func SignStandard(secret, id string, t time.Time, body []byte) (string, error) {
	key, err := SecretKey(secret)
	if err != nil {
		return "", err
	}
	mac := standardSignatureOf(key, id, strconv.FormatInt(t.Unix(), 10), body)
	return "v1," + base64.StdEncoding.EncodeToString(mac), nil
}
