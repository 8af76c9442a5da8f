package invoice

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/org"
)

// Settings are an org's invoicing settings (GET/PUT /settings/invoicing).
type Settings struct {
	// Prefix starts every number: "<prefix><year>-<00001>". 0..MaxPrefixLen printable ASCII
	// characters without spaces ("" numbers "2026-00001").
	Prefix string `json:"prefix"`
	// PaymentTermsDays is the due date's distance from the issue, 0..MaxPaymentTermsDays.
	PaymentTermsDays int `json:"paymentTermsDays"`
	// Seller is who the invoice is from.
	Seller Seller `json:"seller"`
}

// Seller is the issuer printed on an invoice; every field may be empty.
type Seller struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	TaxID   string `json:"taxId"`
	Email   string `json:"email"`
}

// The defaults of an org that has not saved its settings, and the limits of Invoicing.
const (
	DefaultPrefix           = "INV-"
	DefaultPaymentTermsDays = 14
	MaxPrefixLen            = 20
	MaxPaymentTermsDays     = 365
	MaxSellerNameLen        = 200
	MaxSellerAddressLen     = 1000
	MaxSellerTaxIDLen       = 50
	MaxSellerEmailLen       = 254
)

// Invoicing is the org's invoicing settings, "invoicing" in org_settings: DefaultSettings until
// the org saves its own, which Settings.Normalize and Settings.Check pass. Numbers already taken
// keep their prefix; a new one starts with the next invoice.
var Invoicing = org.Setting[Settings]{Name: "invoicing", Default: DefaultSettings, Check: org.CheckFields[Settings]("invoicing settings are invalid")}

// DefaultSettings are the settings of an org without saved ones.
func DefaultSettings() Settings {
	return Settings{Prefix: DefaultPrefix, PaymentTermsDays: DefaultPaymentTermsDays}
}

// Normalize trims the seller's fields.
func (s Settings) Normalize() Settings {
	s.Seller.Name = strings.TrimSpace(s.Seller.Name)
	s.Seller.Address = strings.TrimSpace(s.Seller.Address)
	s.Seller.TaxID = strings.TrimSpace(s.Seller.TaxID)
	s.Seller.Email = strings.TrimSpace(s.Seller.Email)
	return s
}

// Check returns the field errors of s (nil when valid).
func (s Settings) Check() []apperr.FieldError {
	var out []apperr.FieldError
	if len(s.Prefix) > MaxPrefixLen || strings.IndexFunc(s.Prefix, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		out = append(out, apperr.FieldError{Field: "prefix", Message: fmt.Sprintf("must be at most %d printable ASCII characters without spaces", MaxPrefixLen)})
	}
	if s.PaymentTermsDays < 0 || s.PaymentTermsDays > MaxPaymentTermsDays {
		out = append(out, apperr.FieldError{Field: "paymentTermsDays", Message: fmt.Sprintf("must be from 0 to %d", MaxPaymentTermsDays)})
	}
	text := func(field, v string, limit int, lines bool) {
		check := v
		if lines {
			check = strings.NewReplacer("\n", "", "\r", "", "\t", "").Replace(v)
		}
		if utf8.RuneCountInString(v) > limit || !utf8.ValidString(v) || hasControl(check) {
			out = append(out, apperr.FieldError{Field: field, Message: fmt.Sprintf("must be at most %d characters of text", limit)})
		}
	}
	text("seller.name", s.Seller.Name, MaxSellerNameLen, false)
	text("seller.address", s.Seller.Address, MaxSellerAddressLen, true)
	text("seller.taxId", s.Seller.TaxID, MaxSellerTaxIDLen, false)
	text("seller.email", s.Seller.Email, MaxSellerEmailLen, false)
	if s.Seller.Email != "" {
		if a, err := mail.ParseAddress(s.Seller.Email); err != nil || a.Address != s.Seller.Email {
			out = append(out, apperr.FieldError{Field: "seller.email", Message: "must be an email address"})
		}
	}
	return out
}
