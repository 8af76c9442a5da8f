package intake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
)

// Kind is how a source delivers leads.
type Kind string

// The source kinds.
const (
	// KindWebhook posts signed JSON to /intake/webhook/{sourceId}; it has a signing secret.
	KindWebhook Kind = "webhook"
	// KindForm is a public web form posting to /intake/form/{formToken}; it has a public token,
	// and optionally a redirect URL and allowed origins.
	KindForm Kind = "form"
	// KindCSV names CSV imports (POST /intake/csv, authenticated with an API key).
	KindCSV Kind = "csv"
)

// Valid reports whether k is a kind.
func (k Kind) Valid() bool { return k == KindWebhook || k == KindForm || k == KindCSV }

// LeadFields are the lead fields a field mapping may map to (API.md "Lead fields").
var LeadFields = []string{
	"email", "name", "firstName", "lastName", "company", "website", "domain", "title", "phone",
	"profileLink", "source", "notes",
}

// Limits of a source's settings.
const (
	MaxNameLen         = 200
	MaxURLLen          = 2048
	MaxOrigins         = 20
	MaxOriginLen       = 300
	MaxMappings        = 100
	MaxMappingKeyLen   = 100
	MinRateLimit       = 1
	MaxRateLimit       = 100000
	DefaultRateLimit   = 600
	DefaultGracePeriod = 24 * time.Hour
	MaxGracePeriod     = 7 * 24 * time.Hour
)

// Source is an intake source as the API shows it. Its signing secrets are never part of it:
// they leave the package only as the Secrets the gateway verifies with, and once, in clear, in
// the answer to Create and RotateSecret.
type Source struct {
	ID   uuid.UUID `json:"id"`
	Kind Kind      `json:"kind"`
	Name string    `json:"name"`
	// PublicToken is the form's token in /intake/form/{formToken} (form sources; else null). It
	// is public by design: it sits in the form's HTML.
	PublicToken *string `json:"publicToken"`
	// RedirectURL is where a browser is sent (303) after posting the form (form sources).
	RedirectURL *string `json:"redirectUrl"`
	// AllowedOrigins are the browser origins that may post the form (CORS); empty is none.
	AllowedOrigins []string `json:"allowedOrigins"`
	// FieldMapping maps the sender's field names to lead fields.
	FieldMapping FieldMapping `json:"fieldMapping"`
	// RateLimitPerMinute is the gateway's limit for this source.
	RateLimitPerMinute int `json:"rateLimitPerMinute"`
	// HasPreviousSecret says that the secret before the last rotation is still accepted, until
	// PreviousSecretExpiresAt.
	HasPreviousSecret       bool       `json:"hasPreviousSecret"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
	// OrgID is the org the source belongs to (internal; the API knows it from the request).
	OrgID uuid.UUID `json:"-"`

	secrets []Secret
}

// Secrets returns the secrets a webhook signature may be made with: the current one, and the
// one before the last rotation with its expiry while it has one. Only a source loaded by
// SourceForWebhook (or the store) carries them; pass them to VerifyWebhook.
func (s Source) Secrets() []Secret { return slices.Clone(s.secrets) }

// Secret is one webhook signing secret: "whsec_<base64>". X-Signature's HMAC key is the secret
// string exactly as shown (prefix included), as UTF-8 bytes; Standard Webhooks' is the secret
// decoded (SecretKey).
type Secret struct {
	Value string
	// ExpiresAt, when not nil, is the end of the secret's grace period after a rotation: from
	// then on it is refused.
	ExpiresAt *time.Time
}

// FieldMapping maps a sender's field names to lead fields (LeadFields), e.g. {"e-mail": "email"}.
// It is stored as a jsonb object.
type FieldMapping map[string]string

// MarshalJSON writes the mapping, {} when empty.
func (m FieldMapping) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]string(m))
}

// NewSource is the input of Create. RateLimitPerMinute 0 is DefaultRateLimit.
type NewSource struct {
	Kind               Kind
	Name               string
	RedirectURL        string
	AllowedOrigins     []string
	FieldMapping       FieldMapping
	RateLimitPerMinute int
}

// Patch is the input of Update: a nil field is left as it is. RedirectURL "" clears it;
// AllowedOrigins and FieldMapping, when not nil, replace the whole list or object (empty clears
// it). The kind cannot change: Kind, when not nil, must be the source's kind.
type Patch struct {
	Kind               *Kind
	Name               *string
	RedirectURL        *string
	AllowedOrigins     *[]string
	FieldMapping       FieldMapping
	RateLimitPerMinute *int
}

// Created is the answer of Create and RotateSecret: the source, and for a webhook source its
// new signing secret in clear. The secret is shown this once; it is never read back.
type Created struct {
	Source
	SigningSecret string `json:"signingSecret,omitempty"`
}

// sourceSettings are the checked, normalised settings of a source.
type sourceSettings struct {
	name           string
	redirectURL    *string
	allowedOrigins []string
	fieldMapping   FieldMapping
	rateLimit      int
}

// checkSettings checks and normalises the settings of a source of kind k and returns every
// rule broken as a field error.
func checkSettings(k Kind, st sourceSettings) (sourceSettings, []apperr.FieldError) {
	var fields []apperr.FieldError
	st.name = strings.TrimSpace(st.name)
	switch n := utf8.RuneCountInString(st.name); {
	case n == 0:
		fields = append(fields, apperr.FieldError{Field: "name", Message: "is required"})
	case n > MaxNameLen || !utf8.ValidString(st.name):
		fields = append(fields, apperr.FieldError{Field: "name", Message: fmt.Sprintf("must have at most %d characters", MaxNameLen)})
	case hasControl(st.name):
		fields = append(fields, apperr.FieldError{Field: "name", Message: "must not contain control characters"})
	}
	if st.redirectURL != nil {
		u := strings.TrimSpace(*st.redirectURL)
		switch {
		case u == "":
			st.redirectURL = nil
		case k != KindForm:
			fields = append(fields, apperr.FieldError{Field: "redirectUrl", Message: "only form sources have a redirect URL"})
		default:
			if msg := checkRedirectURL(u); msg != "" {
				fields = append(fields, apperr.FieldError{Field: "redirectUrl", Message: msg})
			}
			st.redirectURL = &u
		}
	}
	if len(st.allowedOrigins) > 0 && k != KindForm {
		fields = append(fields, apperr.FieldError{Field: "allowedOrigins", Message: "only form sources have allowed origins"})
	}
	if len(st.allowedOrigins) > MaxOrigins {
		fields = append(fields, apperr.FieldError{Field: "allowedOrigins", Message: fmt.Sprintf("must have at most %d origins", MaxOrigins)})
	}
	origins := make([]string, 0, len(st.allowedOrigins))
	for i, o := range st.allowedOrigins {
		norm, msg := normalizeOrigin(o)
		if msg != "" {
			fields = append(fields, apperr.FieldError{Field: fmt.Sprintf("allowedOrigins[%d]", i), Message: msg})
			continue
		}
		if !slices.Contains(origins, norm) {
			origins = append(origins, norm)
		}
	}
	st.allowedOrigins = origins
	if len(st.fieldMapping) > MaxMappings {
		fields = append(fields, apperr.FieldError{Field: "fieldMapping", Message: fmt.Sprintf("must have at most %d entries", MaxMappings)})
	}
	for _, from := range slices.Sorted(maps.Keys(st.fieldMapping)) {
		to := st.fieldMapping[from]
		path := "fieldMapping." + from
		switch n := utf8.RuneCountInString(from); {
		case n == 0 || strings.TrimSpace(from) == "":
			fields = append(fields, apperr.FieldError{Field: "fieldMapping", Message: "sender field names must not be empty"})
		case n > MaxMappingKeyLen || !utf8.ValidString(from) || hasControl(from):
			// Not echoed back: the name is what is wrong.
			fields = append(fields, apperr.FieldError{Field: "fieldMapping",
				Message: fmt.Sprintf("sender field names must have 1 to %d characters without control characters", MaxMappingKeyLen)})
		case !slices.Contains(LeadFields, to):
			fields = append(fields, apperr.FieldError{Field: path, Message: "must be one of: " + strings.Join(LeadFields, ", ")})
		}
	}
	if st.fieldMapping == nil {
		st.fieldMapping = FieldMapping{}
	}
	if st.rateLimit < MinRateLimit || st.rateLimit > MaxRateLimit {
		fields = append(fields, apperr.FieldError{Field: "rateLimitPerMinute",
			Message: fmt.Sprintf("must be an integer from %d to %d", MinRateLimit, MaxRateLimit)})
	}
	return st, fields
}

// checkRedirectURL returns why u is not a redirect URL, or "": an absolute https URL, or http
// to a loopback host (local development), with a host, no user info and no fragment.
func checkRedirectURL(u string) string {
	const msg = "must be an https URL (http only for localhost)"
	if utf8.RuneCountInString(u) > MaxURLLen {
		return fmt.Sprintf("must have at most %d characters", MaxURLLen)
	}
	if hasControl(u) || strings.ContainsAny(u, " \\") {
		return msg
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.Hostname() == "" || p.User != nil || p.Fragment != "" || p.Opaque != "" {
		return msg
	}
	switch strings.ToLower(p.Scheme) {
	case "https":
	case "http":
		if !isLoopback(p.Hostname()) {
			return msg
		}
	default:
		return msg
	}
	if port := p.Port(); port != "" && !validPort(port) {
		return msg
	}
	return ""
}

// normalizeOrigin returns o as a browser sends it in the Origin header (scheme://host[:port],
// lower case, default port dropped), or why it is not an origin.
func normalizeOrigin(o string) (string, string) {
	const msg = "must be an origin: https://host[:port] (http only for localhost), without path"
	o = strings.TrimSpace(o)
	if o == "" || utf8.RuneCountInString(o) > MaxOriginLen || hasControl(o) || strings.ContainsAny(o, " \\") {
		return "", msg
	}
	p, err := url.Parse(o)
	if err != nil || p.Opaque != "" || p.User != nil || p.Path != "" || p.RawQuery != "" || p.ForceQuery ||
		p.Fragment != "" || strings.Contains(o, "#") || p.Hostname() == "" || strings.Contains(p.Hostname(), "*") {
		return "", msg
	}
	scheme, host, port := strings.ToLower(p.Scheme), strings.ToLower(p.Hostname()), p.Port()
	switch scheme {
	case "https":
	case "http":
		if !isLoopback(host) {
			return "", msg
		}
	default:
		return "", msg
	}
	if port != "" && !validPort(port) {
		return "", msg
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, ""
	}
	return scheme + "://" + host, ""
}

func isLoopback(host string) bool {
	host = strings.ToLower(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validPort(port string) bool {
	if len(port) > 5 || !isDigits(port) {
		return false
	}
	n := 0
	for _, r := range port {
		n = n*10 + int(r-'0')
	}
	return n >= 1 && n <= 65535
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return true
		}
	}
	return false
}

func invalid(fields []apperr.FieldError) error {
	return apperr.Errorf(apperr.Invalid, "intake source is invalid").WithFields(fields...)
}

// Prefixes of the generated credentials, so that a leaked one is recognisable (secret scanners).
const (
	secretPrefix = "whsec_"
	tokenPrefix  = "frm_"
)

// secretBytes is the length of a signing secret's random key.
const secretBytes = 32

// newSecret returns a webhook signing secret: "whsec_" + standard padded base64 of 32 random
// bytes (44 characters, the last one "="), the form Standard Webhooks libraries decode.
//
// Secrets issued before were "whsec_" + unpadded base64url of 32 bytes (43 characters), which
// those libraries refuse. They stay valid as they are: SecretKey decodes both forms, and
// X-Signature keys its HMAC with the string as shown whatever its form.
func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate signing secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// ErrSecretFormat is SecretKey's answer for a secret that is not base64 after its prefix.
var ErrSecretFormat = errors.New("signing secret is not whsec_<base64>")

// SecretKey returns the key bytes of a signing secret, the HMAC key of Standard Webhooks: the
// part after "whsec_" (the prefix is optional, as for the libraries) decoded as standard padded
// base64, the form of the secrets issued now, or else as unpadded base64url, the form of those
// issued before. The two cannot be confused: a padded encoding has a length that is a multiple
// of four, and the old secrets are 43 characters long. X-Signature does not use it: its key is
// the secret as shown.
func SecretKey(secret string) ([]byte, error) {
	enc := strings.TrimPrefix(secret, secretPrefix)
	if enc == "" {
		return nil, ErrSecretFormat
	}
	if b, err := base64.StdEncoding.Strict().DecodeString(enc); err == nil {
		return b, nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return nil, ErrSecretFormat
	}
	return b, nil
}

// newPublicToken returns a form token: "frm_" + base64url of 24 random bytes. It is public, but
// random enough that forms cannot be enumerated.
func newPublicToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate public token: %w", err)
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
