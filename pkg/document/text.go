package document

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// winText returns s in Windows-1252, the encoding of fpdf's core fonts. A rune outside it becomes
// its base letter when it decomposes to one (NFD: "ő" is "o" and a combining mark) and "?"
// otherwise; control characters other than the newline become spaces. It is safe for concurrent
// use, unlike the closure of fpdf's UnicodeTranslator, which shares one buffer.
func winText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteByte('\n')
			continue
		case r == '\r':
			continue
		case unicode.IsControl(r):
			b.WriteByte(' ')
			continue
		}
		if c, ok := charmap.Windows1252.EncodeRune(r); ok {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(baseLetter(r))
	}
	return b.String()
}

// winLine is winText for a single-line cell: newlines become spaces.
func winLine(s string) string {
	return strings.ReplaceAll(winText(s), "\n", " ")
}

// baseLetter returns the Windows-1252 byte of the first rune of r's canonical decomposition, or
// '?' when r has none there.
func baseLetter(r rune) byte {
	base, _ := utf8.DecodeRuneInString(norm.NFD.String(string(r)))
	if base != r && !unicode.Is(unicode.Mn, base) {
		if c, ok := charmap.Windows1252.EncodeRune(base); ok {
			return c
		}
	}
	return '?'
}
