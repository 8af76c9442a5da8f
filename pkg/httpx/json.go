package httpx

import (
	"bytes"
	"encoding"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"example.com/crm/pkg/apperr"
)

// DecodeJSON reads body into dst strictly, with encoding/json/v2's rules (the
// go-json-experiment module, which becomes the standard library's encoding/json/v2): the bytes
// must be valid UTF-8 without NUL characters, hold exactly one JSON value with no trailing data,
// that value must not be null (v2 leaves dst untouched for a null, which would let `null` pass
// as an empty request: an empty patch, or a PUT that clears everything), no object may repeat a
// member name, and every member must name a field of dst exactly, case included ({"EMAIL": ...}
// is not "email"). Errors are apperr.BadRequest with the offending
// field, as a path like "contacts[0].email", where there is one.
func DecodeJSON(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.Errorf(apperr.BadRequest, "request body is empty; a JSON document is required")
	}
	if !utf8.Valid(body) {
		return apperr.Errorf(apperr.BadRequest, "request body is not valid UTF-8")
	}
	if bytes.Contains(body, []byte(`\u0000`)) || bytes.IndexByte(body, 0) >= 0 {
		return apperr.Errorf(apperr.BadRequest, "request body contains a NUL character")
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	if dec.PeekKind() == 'n' {
		// PeekKind judges by the first byte alone: "nonsense" or "nullx" is no null but a
		// syntax error.
		if _, err := dec.ReadToken(); err != nil {
			return decodeError(err)
		}
		var syntax *jsontext.SyntacticError
		if _, err := dec.ReadToken(); errors.As(err, &syntax) {
			return decodeError(err)
		}
		return apperr.Errorf(apperr.BadRequest, "request body must be %s, not null", jsonKind(reflect.TypeOf(dst).Elem().Kind()))
	}
	if err := json.UnmarshalDecode(dec, dst, json.RejectUnknownMembers(true)); err != nil {
		return decodeError(err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return apperr.Errorf(apperr.BadRequest, "request body has data after the JSON document")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *jsontext.SyntacticError
	var semantic *json.SemanticError
	switch {
	case errors.As(err, &syntax):
		field := fieldPath(syntax.JSONPointer)
		switch {
		case errors.Is(syntax.Err, jsontext.ErrDuplicateName):
			return apperr.Errorf(apperr.BadRequest, "member %q appears twice in one object", field).
				WithFields(apperr.FieldError{Field: field, Message: "appears more than once"})
		case errors.Is(syntax.Err, io.ErrUnexpectedEOF):
			return apperr.Errorf(apperr.BadRequest, "request body is truncated JSON")
		default:
			return apperr.Errorf(apperr.BadRequest, "request body is not valid JSON (at byte %d)", syntax.ByteOffset)
		}
	case errors.As(err, &semantic):
		field := fieldPath(semantic.JSONPointer)
		if errors.Is(semantic.Err, json.ErrUnknownName) {
			return apperr.Errorf(apperr.BadRequest, "unknown field %q", field).
				WithFields(apperr.FieldError{Field: field, Message: "is not a field of this request"})
		}
		want, got := expectedKind(semantic), kindName(semantic.JSONKind)
		if field == "" {
			return apperr.Errorf(apperr.BadRequest, "request body must be %s", want)
		}
		if got == "" || got == want || (want == "an integer" && got == "a number") {
			return apperr.Errorf(apperr.BadRequest, "field %s is not a valid value", field).
				WithFields(apperr.FieldError{Field: field, Message: invalidValue(semantic.GoType, want)})
		}
		return apperr.Errorf(apperr.BadRequest, "field %s has the wrong type", field).
			WithFields(apperr.FieldError{Field: field, Message: "must be " + want + ", not " + got})
	default:
		return apperr.Errorf(apperr.BadRequest, "request body is not valid JSON")
	}
}

// fieldPath names the member a JSON pointer points to as the API's errors do: "name",
// "contacts[0].email".
func fieldPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// expectedKind names the JSON kind that the Go type of a failed member takes: a type that
// reads itself from text (time.Time, uuid.UUID) takes a string, and a method's own
// encoding/json type error names the type it wanted.
func expectedKind(e *json.SemanticError) string {
	var v1 *stdjson.UnmarshalTypeError
	if errors.As(e.Err, &v1) && v1.Type != nil {
		return jsonKind(v1.Type.Kind())
	}
	t := e.GoType
	if t == nil {
		return "a valid value"
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "a string"
	}
	return jsonKind(t.Kind())
}

// invalidValue is the field message for a member of the right JSON kind whose value the Go
// type refuses (a fraction or an overflow for an integer, a string that is no time).
func invalidValue(t reflect.Type, want string) string {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "must be an RFC 3339 time"
	case want == "an integer":
		return "must be a whole number in range"
	case want == "a number":
		return "must be a number in range"
	default:
		return "is not a valid value"
	}
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	default:
		return ""
	}
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	default:
		return "a valid value"
	}
}

// ErrBodyTooLarge is returned by ReadBody for a body over its limit.
var ErrBodyTooLarge = fmt.Errorf("body too large")

// ReadBody reads at most limit bytes of r; a longer body is apperr.TooLarge.
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, apperr.Wrap(err, apperr.BadRequest, "request body could not be read")
	}
	if int64(len(b)) > limit {
		return nil, apperr.Wrap(ErrBodyTooLarge, apperr.TooLarge, fmt.Sprintf("request body is over its limit of %d bytes", limit))
	}
	return b, nil
}
