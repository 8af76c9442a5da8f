package httpx

import (
	"net/http"
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
// it cannot read, and a route would then answer as if a filter or limit had not been given. No
// query parameter of either service is a list, so a name given twice is refused too: routes
// read the first value only, and ?stage=lost&stage=new would answer for "lost" alone.
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
		if len(query[k]) > 1 {
			return apperr.Errorf(apperr.BadRequest, "query parameter %s is given more than once", k).
				WithFields(apperr.FieldError{Field: k, Message: "must be given once"})
		}
		for _, v := range query[k] {
			if err := CheckText(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckRequest is the edge check that both services run on each request before any handler:
// its path parameters and query (CheckParams), the headers meant once (CheckSingleHeaders) and
// its body's content coding (CheckContentEncoding). names[i] is the path parameter values[i].
func CheckRequest(names, values []string, r *http.Request) error {
	if err := CheckParams(names, values, r.URL.RawQuery); err != nil {
		return err
	}
	if err := CheckSingleHeaders(r.Header, SingletonHeaders...); err != nil {
		return err
	}
	return CheckContentEncoding(r.Header)
}

// CheckContentEncoding refuses (apperr.Unsupported, 415) a request body sent with a content
// coding: neither service decodes one, so a body declared gzip would otherwise be read as it is,
// and one that is not compressed at all would be taken although its header says otherwise.
// "identity" is no coding and passes.
func CheckContentEncoding(h http.Header) error {
	for _, v := range h.Values("Content-Encoding") {
		for coding := range strings.SplitSeq(v, ",") {
			if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
				return apperr.Errorf(apperr.Unsupported, "Content-Encoding %q is not accepted; send the body uncompressed", c)
			}
		}
	}
	return nil
}
