// Package document renders the PDFs of the money flow: an invoice (Invoice) and a contract filled
// in from the org's template (Contract, with CheckTemplate to refuse a bad template when it is
// saved and DefaultContractTemplate for an org that has none). It is pure: no database, no clock,
// no randomness, so the same input always gives the same bytes and a stored document's SHA-256
// (the ETag of its download) is stable.
//
// Text is drawn with fpdf's core fonts (Helvetica), whose encoding is Windows-1252: nothing is
// read from disk, so rendering works on a clean machine. Text is translated to Windows-1252 rune
// by rune; a rune outside it falls back to its base letter when it has one ("ő" -> "o") and to
// "?" otherwise, so a Cyrillic or CJK name renders as question marks rather than failing.
//
// Amounts are int64 minor units of an ISO 4217 currency and are formatted with
// golang.org/x/text/currency at the currency's standard scale (JPY 0 decimals, EUR 2, KWD 3).
package document
