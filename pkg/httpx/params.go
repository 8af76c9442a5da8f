package httpx

import (
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"example.com/crm/pkg/apperr"
)

// CheckText refuses a text parameter that PostgreSQL cannot take as text: bytes that are not
// UTF-8, or a NUL character (SQLSTATE 22021 in both cases). field names the parameter in the
// problem's errors.
func CheckText(field, value string) error {
	switch {
	case !utf8.ValidString(value):
		return apperr.Errorf(apperr.BadRequest, "%s is not valid UTF-8", field).
			WithFields(apperr.FieldError{Field: field, Message: "must be valid UTF-8"})
	case strings.IndexByte(value, 0) >= 0:
		return apperr.Errorf(apperr.BadRequest, "%s contains a NUL character", field).
			WithFields(apperr.FieldError{Field: field, Message: "must not contain a NUL character"})
	}
	return nil
}

// CheckParams applies CheckText to a request's path parameters (names[i] is values[i]) and to
// every name and value of its raw query, so that no route passes such text on to SQL. Query
// names are checked in sorted order, so the answer to a request is always the same. A query name
// that is itself not text is reported as the field "query". A query that does not parse (a bad
// escape such as %zz, a ';' separator) is refused as a whole: net/url would drop the parameters
// it cannot read, and a route would then answer as if a filter or limit had not been given.
func CheckParams(names, values []string, rawQuery string) error {
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return apperr.Wrap(err, apperr.BadRequest, "the query string is malformed").
			WithFields(apperr.FieldError{Field: "query", Message: "must be name=value pairs joined by &, percent-encoded"})
	}
	for i, v := range values {
		name := "path"
		if i < len(names) {
			name = names[i]
		}
		if err := CheckText(name, v); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := CheckText("query", k); err != nil {
			return err
		}
		for _, v := range query[k] {
			if err := CheckText(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}
