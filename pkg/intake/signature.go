package intake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"example.com/crm/pkg/apperr"
)

// Webhook signatures (API.md). A sender signs each delivery with its source's secret and
// sends the header (X-Signature)
//
//	t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// The HMAC key is the secret string as shown (prefix included, as UTF-8 bytes), whatever the
// secret's format: senders of this scheme keep working unchanged across a rotation from a secret
// of the old format to one of the new (source.go). Standard Webhooks, the route's other scheme,
// keys its HMAC with the secret decoded instead (SecretKey). The header may carry several v1
// values, e.g. one per secret while a rotation is in its grace period; one match is enough.
// Other schemes (v0, v2, ...) are ignored, so that a sender may add new ones before we check them.

// SignatureTolerance is how far the signed timestamp may be from the receiver's clock, in either
// direction: older is a replay or a stuck sender, newer a wrong clock or a forged future.
const SignatureTolerance = 300 * time.Second

// Bounds of a signature header.
const (
	maxSignatureHeaderLen = 2048
	maxSignatures         = 8
	maxTimestampDigits    = 18
)

// The reasons a signature is refused. The errors VerifyWebhook returns are apperr errors that
// wrap one of these, so callers can count reasons with errors.Is while the HTTP edge maps the
// apperr code (401, or 400 for a malformed header).
var (
	ErrNoSignature        = errors.New("no signature")
	ErrMalformedSignature = errors.New("malformed signature header")
	ErrSignatureMismatch  = errors.New("signature mismatch")
	ErrSignatureStale     = errors.New("signature timestamp too old")
	ErrSignatureFuture    = errors.New("signature timestamp in the future")
)

// signatureHeader is a parsed signature header.
type signatureHeader struct {
	t    string // the timestamp's digits, as signed
	unix int64
	v1   [][]byte
}

func malformed(why string) error {
	return apperr.Wrap(ErrMalformedSignature, apperr.BadRequest,
		"signature header is malformed ("+why+"); want t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">")
}

// parseSignature reads a header of the form t=<digits>,v1=<64 hex>[,v1=...]; white space around
// items is allowed, anything else out of shape is ErrMalformedSignature.
func parseSignature(header string) (signatureHeader, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return signatureHeader{}, apperr.Wrap(ErrNoSignature, apperr.Unauthorized, "the request is not signed")
	}
	if len(header) > maxSignatureHeaderLen {
		return signatureHeader{}, malformed("too long")
	}
	var h signatureHeader
	for item := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || key == "" {
			return signatureHeader{}, malformed("an item is not key=value")
		}
		switch key {
		case "t":
			if h.t != "" {
				return signatureHeader{}, malformed("t is given twice")
			}
			if value == "" || len(value) > maxTimestampDigits || !isDigits(value) || (len(value) > 1 && value[0] == '0') {
				return signatureHeader{}, malformed("t is not a unix time in seconds")
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return signatureHeader{}, malformed("t is not a unix time in seconds")
			}
			h.t, h.unix = value, n
		case "v1":
			mac, err := hex.DecodeString(value)
			if err != nil || len(mac) != sha256.Size {
				return signatureHeader{}, malformed("v1 is not 64 hex digits")
			}
			if len(h.v1) == maxSignatures {
				return signatureHeader{}, malformed("too many v1 values")
			}
			h.v1 = append(h.v1, mac)
		}
	}
	if h.t == "" {
		return signatureHeader{}, malformed("no t")
	}
	if len(h.v1) == 0 {
		return signatureHeader{}, malformed("no v1")
	}
	return h, nil
}

// signatureOf is HMAC-SHA256(secret, "<t>.<body>").
func signatureOf(secret, t string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks the signature header of a webhook delivery of body (the raw bytes as
// received) against secrets, at time now (the receiver's clock, injected so tests need not
// sleep). It passes when one v1 value equals the HMAC under one secret that has not expired
// (compared with hmac.Equal, in constant time), and the timestamp is within SignatureTolerance
// of now in either direction. The signature is checked before the time, so that a sender with
// the right secret and a wrong clock is told so.
//
// Errors are apperr errors: BadRequest wrapping ErrMalformedSignature for a header out of
// shape; Unauthorized wrapping ErrNoSignature (empty header), ErrSignatureMismatch (no valid
// secret made any v1 value), ErrSignatureStale or ErrSignatureFuture.
func VerifyWebhook(header string, body []byte, now time.Time, secrets ...Secret) error {
	h, err := parseSignature(header)
	if err != nil {
		return err
	}
	if !signedBy(h, body, now, secrets) {
		return apperr.Wrap(ErrSignatureMismatch, apperr.Unauthorized, "the signature does not match")
	}
	return checkAge(now, h.unix, "timestamp")
}

// signedBy reports whether a v1 value of h is the HMAC of body under a secret still valid at now.
func signedBy(h signatureHeader, body []byte, now time.Time, secrets []Secret) bool {
	for _, s := range secrets {
		if s.Value == "" || (s.ExpiresAt != nil && !now.Before(*s.ExpiresAt)) {
			continue
		}
		want := signatureOf(s.Value, h.t, body)
		for _, got := range h.v1 {
			if hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}

// Sign returns the signature header value for body sent at t under secret:
// "t=<t unix seconds>,v1=<hex>". Senders and tests use it. To sign with two secrets during a
// rotation, append the v1 item of the second one's header to the first.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(signatureOf(secret, ts, body))
}

// WebhookDeliveryKey returns the delivery key of a webhook delivery (lead_intake_raw.delivery_key,
// unique per source): "wh:" + hex SHA-256 of "<t>.<raw body>", the content the signature covers.
// Call it after VerifyWebhook passed; it fails only on a malformed header.
//
// Why not a v1 value itself (RELIABILITY.md speaks of a replay cache on (source, v1)): while a
// rotation is in its grace period a sender may sign with both secrets, and a replay that kept only
// the other v1 value would then count as a new delivery. The digest of what was signed is the same
// for an exact replay whatever v1 values it carries, and distinct for every other delivery: a
// replay inside the tolerance window adds no raw row and no job (Acceptor.Accept), and one outside
// it fails VerifyWebhook.
func WebhookDeliveryKey(header string, body []byte) (string, error) {
	h, err := parseSignature(header)
	if err != nil {
		return "", err
	}
	d := sha256.New()
	d.Write([]byte(h.t))
	d.Write([]byte{'.'})
	d.Write(body)
	return "wh:" + hex.EncodeToString(d.Sum(nil)), nil
}
