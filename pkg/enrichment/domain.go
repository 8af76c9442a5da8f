package enrichment

import (
	_ "embed"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

//go:embed freemail.txt
var freeMailFile string

// freeMail holds the exact free-mail domains; freeMailNames the "name.*" entries by name.
var freeMail, freeMailNames = parseFreeMail(freeMailFile)

func parseFreeMail(file string) (exact, names map[string]bool) {
	exact, names = map[string]bool{}, map[string]bool{}
	for line := range strings.SplitSeq(file, "\n") {
		line = strings.ToLower(strings.TrimSpace(line))
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasSuffix(line, ".*"):
			names[strings.TrimSuffix(line, ".*")] = true
		default:
			exact[line] = true
		}
	}
	return exact, names
}

// IsFreeMail reports whether domain (any host name; it is reduced to its registrable domain
// first) belongs to a free or consumer mail provider of the embedded list freemail.txt.
func IsFreeMail(domain string) bool {
	d := Registrable(domain)
	if d == "" {
		return false
	}
	if freeMail[d] {
		return true
	}
	suffix, _ := publicsuffix.PublicSuffix(d)
	return freeMailNames[strings.TrimSuffix(d, "."+suffix)]
}

// Registrable returns the registrable domain (eTLD+1, by the public suffix list) of a host name,
// URL or e-mail address, lower-cased: "https://www.shop.acme.co.uk/x" and "ada@mail.acme.co.uk"
// give "acme.co.uk". It returns "" when there is none: an empty input, an IP address, a single
// label ("localhost") or a public suffix itself ("co.uk").
func Registrable(s string) string {
	host := hostOf(s)
	if host == "" || net.ParseIP(host) != nil || !strings.Contains(host, ".") || !validHost(host) {
		return ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return ""
	}
	return d
}

// hostOf extracts the lower-case host of a URL (with or without scheme), a bare host name or an
// e-mail address.
func hostOf(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		if i := strings.LastIndex(s, "@"); i >= 0 && !strings.ContainsAny(s[:i], "/") {
			s = s[i+1:]
		}
		s = "http://" + strings.TrimPrefix(s, "//")
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.Hostname(), ".")
}

// validHost reports whether host is a syntactically valid DNS name (letters, digits, hyphens and
// dots; labels of 1..63 characters; at most 253 characters).
func validHost(host string) bool {
	if len(host) > 253 {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}

// emailDomain returns the registrable domain of an e-mail address ("" when it has none).
func emailDomain(email string) string {
	i := strings.LastIndex(email, "@")
	if i < 0 {
		return ""
	}
	return Registrable(email[i+1:])
}
