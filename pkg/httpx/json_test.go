package httpx_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/httpx"
)

type sample struct {
	Name  string         `json:"name"`
	Count int            `json:"count"`
	Inner map[string]any `json:"inner"`
	List  []struct {
		A string `json:"a"`
	} `json:"list"`
}

// TestDecodeJSONStrict proves the strict decoder accepts a well-formed document and refuses every
// kind of malformed body with a 400-class apperr, naming the field where there is one.
func TestDecodeJSONStrict(t *testing.T) {
	t.Parallel()
	var ok sample
	require.NoError(t, httpx.DecodeJSON([]byte(` {"name":"a","count":2,"inner":{"x":{"name":1}},"list":[{"a":"b"},{"a":"c"}]} `), &ok))
	require.Equal(t, "a", ok.Name)

	cases := map[string]struct {
		body  string
		field string
	}{
		"empty":                {body: ""},
		"blank":                {body: "   "},
		"not json":             {body: "name=a"},
		"truncated":            {body: `{"name":"a"`},
		"trailing data":        {body: `{"name":"a"} {}`},
		"trailing garbage":     {body: `{"name":"a"}x`},
		"unknown field":        {body: `{"name":"a","nope":1}`, field: "nope"},
		"duplicate key":        {body: `{"name":"a","name":"b"}`, field: "name"},
		"nested duplicate":     {body: `{"inner":{"x":1,"x":2}}`, field: "inner.x"},
		"duplicate in array":   {body: `{"list":[{"a":"1","a":"2"}]}`, field: "list[0].a"},
		"name in upper case":   {body: `{"NAME":"a"}`, field: "NAME"},
		"name capitalised":     {body: `{"Name":"a"}`, field: "Name"},
		"nested name case":     {body: `{"list":[{"A":"b"}]}`, field: "list[0].A"},
		"case twin of a name":  {body: `{"name":"a","Name":"b"}`, field: "Name"},
		"nested wrong type":    {body: `{"list":[{"a":1}]}`, field: "list[0].a"},
		"wrong type":           {body: `{"count":"two"}`, field: "count"},
		"array not object":     {body: `[1,2]`},
		"invalid utf8":         {body: "{\"name\":\"\xff\"}"},
		"nul escape":           {body: `{"name":"a\u0000b"}`},
		"raw nul":              {body: "{\"name\":\"a\x00\"}"},
		"float for int":        {body: `{"count":1.5}`, field: "count"},
		"number overflow":      {body: `{"count":1e400}`, field: "count"},
		"string is not object": {body: `"x"`},
		"null then more":       {body: `null null`},
		"null":                 {body: `null`},
		"null with spaces":     {body: " null\n"},
		"unterminated string":  {body: `{"name":"a}`},
		"nested arrays":        {body: strings.Repeat("[", 5) + strings.Repeat("]", 5)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var s sample
			err := httpx.DecodeJSON([]byte(tc.body), &s)
			require.Error(t, err)
			require.Equal(t, apperr.BadRequest, apperr.CodeOf(err), err.Error())
			if tc.field != "" {
				e, _ := apperr.As(err)
				require.NotEmpty(t, e.Fields, err.Error())
				require.Equal(t, tc.field, e.Fields[0].Field)
			}
		})
	}
}

// TestDecodeJSONBodyMessages proves what a body that is no JSON object is told: null is named,
// and a body that only begins like a null is a syntax error, not a null.
func TestDecodeJSONBodyMessages(t *testing.T) {
	t.Parallel()
	for body, message := range map[string]string{
		`null`:        "request body must be an object, not null",
		" null\n":     "request body must be an object, not null",
		`not json`:    "request body is not valid JSON (at byte 1)",
		`nul`:         "request body is truncated JSON",
		`nullx`:       "request body is not valid JSON (at byte 4)",
		`"text"`:      "request body must be an object",
		`{"name":"a"`: "request body is truncated JSON",
	} {
		var s sample
		err := httpx.DecodeJSON([]byte(body), &s)
		e, ok := apperr.As(err)
		require.True(t, ok, "%q: %v", body, err)
		require.Equal(t, apperr.BadRequest, e.Code, body)
		require.Equal(t, message, e.Message, "%q", body)
	}
}

// TestReadBodyLimit proves a body over the limit is apperr.TooLarge and one at the limit passes.
func TestReadBodyLimit(t *testing.T) {
	t.Parallel()
	b, err := httpx.ReadBody(strings.NewReader("12345"), 5)
	require.NoError(t, err)
	require.Equal(t, "12345", string(b))
	_, err = httpx.ReadBody(strings.NewReader("123456"), 5)
	require.Equal(t, apperr.TooLarge, apperr.CodeOf(err))
}

// TestDecodeJSONMessages proves the field messages of type errors say what was expected, for
// plain members, nested ones and types that read themselves from a JSON string.
func TestDecodeJSONMessages(t *testing.T) {
	t.Parallel()
	type when struct {
		At time.Time `json:"at"`
	}
	cases := map[string]struct {
		body, field, message string
		dst                  any
	}{
		"string for int":  {body: `{"count":"two"}`, field: "count", message: "must be an integer, not a string", dst: &sample{}},
		"float for int":   {body: `{"count":1.5}`, field: "count", message: "must be a whole number in range", dst: &sample{}},
		"nested":          {body: `{"list":[{"a":true}]}`, field: "list[0].a", message: "must be a string, not a boolean", dst: &sample{}},
		"unknown nested":  {body: `{"list":[{"b":"x"}]}`, field: "list[0].b", message: "is not a field of this request", dst: &sample{}},
		"time not a time": {body: `{"at":"yesterday"}`, field: "at", message: "must be an RFC 3339 time", dst: &when{}},
		"number for time": {body: `{"at":5}`, field: "at", message: "must be a string, not a number", dst: &when{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := httpx.DecodeJSON([]byte(tc.body), tc.dst)
			e, ok := apperr.As(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, apperr.BadRequest, e.Code)
			require.Equal(t, []apperr.FieldError{{Field: tc.field, Message: tc.message}}, e.Fields)
		})
	}
}
