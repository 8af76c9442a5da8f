package httpapi

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/intake"
)

// maxRowBytes caps one CSV record; a longer one is rejected as a line error.
const maxRowBytes = 64 << 10

// maxRawLine is how much of a row's raw text is kept in its headers (x-csv-line).
const maxRawLine = 1024

// csvRow is one well-formed data row: its line number, its JSON object and its raw text.
type csvRow struct {
	line int
	body []byte
	raw  string
}

// lineError is a row refused for its framing, reported to the sender.
type lineError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// csvParser reads a CSV stream one record at a time (encoding/csv: RFC 4180 quoting, quoted
// newlines, CRLF or LF), after a UTF-8 byte order mark if there is one. The header row names
// the columns; each later record becomes a JSON object of column -> value in column order, its
// values as text exactly as they were (formula cells such as "=1+1" are text; nothing here or
// downstream evaluates them). Memory is one record plus encoding/csv's read buffer.
type csvParser struct {
	rec   *recorder
	r     *csv.Reader
	keys  [][]byte // each column's JSON-encoded name; nil for an ignored (unnamed) column
	names int
	prev  int64
}

// leadColumns maps a header (lower case, without spaces, "_" and "-") to its lead field.
var leadColumns = func() map[string]string {
	m := make(map[string]string, len(intake.LeadFields))
	for _, f := range intake.LeadFields {
		m[strings.ToLower(f)] = f
	}
	return m
}()

// newCSVParser reads the header row. A file without one, or with one that cannot map columns
// (not UTF-8, a NUL byte, two columns of one name, no named column) is apperr.BadRequest.
func newCSVParser(body io.Reader) (*csvParser, error) {
	br := bufio.NewReaderSize(body, 16<<10)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	p := &csvParser{rec: &recorder{r: br}}
	p.r = csv.NewReader(p.rec)
	p.r.FieldsPerRecord = -1
	p.r.ReuseRecord = true
	header, err := p.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, apperr.Errorf(apperr.BadRequest, "the CSV file is empty; its first line must name the columns")
	}
	if err != nil {
		if bad := badCSV(err); bad != nil {
			return nil, bad
		}
		return nil, apperr.Errorf(apperr.BadRequest, "the CSV header row is malformed: %s", csvReason(err))
	}
	seen := map[string]int{}
	for i, h := range header {
		if !utf8.ValidString(h) || strings.IndexByte(h, 0) >= 0 {
			return nil, apperr.Errorf(apperr.BadRequest, "the CSV header row is not valid UTF-8 or contains a NUL byte")
		}
		name := strings.TrimSpace(h)
		if name == "" {
			p.keys = append(p.keys, nil)
			continue
		}
		norm := strings.NewReplacer(" ", "", "_", "", "-", "").Replace(strings.ToLower(name))
		if f, ok := leadColumns[norm]; ok {
			name = f
		}
		if j, dup := seen[name]; dup {
			return nil, apperr.Errorf(apperr.BadRequest, "CSV columns %d and %d both name %q", j+1, i+1, name)
		}
		seen[name] = i
		key, _ := jsonString(nil, name)
		p.keys = append(p.keys, key)
		p.names++
	}
	if p.names == 0 {
		return nil, apperr.Errorf(apperr.BadRequest, "the CSV header row names no column")
	}
	p.rec.drop(p.r.InputOffset())
	p.prev = p.r.InputOffset()
	return p, nil
}

// next returns the next row, or a line error for a record refused for its framing, or io.EOF.
// Any other error (the body could not be read, or went over its limit) ends the upload.
func (p *csvParser) next() (csvRow, *lineError, error) {
	rec, err := p.r.Read()
	start, off := p.prev, p.r.InputOffset()
	raw := p.rec.take(start, off)
	p.prev = off
	if errors.Is(err, io.EOF) {
		return csvRow{}, nil, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if bad := badCSV(err); bad != nil {
			return csvRow{}, nil, bad
		}
		return csvRow{}, &lineError{Line: pe.StartLine, Reason: csvReason(err)}, nil
	}
	if err != nil {
		return csvRow{}, nil, err
	}
	line, _ := p.r.FieldPos(0)
	switch {
	case len(rec) != len(p.keys):
		return csvRow{}, &lineError{Line: line, Reason: fmt.Sprintf("has %d fields; the header has %d", len(rec), len(p.keys))}, nil
	case off-start > maxRowBytes:
		return csvRow{}, &lineError{Line: line, Reason: fmt.Sprintf("is longer than %d bytes", maxRowBytes)}, nil
	}
	body := make([]byte, 0, int(off-start)+16*p.names)
	body = append(body, '{')
	first := true
	for i, v := range rec {
		if p.keys[i] == nil {
			continue
		}
		if !first {
			body = append(body, ',')
		}
		first = false
		body = append(body, p.keys[i]...)
		body = append(body, ':')
		var ok bool
		if body, ok = jsonString(body, v); !ok {
			return csvRow{}, &lineError{Line: line, Reason: fmt.Sprintf("field %d is not valid UTF-8 or contains a NUL byte", i+1)}, nil
		}
	}
	body = append(body, '}')
	return csvRow{line: line, body: body, raw: strings.TrimRight(raw, "\r\n")}, nil, nil
}

// badCSV turns a read error that csv.ParseError wraps (the body's own) into the error that ends
// the upload; nil for a framing error of one record.
func badCSV(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) && (errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) || errors.Is(pe.Err, csv.ErrFieldCount)) {
		return nil
	}
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error() + " (column " + strconv.Itoa(pe.Column) + ")"
	}
	return err.Error()
}

// jsonString appends s as a JSON string. It reports false, appending nothing usable, when s is
// not valid UTF-8 or holds a NUL.
func jsonString(dst []byte, s string) ([]byte, bool) {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return dst, false
	}
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == '"' || b == '\\':
			dst = append(dst, '\\', b)
		case b == '\n':
			dst = append(dst, '\\', 'n')
		case b == '\r':
			dst = append(dst, '\\', 'r')
		case b == '\t':
			dst = append(dst, '\\', 't')
		case b < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
		default:
			dst = append(dst, b)
		}
	}
	return append(dst, '"'), true
}

// recorder keeps the bytes encoding/csv has read and not yet assigned to a record, so that each
// record's raw text can be cut out by its input offsets. It holds at most csv's read-ahead plus
// one record.
type recorder struct {
	r     io.Reader
	buf   []byte
	start int   // buf[start:] is still wanted
	base  int64 // stream offset of buf[start]
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// take returns (up to maxRawLine of) the bytes from offset from to offset to, and forgets
// everything before to.
func (r *recorder) take(from, to int64) string {
	lo, hi := r.start+int(from-r.base), r.start+int(to-r.base)
	var out string
	if lo >= r.start && hi <= len(r.buf) && lo <= hi {
		out = string(r.buf[lo:min(hi, lo+maxRawLine)])
	}
	r.drop(to)
	return out
}

// drop forgets the bytes before offset to. The buffer is compacted once its dead head is larger
// than what it still holds, so that moving bytes costs O(1) per byte read.
func (r *recorder) drop(to int64) {
	k := int(to - r.base)
	if k <= 0 {
		return
	}
	k = min(k, len(r.buf)-r.start)
	r.start += k
	r.base += int64(k)
	if r.start > 4096 && r.start > len(r.buf)-r.start {
		n := copy(r.buf, r.buf[r.start:])
		r.buf = r.buf[:n]
		r.start = 0
	}
}
