package lead

// The contact identity of a lead: the normalisation of submitted contact data, shared by every
// entry path (a lead created by hand, an intake delivery), and the fingerprint that
// deduplicates leads within an org. It lives with the lead because it is the lead's identity;
// pkg/intake, which turns deliveries into leads, uses it from here.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"example.com/crm/pkg/apperr"
)

// Contact is a lead submission's contact data, as submitted or normalised.
type Contact struct {
	FirstName   string
	LastName    string
	Name        string
	Email       string
	Phone       string
	Company     string
	Website     string
	Domain      string
	Title       string
	ProfileLink string
	Source      string
	Notes       string
}

// Normalize returns c normalised, the same way for every entry path:
//   - every field is trimmed; the name fields also have inner runs of white space collapsed to
//     one space;
//   - the email is lower-cased;
//   - a full name alone is split at its first space into first name and last name (the rest);
//     first and last name alone are joined into the full name; when all three are given they
//     are kept as given;
//   - the domain is the host of the given domain, else of the website, else the email's domain
//     (see DomainOf); one that is not a plausible host name is dropped, so an unusable domain
//     falls through to the next source;
//   - the website and the profile link are trimmed only.
func Normalize(c Contact) Contact {
	out := Contact{
		FirstName:   collapse(c.FirstName),
		LastName:    collapse(c.LastName),
		Name:        collapse(c.Name),
		Email:       strings.ToLower(strings.TrimSpace(c.Email)),
		Phone:       strings.TrimSpace(c.Phone),
		Company:     strings.TrimSpace(c.Company),
		Website:     strings.TrimSpace(c.Website),
		Title:       strings.TrimSpace(c.Title),
		ProfileLink: strings.TrimSpace(c.ProfileLink),
		Source:      strings.TrimSpace(c.Source),
		Notes:       strings.TrimSpace(c.Notes),
	}
	switch {
	case out.Name == "" && (out.FirstName != "" || out.LastName != ""):
		out.Name = strings.TrimSpace(out.FirstName + " " + out.LastName)
	case out.Name != "" && out.FirstName == "" && out.LastName == "":
		first, last, _ := strings.Cut(out.Name, " ")
		out.FirstName, out.LastName = first, last
	}
	out.Domain = DomainOf(c.Domain)
	if out.Domain == "" {
		out.Domain = DomainOf(out.Website)
	}
	if out.Domain == "" {
		if _, host, ok := cutLast(out.Email, "@"); ok {
			out.Domain = DomainOf(host)
		}
	}
	return out
}

// DomainOf returns the host name in s, which may be a bare domain or a URL: lower-cased, with
// any scheme, user info, path, query, fragment, port, trailing dot and leading "www." removed.
// It returns "" when what remains is not a plausible host name (letters, digits, '-' and '.',
// at least one dot, no empty label).
func DomainOf(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	} else {
		s = strings.TrimPrefix(s, "//")
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if _, host, ok := cutLast(s, "@"); ok {
		s = host
	}
	if host, port, ok := cutLast(s, ":"); ok && isDigits(port) {
		s = host
	}
	s = strings.TrimSuffix(s, ".")
	s = strings.TrimPrefix(s, "www.")
	if !plausibleHost(s) {
		return ""
	}
	return s
}

// Fingerprint is the dedup key of a lead within its org (DESIGN.md "Data"): the lower-case hex
// SHA-256 of
//
//	lower(trim(email)) + "\n" + lower(trim(domain)) + "\n" + lower(trim(profileLink))
//
// Empty parts stay empty, so the separators keep the three parts apart. Callers pass the
// normalised values (Normalize); this function applies the lower-casing and trimming itself so
// that it cannot disagree with what is stored. See FingerprintOf for the contact-level rule.
func Fingerprint(email, domain, profileLink string) string {
	norm := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	sum := sha256.Sum256([]byte(norm(email) + "\n" + norm(domain) + "\n" + norm(profileLink)))
	return hex.EncodeToString(sum[:])
}

// FingerprintOf is the fingerprint of a normalised contact: Fingerprint(email, domain,
// profileLink), except that a contact with neither email nor profile link (a phone-only lead)
// puts "tel:" + the phone's digits (with a leading '+' when the phone has one) in the email's
// place. Without that, every phone-only lead of one domain would share one fingerprint and
// the second would be taken for a duplicate of the first. A "tel:" key cannot equal a real
// email, which always contains '@'.
func FingerprintOf(c Contact) string {
	email := c.Email
	if strings.TrimSpace(email) == "" && strings.TrimSpace(c.ProfileLink) == "" {
		if p := PhoneKey(c.Phone); p != "" {
			email = "tel:" + p
		}
	}
	return Fingerprint(email, c.Domain, c.ProfileLink)
}

// PhoneKey returns the digits of phone, with a leading '+' when the trimmed phone starts with
// one: "+1 (555) 010-2000" is "+15550102000". It returns "" when phone has no digit.
func PhoneKey(phone string) string {
	phone = strings.TrimSpace(phone)
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	if strings.HasPrefix(phone, "+") {
		return "+" + b.String()
	}
	return b.String()
}

func collapse(s string) string { return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ") }

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

func plausibleHost(s string) bool {
	if len(s) < 3 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	return true
}

// Limits of the contact fields, in characters.
var contactLimits = []struct {
	field string
	value func(c Contact) string
	max   int
}{
	{"firstName", func(c Contact) string { return c.FirstName }, MaxNameLen},
	{"lastName", func(c Contact) string { return c.LastName }, MaxNameLen},
	{"name", func(c Contact) string { return c.Name }, 2*MaxNameLen + 1},
	{"email", func(c Contact) string { return c.Email }, 320},
	{"phone", func(c Contact) string { return c.Phone }, 50},
	{"company", func(c Contact) string { return c.Company }, MaxNameLen},
	{"website", func(c Contact) string { return c.Website }, 2048},
	{"domain", func(c Contact) string { return c.Domain }, 253},
	{"title", func(c Contact) string { return c.Title }, MaxNameLen},
	{"profileLink", func(c Contact) string { return c.ProfileLink }, 2048},
	{"source", func(c Contact) string { return c.Source }, MaxNameLen},
	{"notes", func(c Contact) string { return c.Notes }, MaxTextLen},
}

// CheckContact checks a normalised contact as every entry path does: one of email, phone and
// profile link (API.md), a phone with digits, a given domain that is a host name, and the
// length limits. rawDomain is the domain as the client gave it ("" when none).
func CheckContact(rawDomain string, c Contact) []apperr.FieldError {
	var out []apperr.FieldError
	if c.Email == "" && c.Phone == "" && c.ProfileLink == "" {
		msg := "one of email, phone or profileLink is required"
		out = append(out, apperr.FieldError{Field: "email", Message: msg}, apperr.FieldError{Field: "phone", Message: msg},
			apperr.FieldError{Field: "profileLink", Message: msg})
	}
	if c.Phone != "" && PhoneKey(c.Phone) == "" {
		out = append(out, apperr.FieldError{Field: "phone", Message: "must contain digits"})
	}
	if strings.TrimSpace(rawDomain) != "" && DomainOf(rawDomain) == "" {
		out = append(out, apperr.FieldError{Field: "domain", Message: "must be a domain name"})
	}
	for _, l := range contactLimits {
		if utf8.RuneCountInString(l.value(c)) > l.max {
			out = append(out, apperr.FieldError{Field: l.field, Message: fmt.Sprintf("must have at most %d characters", l.max)})
		}
	}
	return out
}
