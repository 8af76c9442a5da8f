package lead_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/lead"
)

// TestNormalize proves the normalisation rules of Normalize, one case per rule.
func TestNormalize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   lead.Contact
		want lead.Contact
	}{
		{
			name: "trims everything and lower-cases the email",
			in: lead.Contact{Email: "  Ada@Example.COM ", Phone: " +1 555 ", Company: " Acme ", Title: " CTO ",
				ProfileLink: " https://linkedin.com/in/Ada ", Source: " fair ", Notes: " hi \n", Website: " https://Acme.io/x "},
			want: lead.Contact{Email: "ada@example.com", Phone: "+1 555", Company: "Acme", Title: "CTO",
				ProfileLink: "https://linkedin.com/in/Ada", Source: "fair", Notes: "hi", Website: "https://Acme.io/x", Domain: "acme.io"},
		},
		{
			name: "splits a full name at its first space",
			in:   lead.Contact{Name: "  Ada   King  Lovelace ", Email: "a@b.co"},
			want: lead.Contact{Name: "Ada King Lovelace", FirstName: "Ada", LastName: "King Lovelace", Email: "a@b.co", Domain: "b.co"},
		},
		{
			name: "a single-word name is a first name",
			in:   lead.Contact{Name: "Ada", Email: "a@b.co"},
			want: lead.Contact{Name: "Ada", FirstName: "Ada", Email: "a@b.co", Domain: "b.co"},
		},
		{
			name: "joins first and last name",
			in:   lead.Contact{FirstName: " Ada ", LastName: "Lovelace", Email: "a@b.co"},
			want: lead.Contact{Name: "Ada Lovelace", FirstName: "Ada", LastName: "Lovelace", Email: "a@b.co", Domain: "b.co"},
		},
		{
			name: "last name alone is the name",
			in:   lead.Contact{LastName: "Lovelace", Email: "a@b.co"},
			want: lead.Contact{Name: "Lovelace", LastName: "Lovelace", Email: "a@b.co", Domain: "b.co"},
		},
		{
			name: "all three names are kept as given",
			in:   lead.Contact{Name: "Countess of Lovelace", FirstName: "Ada", LastName: "King", Email: "a@b.co"},
			want: lead.Contact{Name: "Countess of Lovelace", FirstName: "Ada", LastName: "King", Email: "a@b.co", Domain: "b.co"},
		},
		{
			name: "domain from the website beats the email",
			in:   lead.Contact{Website: "HTTP://www.Acme.com:8080/about?x=1#top", Email: "ada@gmail.com"},
			want: lead.Contact{Website: "HTTP://www.Acme.com:8080/about?x=1#top", Email: "ada@gmail.com", Domain: "acme.com"},
		},
		{
			name: "a given domain beats the website",
			in:   lead.Contact{Domain: " www.Acme.com. ", Website: "https://other.org", Email: "ada@gmail.com"},
			want: lead.Contact{Website: "https://other.org", Email: "ada@gmail.com", Domain: "acme.com"},
		},
		{
			name: "an unusable website falls through to the email",
			in:   lead.Contact{Website: "not a website", Email: "ada@Acme.co.uk"},
			want: lead.Contact{Website: "not a website", Email: "ada@acme.co.uk", Domain: "acme.co.uk"},
		},
		{
			name: "no domain at all",
			in:   lead.Contact{Phone: "+44 20 7946 0000"},
			want: lead.Contact{Phone: "+44 20 7946 0000"},
		},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, lead.Normalize(tc.in), tc.name)
	}
}

// TestDomainOf proves the host extraction on bare domains and URLs of every shape.
func TestDomainOf(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"acme.com":                          "acme.com",
		"  ACME.com  ":                      "acme.com",
		"www.acme.com":                      "acme.com",
		"https://www.acme.com":              "acme.com",
		"http://acme.com/path/x?y=1":        "acme.com",
		"https://user:pw@shop.acme.com:443": "shop.acme.com",
		"//cdn.acme.com/x":                  "cdn.acme.com",
		"acme.com.":                         "acme.com",
		"acme.com#frag":                     "acme.com",
		"münchen.de":                        "münchen.de",
		"":                                  "",
		"localhost":                         "",
		"not a domain":                      "",
		"acme..com":                         "",
		"-acme.com":                         "",
		"https://":                          "",
		"http://[::1]:80/":                  "",
	}
	for in, want := range cases {
		require.Equal(t, want, lead.DomainOf(in), "DomainOf(%q)", in)
	}
}

// TestFingerprint proves the documented rule: hex SHA-256 of the lower-cased, trimmed email,
// domain and profile link joined by newlines, insensitive to case and surrounding space.
func TestFingerprint(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("ada@acme.com\nacme.com\nhttps://linkedin.com/in/ada"))
	want := hex.EncodeToString(sum[:])
	require.Equal(t, want, lead.Fingerprint("ada@acme.com", "acme.com", "https://linkedin.com/in/ada"))
	require.Equal(t, want, lead.Fingerprint(" ADA@acme.com ", "Acme.COM", " https://LinkedIn.com/in/ada\t"))
	require.Len(t, want, 64)

	// The separators keep the parts apart.
	require.NotEqual(t, lead.Fingerprint("a", "b", ""), lead.Fingerprint("", "a", "b"))
	empty := sha256.Sum256([]byte("\n\n"))
	require.Equal(t, hex.EncodeToString(empty[:]), lead.Fingerprint("", "", ""))
}

// TestFingerprintOf proves the contact-level rule: the same person submitted with other
// spelling has one fingerprint, and phone-only contacts are told apart by their phone.
func TestFingerprintOf(t *testing.T) {
	t.Parallel()
	a := lead.Normalize(lead.Contact{Email: "Ada@Acme.com", Name: "Ada"})
	b := lead.Normalize(lead.Contact{Email: " ada@acme.com", Website: "https://www.acme.com/"})
	require.Equal(t, lead.FingerprintOf(a), lead.FingerprintOf(b))
	require.Equal(t, lead.Fingerprint("ada@acme.com", "acme.com", ""), lead.FingerprintOf(a))

	p1 := lead.Normalize(lead.Contact{Phone: "+1 (555) 010-2000", Website: "acme.com"})
	p2 := lead.Normalize(lead.Contact{Phone: "+1 555 010 3000", Website: "acme.com"})
	p1again := lead.Normalize(lead.Contact{Phone: "+1-555-010-2000", Website: "https://acme.com"})
	require.NotEqual(t, lead.FingerprintOf(p1), lead.FingerprintOf(p2))
	require.Equal(t, lead.FingerprintOf(p1), lead.FingerprintOf(p1again))
	require.Equal(t, lead.Fingerprint("tel:+15550102000", "acme.com", ""), lead.FingerprintOf(p1))

	// With an email or a profile link the phone plays no part.
	withLink := lead.Normalize(lead.Contact{Phone: "123", ProfileLink: "https://x.com/ada"})
	require.Equal(t, lead.Fingerprint("", "", "https://x.com/ada"), lead.FingerprintOf(withLink))
}

// TestPhoneKey proves the phone digits extraction.
func TestPhoneKey(t *testing.T) {
	t.Parallel()
	require.Equal(t, "+15550102000", lead.PhoneKey(" +1 (555) 010-2000 "))
	require.Equal(t, "02079460000", lead.PhoneKey("020 7946 0000"))
	require.Empty(t, lead.PhoneKey("n/a"))
	require.Empty(t, lead.PhoneKey(""))
}
