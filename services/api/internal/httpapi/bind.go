package httpapi

import (
	"bytes"
	"mime"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/page"
)

// bindJSON reads the request body strictly into dst (see httpx.DecodeJSON) and validates it with
// its `validate` tags. Wrong content type is 415, a body over the limit 413, an unparsable one
// 400, and a rule broken 422 with one entry per field.
func (s *Server) bindJSON(c echo.Context, dst any) error {
	return s.bindJSONWith(c, dst, bindOpts{})
}

// bindOpts varies bindJSON for the routes that need it.
type bindOpts struct {
	// optional accepts an empty body (dst stays as it is) before any content-type check.
	optional bool
	// trim trims the top-level string fields of dst before validation.
	trim bool
}

func (s *Server) bindJSONWith(c echo.Context, dst any, o bindOpts) error {
	if !o.optional {
		if err := requireJSON(c); err != nil {
			return err
		}
	}
	body, err := httpx.ReadBody(c.Request().Body, s.Config.BodyLimit)
	if err != nil {
		return err
	}
	if o.optional {
		if len(bytes.TrimSpace(body)) == 0 {
			return nil
		}
		if err := requireJSON(c); err != nil {
			return err
		}
	}
	if err := httpx.DecodeJSON(body, dst); err != nil {
		return err
	}
	if o.trim {
		trimStrings(dst)
	}
	return s.check(dst)
}

// requireJSON refuses a request whose Content-Type is not JSON in UTF-8 (415).
func requireJSON(c echo.Context) error {
	mt, params, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return apperr.Errorf(apperr.Unsupported, "Content-Type must be application/json")
	}
	return httpx.CheckCharset(params)
}

// trimStrings trims the free-text string and *string fields of the struct that v points to.
// A field validated with oneof is an enumeration and is left as sent, so that every route
// compares enum values exactly: "high " is not the priority "high" (isEnum).
func trimStrings(v any) {
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		f := rv.Field(i)
		if isEnum(rv.Type().Field(i)) {
			continue
		}
		switch {
		case f.Kind() == reflect.String:
			f.SetString(strings.TrimSpace(f.String()))
		case f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.String:
			f.Elem().SetString(strings.TrimSpace(f.Elem().String()))
		}
	}
}

// isEnum reports whether f's validation restricts it to a list of values (oneof).
func isEnum(f reflect.StructField) bool {
	for rule := range strings.SplitSeq(f.Tag.Get("validate"), ",") {
		if strings.HasPrefix(rule, "oneof=") {
			return true
		}
	}
	return false
}

// check validates v with its `validate` tags.
func (s *Server) check(v any) error {
	err := s.validate.Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !asValidation(err, &verrs) {
		return apperr.Wrap(err, apperr.Invalid, "request is invalid")
	}
	fields := make([]apperr.FieldError, 0, len(verrs))
	for _, fe := range verrs {
		fields = append(fields, apperr.FieldError{Field: fieldPath(fe), Message: message(fe)})
	}
	return apperr.Errorf(apperr.Invalid, "request is invalid").WithFields(fields...)
}

func asValidation(err error, out *validator.ValidationErrors) bool {
	v, ok := err.(validator.ValidationErrors) //nolint:errorlint // validator returns the type itself
	if ok {
		*out = v
	}
	return ok
}

// fieldPath is the JSON path of a failed field without the top struct's name ("name",
// "contacts[0].email").
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if i := strings.IndexByte(ns, '.'); i >= 0 {
		return ns[i+1:]
	}
	return fe.Field()
}

func message(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be an email address"
	case "url", "http_url":
		return "must be an http(s) URL"
	case "uuid", "uuid4":
		return "must be a UUID"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "min":
		if fe.Kind() == reflect.String || fe.Kind() == reflect.Slice {
			return "must have at least " + fe.Param() + " characters or items"
		}
		return "must be at least " + fe.Param()
	case "max":
		if fe.Kind() == reflect.String || fe.Kind() == reflect.Slice {
			return "must have at most " + fe.Param() + " characters or items"
		}
		return "must be at most " + fe.Param()
	case "gte":
		return "must be at least " + fe.Param()
	case "lte":
		return "must be at most " + fe.Param()
	case "required_without_all":
		return "is required when none of " + fe.Param() + " is given"
	case "printascii", "printunicode", "nocontrol":
		return "must not contain control characters"
	default:
		return "is invalid (" + fe.Tag() + ")"
	}
}

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	// nocontrol: no C0/C1 control characters except tab, newline and carriage return.
	_ = v.RegisterValidation("nocontrol", func(fl validator.FieldLevel) bool {
		for _, r := range fl.Field().String() {
			if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r < 0xa0) {
				return false
			}
		}
		return true
	})
	return v
}

// pathUUID reads the path parameter name as a UUID; anything else is 400 on that field.
func pathUUID(c echo.Context, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil || len(c.Param(name)) != 36 {
		return uuid.Nil, apperr.Errorf(apperr.BadRequest, "%s must be a UUID", name).
			WithFields(apperr.FieldError{Field: name, Message: "must be a UUID"})
	}
	return id, nil
}

// pathInt64 reads the path parameter name as a positive integer id.
func pathInt64(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Errorf(apperr.BadRequest, "%s must be a positive integer", name).
			WithFields(apperr.FieldError{Field: name, Message: "must be a positive integer"})
	}
	return id, nil
}

// pageRequest reads ?limit= (1..200, default 50) and ?cursor=.
func pageRequest(c echo.Context) (page.Request, error) {
	r := page.Request{Limit: page.DefaultLimit, Cursor: c.QueryParam("cursor")}
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > page.MaxLimit {
			return page.Request{}, page.BadLimit()
		}
		r.Limit = n
	}
	return r, nil
}

// queryUUID reads an optional UUID query parameter.
func queryUUID(c echo.Context, name string) (*uuid.UUID, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return nil, nil
	}
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return nil, apperr.Errorf(apperr.BadRequest, "%s must be a UUID", name).
			WithFields(apperr.FieldError{Field: name, Message: "must be a UUID"})
	}
	return &id, nil
}

// queryOneOf reads an optional query parameter that must be one of allowed.
func queryOneOf(c echo.Context, name string, allowed ...string) (string, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return "", nil
	}
	for _, a := range allowed {
		if raw == a {
			return raw, nil
		}
	}
	return "", apperr.Errorf(apperr.BadRequest, "%s must be one of %s", name, strings.Join(allowed, ", ")).
		WithFields(apperr.FieldError{Field: name, Message: "must be one of: " + strings.Join(allowed, ", ")})
}
