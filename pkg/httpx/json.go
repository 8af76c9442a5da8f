package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"example.com/crm/pkg/apperr"
)

// DecodeJSON reads body into dst strictly (R23): the bytes must be valid UTF-8 without NUL
// characters, hold exactly one JSON value with no trailing data, no object may repeat a member
// name, and dst's struct must know every member. Errors are apperr.BadRequest with the offending
// field where there is one.
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
	if err := checkDuplicateKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.Errorf(apperr.BadRequest, "request body has data after the JSON document")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return apperr.Errorf(apperr.BadRequest, "request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return apperr.Errorf(apperr.BadRequest, "request body must be a JSON %s", typ.Type.Kind())
		}
		return apperr.Errorf(apperr.BadRequest, "field %s has the wrong type", field).
			WithFields(apperr.FieldError{Field: field, Message: "must be " + jsonKind(typ.Type.Kind().String()) + ", not " + typ.Value})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Errorf(apperr.BadRequest, "request body is truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Errorf(apperr.BadRequest, "unknown field %q", name).
			WithFields(apperr.FieldError{Field: name, Message: "is not a field of this request"})
	default:
		return apperr.Errorf(apperr.BadRequest, "request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	default:
		return "a " + goKind
	}
}

// checkDuplicateKeys walks the document's tokens and refuses an object that names a member
// twice: encoding/json would silently keep the last, and two parsers of one body could then
// disagree about what it says.
func checkDuplicateKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]struct{}
		expect bool // next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return decodeError(err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{object: true, keys: map[string]struct{}{}, expect: true})
			case '[':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.object && top.expect {
				if _, dup := top.keys[v]; dup {
					return apperr.Errorf(apperr.BadRequest, "member %q appears twice in one object", v).
						WithFields(apperr.FieldError{Field: v, Message: "appears more than once"})
				}
				top.keys[v] = struct{}{}
				top.expect = false
				continue
			}
			if top != nil && top.object {
				top.expect = true
			}
		default:
			if top != nil && top.object {
				top.expect = true
			}
		}
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
