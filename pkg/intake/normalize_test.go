package intake_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/intake"
)

// TestNormalize proves the normalisation rules of Normalize, one case per rule.
func TestNormalize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   intake.Contact
		want intake.Contact
	}{
		{
			name: "trims everything and lower-cases the email",
			in: intake.Contact{Email: "  Ada@Example.COM ", Phone: " +1 555 ", Company: " Acme ", Title: " CTO ",
				ProfileLink: " https://linkedin.com/in/Ada ", Source: " fair ", Notes: " hi \n", Website: " https://Acme.io/x "},
			want: intake.Contact{Email: "ada@example.com", Phone: "+1 555", Company: "Acme", Title: "CTO",
				ProfileLink: "https://linkedin.com/in/Ada", Source: "fair", Notes: "hi", Website: "https://Acme.io/x", Domain: "acme.io"},
		},
		{
			name: "splits a full name at its first space",
			in:   intake.Contact{Name: "  Ada   King  Lovelace ", Email: "a@b.co"},
			want: intake.Contact{Name: "Ada King Lovelace", FirstName: "Ada", LastName: "King Lovelace", Email: "a@b.co", Domain: "b.co"},
		},
		{
			name: "a single-word name is a first name",
			in:   intake.Contact{Name: "Ada", Email: "a@b.co"},
			want: intake.Contact{Name: "Ada", FirstName: "Ada", Email: "a@b.co", Domain: "b.co"},
		},
		{
			name: "joins first and last name",
			in:   intake.Contact{FirstName: " Ada ", LastName: "Lovelace", Email: "a@b.co"},
			want: intake.Contact{Name: "Ada Lovelace", FirstName: "Ada", LastName: "Lovelace", Email: "a@b.co", Domain: "b.co"},
		},
		{
			name: "last name alone is the name",
			in:   intake.Contact{LastName: "Lovelace", Email: "a@b.co"},
			want: intake.Contact{Name: "Lovelace", LastName: "Lovelace", Email: "a@b.co", Domain: "b.co"},
		},
		{
			name: "all three names are kept as given",
			in:   intake.Contact{Name: "Countess of Lovelace", FirstName: "Ada", LastName: "King", Email: "a@b.co"},
			want: intake.Contact{Name: "Countess of Lovelace", FirstName: "Ada", LastName: "King", Email: "a@b.co", Domain: "b.co"},
		},
		{
			name: "domain from the website beats the email",
			in:   intake.Contact{Website: "HTTP://www.Acme.com:8080/about?x=1#top", Email: "ada@gmail.com"},
			want: intake.Contact{Website: "HTTP://www.Acme.com:8080/about?x=1#top", Email: "ada@gmail.com", Domain: "acme.com"},
		},
		{
			name: "a given domain beats the website",
			in:   intake.Contact{Domain: " www.Acme.com. ", Website: "https://other.org", Email: "ada@gmail.com"},
			want: intake.Contact{Website: "https://other.org", Email: "ada@gmail.com", Domain: "acme.com"},
		},
		{
			name: "an unusable website falls through to the email",
			in:   intake.Contact{Website: "not a website", Email: "ada@Acme.co.uk"},
			want: intake.Contact{Website: "not a website", Email: "ada@acme.co.uk", Domain: "acme.co.uk"},
		},
		{
			name: "no domain at all",
			in:   intake.Contact{Phone: "+44 20 7946 0000"},
			want: intake.Contact{Phone: "+44 20 7946 0000"},
		},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, intake.Normalize(tc.in), tc.name)
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
		require.Equal(t, want, intake.DomainOf(in), "DomainOf(%q)", in)
	}
}

// TestFingerprint proves the documented rule: hex SHA-256 of the lower-cased, trimmed email,
// domain and profile link joined by newlines, insensitive to case and surrounding space.
func TestFingerprint(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("ada@acme.com\nacme.com\nhttps://linkedin.com/in/ada"))
	want := hex.EncodeToString(sum[:])
	require.Equal(t, want, intake.Fingerprint("ada@acme.com", "acme.com", "https://linkedin.com/in/ada"))
	require.Equal(t, want, intake.Fingerprint(" ADA@acme.com ", "Acme.COM", " https://LinkedIn.com/in/ada\t"))
	require.Len(t, want, 64)

	// The separators keep the parts apart.
	require.NotEqual(t, intake.Fingerprint("a", "b", ""), intake.Fingerprint("", "a", "b"))
	empty := sha256.Sum256([]byte("\n\n"))
	require.Equal(t, hex.EncodeToString(empty[:]), intake.Fingerprint("", "", ""))
}

// TestFingerprintOf proves the contact-level rule: the same person submitted with other
// spelling has one fingerprint, and phone-only contacts are told apart by their phone.
func TestFingerprintOf(t *testing.T) {
	t.Parallel()
	a := intake.Normalize(intake.Contact{Email: "Ada@Acme.com", Name: "Ada"})
	b := intake.Normalize(intake.Contact{Email: " ada@acme.com", Website: "https://www.acme.com/"})
	require.Equal(t, intake.FingerprintOf(a), intake.FingerprintOf(b))
	require.Equal(t, intake.Fingerprint("ada@acme.com", "acme.com", ""), intake.FingerprintOf(a))

	p1 := intake.Normalize(intake.Contact{Phone: "+1 (555) 010-2000", Website: "acme.com"})
	p2 := intake.Normalize(intake.Contact{Phone: "+1 555 010 3000", Website: "acme.com"})
	p1again := intake.Normalize(intake.Contact{Phone: "+1-555-010-2000", Website: "https://acme.com"})
	require.NotEqual(t, intake.FingerprintOf(p1), intake.FingerprintOf(p2))
	require.Equal(t, intake.FingerprintOf(p1), intake.FingerprintOf(p1again))
	require.Equal(t, intake.Fingerprint("tel:+15550102000", "acme.com", ""), intake.FingerprintOf(p1))

	// With an email or a profile link the phone plays no part.
	withLink := intake.Normalize(intake.Contact{Phone: "123", ProfileLink: "https://x.com/ada"})
	require.Equal(t, intake.Fingerprint("", "", "https://x.com/ada"), intake.FingerprintOf(withLink))
}

// TestPhoneKey proves the phone digits extraction.
func TestPhoneKey(t *testing.T) {
	t.Parallel()
	require.Equal(t, "+15550102000", intake.PhoneKey(" +1 (555) 010-2000 "))
	require.Equal(t, "02079460000", intake.PhoneKey("020 7946 0000"))
	require.Empty(t, intake.PhoneKey("n/a"))
	require.Empty(t, intake.PhoneKey(""))
}
