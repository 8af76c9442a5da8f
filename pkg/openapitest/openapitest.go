// Package openapitest holds a service's test exchanges to the service's OpenAPI document with
// kin-openapi: it loads and validates the document, and checks one request and its response
// against it (status, headers, bodies, security, and problem+json for every refusal). It is a
// test helper: import it from _test.go files only.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// ProblemContentType is the media type of every refusal.
const ProblemContentType = "application/problem+json"

// Config says which document to load and what is particular to the service.
type Config struct {
	// Path is the document's file (YAML or JSON).
	Path string
	// Schemes checks the credentials of each security scheme, by the scheme's name in the
	// document; a scheme the map does not name fails authentication.
	Schemes map[string]func(http.Header) error
	// BodyDecoders are kin-openapi's decoders for the media types the document uses beyond
	// JSON, forms and multipart; Load registers them (kin-openapi keeps one registry for the
	// process).
	BodyDecoders map[string]openapi3filter.BodyDecoder
	// SkipUndocumentedOptions leaves out an OPTIONS request on an operation the document does
	// not have when it is answered below 400 (a CORS preflight, the router's automatic
	// OPTIONS): such an answer is not part of the contract.
	SkipUndocumentedOptions bool
}

// Document is a loaded, valid OpenAPI document and the means to check exchanges against it.
type Document struct {
	// Doc is the document as kin-openapi reads it.
	Doc *openapi3.T
	// JSON is the document re-encoded as JSON, as a service serves it.
	JSON []byte
	// Problem is components/schemas/Problem, the schema of every problem document.
	Problem *openapi3.Schema

	router      routers.Router
	options     *openapi3filter.Options
	headOptions *openapi3filter.Options // options, without the response body
	skipOptions bool
}

// uuidFormat checks the uuid string format, which kin-openapi leaves unchecked by default.
var uuidFormat = openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)

// Load reads the document at c.Path, validates it and prepares the checks. The document must
// define components/schemas/Problem.
func Load(c Config) (*Document, error) {
	raw, err := os.ReadFile(c.Path)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", c.Path, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", c.Path, err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", c.Path, err)
	}
	var p *openapi3.SchemaRef
	if doc.Components != nil {
		p = doc.Components.Schemas["Problem"]
	}
	if p == nil || p.Value == nil {
		return nil, fmt.Errorf("%s has no components/schemas/Problem", c.Path)
	}
	for ct, dec := range c.BodyDecoders {
		openapi3filter.RegisterBodyDecoder(ct, dec)
	}
	schemes := c.Schemes
	opts := &openapi3filter.Options{
		// A status the document does not list for the operation is a mismatch.
		IncludeResponseStatus: true,
		// A body sent to an operation that takes none, and accepted, is a mismatch too.
		RejectWhenRequestBodyNotSpecified: true,
		// Whether credentials are valid is the service's business (and its tests'); here the
		// request must carry those of one documented scheme, in the documented form.
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			check, ok := schemes[in.SecuritySchemeName]
			if !ok {
				return in.NewError(fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName))
			}
			if err := check(in.RequestValidationInput.Request.Header); err != nil {
				return in.NewError(err)
			}
			return nil
		},
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidator("uuid", uuidFormat)},
	}
	headOpts := *opts
	headOpts.ExcludeResponseBody = true
	return &Document{Doc: doc, JSON: js, Problem: p.Value, router: router, options: opts, headOptions: &headOpts,
		skipOptions: c.SkipUndocumentedOptions}, nil
}

// checkHeadContentType checks the Content-Type of an answer to HEAD, which has no body to be
// validated with it: when the document gives the response content, the media type must be one
// it lists.
func checkHeadContentType(res *openapi3.Response, h http.Header) error {
	if len(res.Content) == 0 {
		return nil
	}
	ct := h.Get("Content-Type")
	if res.Content.Get(ct) == nil {
		return fmt.Errorf("Content-Type %q is not one the document gives this response", ct)
	}
	return nil
}

// BearerKey checks that h carries an API key as a bearer token (the bearerAuth scheme).
func BearerKey(h http.Header) error {
	scheme, key, ok := strings.Cut(h.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return errors.New("no bearer API key")
	}
	return nil
}

// UUIDHeader returns a check that header name of h holds a UUID (the orgId scheme is
// UUIDHeader("X-Org-Id")).
func UUIDHeader(name string) func(http.Header) error {
	return func(h http.Header) error {
		if err := uuidFormat.Validate(h.Get(name)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
}

// Check validates one exchange against the document and returns what does not match (nil when
// all does). resBody is the response body as the client sees it (decoded of any
// Content-Encoding). It checks:
//   - the response, always: its status must be documented for the operation, its Content-Type
//     one the document lists, its body must match the schema (or be empty when the document
//     gives no content), its required headers present; a problem document must also agree
//     with the status line;
//   - the request (path and query parameters, headers, security, body), only when the service
//     accepted it (status < 400): tests send malformed requests on purpose to see them
//     refused, and for those the refusal is what is checked;
//   - an exchange the document has no operation for (an unknown path or method) must be the
//     service's 404 or 405, as a problem.
//
// When res answers another request than req (a client that followed a redirect), the last
// request is the one checked, without a body. The document describes GET only and HEAD mirrors
// it: a HEAD exchange is checked against the GET operation of its path (status, headers,
// Content-Type, security), and its answer must have no body. Check is safe for concurrent use.
func (d *Document) Check(ctx context.Context, req *http.Request, reqBody []byte, res *http.Response, resBody []byte) error {
	r, body := req, reqBody
	if res.Request != nil && res.Request.URL.String() != req.URL.String() {
		r, body = res.Request, nil
	}
	what := Summary(r, res, resBody)
	head := r.Method == http.MethodHead
	if head && len(resBody) > 0 {
		return fmt.Errorf("%s: an answer to HEAD has no body", what)
	}

	// HEAD mirrors GET (RFC 9110 9.3.2): the document describes GET only, and a HEAD exchange
	// is checked against the GET operation of its path, without a body.
	find := r
	if head {
		find = r.Clone(ctx)
		find.Method = http.MethodGet
	}
	route, params, err := d.router.FindRoute(find)
	if err != nil {
		if d.skipOptions && r.Method == http.MethodOptions && res.StatusCode < 400 {
			return nil
		}
		switch {
		case errors.Is(err, routers.ErrPathNotFound):
			if res.StatusCode != http.StatusNotFound {
				return fmt.Errorf("%s: the document has no such path, so the service must not either", what)
			}
		case errors.Is(err, routers.ErrMethodNotAllowed):
			if res.StatusCode != http.StatusMethodNotAllowed {
				return fmt.Errorf("%s: the document has no such method on this path, so the service must not either", what)
			}
		default:
			return fmt.Errorf("%s: %w", what, err)
		}
		return d.checkProblem(res, resBody, what)
	}

	clone := find.Clone(ctx)
	clone.Body = io.NopCloser(bytes.NewReader(body))
	clone.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	in := &openapi3filter.RequestValidationInput{Request: clone, PathParams: params, Route: route, Options: d.options}
	if res.StatusCode < 400 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("request does not match the document: %s: %w", what, err)
		}
	}
	documented := route.Operation.Responses.Status(res.StatusCode)
	if documented == nil {
		return fmt.Errorf("%s: status not documented for %s %s", what, route.Method, route.Path)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Options: d.options,
	}
	if head {
		out.Options = d.headOptions
		if err := checkHeadContentType(documented.Value, res.Header); err != nil {
			return fmt.Errorf("response does not match the document: %s: %w", what, err)
		}
	}
	out.SetBodyBytes(resBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("response does not match the document: %s: %w", what, err)
	}
	if len(documented.Value.Content) == 0 && len(resBody) > 0 {
		return fmt.Errorf("%s: the document gives this response no body", what)
	}
	if MediaType(res.Header) == ProblemContentType {
		return d.checkProblem(res, resBody, what)
	}
	return nil
}

// checkProblem validates a problem response against components/schemas/Problem and its status
// and code against the status line.
func (d *Document) checkProblem(res *http.Response, body []byte, what string) error {
	if mt := MediaType(res.Header); mt != ProblemContentType {
		return fmt.Errorf("%s: an error is a problem document, not %q", what, mt)
	}
	if res.Request != nil && res.Request.Method == http.MethodHead {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := d.Problem.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("problem does not match components/schemas/Problem: %s: %w", what, err)
	}
	p, _ := v.(map[string]any)
	if fmt.Sprint(p["status"]) != fmt.Sprint(res.StatusCode) {
		return fmt.Errorf("%s: problem status %v", what, p["status"])
	}
	if p["type"] != "https://crm.example.com/problems/"+fmt.Sprint(p["code"]) {
		return fmt.Errorf("%s: problem type %v", what, p["type"])
	}
	return nil
}

// MediaType is the media type of h's Content-Type, without parameters ("" when there is none).
func MediaType(h http.Header) string {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt
}

// Summary names an exchange in one line for messages: the request, the status and the start of
// the response body.
func Summary(req *http.Request, res *http.Response, body []byte) string {
	const limit = 600
	b := string(body)
	if len(body) > limit {
		b = string(body[:limit]) + "..."
	}
	return fmt.Sprintf("%s %s -> %d: %s", req.Method, req.URL.RequestURI(), res.StatusCode, b)
}

// GetsWithHead checks that every GET route of routes ("METHOD /path") has its HEAD and every
// HEAD its GET, and returns routes without the HEADs: a document describes GET only, and HEAD
// mirrors it (RFC 9110 9.3.2).
func GetsWithHead(routes []string) ([]string, error) {
	has := make(map[string]bool, len(routes))
	for _, r := range routes {
		has[r] = true
	}
	var out []string
	var errs []error
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		switch method {
		case http.MethodHead:
			if !has[http.MethodGet+" "+path] {
				errs = append(errs, fmt.Errorf("%s has no GET", r))
			}
			continue
		case http.MethodGet:
			if !has[http.MethodHead+" "+path] {
				errs = append(errs, fmt.Errorf("%s does not answer HEAD", r))
			}
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}
