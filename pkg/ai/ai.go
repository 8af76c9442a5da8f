package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// DefaultModel is the model used when AI_MODEL is empty.
const DefaultModel = "gpt-4o"

// Config configures the client.
type Config struct {
	// APIKey is OPENAI_API_KEY (required).
	APIKey string
	// Model is AI_MODEL (default DefaultModel).
	Model string
	// BaseURL is OPENAI_BASE_URL: any OpenAI-compatible server ("" is OpenAI's).
	BaseURL string
	// Timeout bounds one call including openai-go's own retries (default 60 s).
	Timeout time.Duration
	// MaxRetries is how often openai-go retries 429/5xx/connection errors itself (default 2;
	// negative means none).
	MaxRetries int
	// HTTPClient replaces the default HTTP client.
	HTTPClient *http.Client
}

// Client asks a chat model for schema-checked JSON. It is safe for concurrent use.
type Client struct {
	oc      openai.Client
	model   string
	timeout time.Duration
}

// New returns a client for cfg; an empty APIKey is an error.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("ai: OPENAI_API_KEY is required")
	}
	if cfg.Model == "" {
		cfg.Model = DefaultModel
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = 2
	case retries < 0:
		retries = 0
	}
	opts := []option.RequestOption{option.WithAPIKey(cfg.APIKey), option.WithMaxRetries(retries)}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &Client{oc: openai.NewClient(opts...), model: cfg.Model, timeout: cfg.Timeout}, nil
}

// Model returns the model the client asks.
func (c *Client) Model() string { return c.model }

// Request is one question whose answer must match Schema.
type Request struct {
	// Name names the schema (a-z, A-Z, 0-9, _ and -; at most 64 characters).
	Name string
	// Schema is a JSON schema in the strict subset of Structured Outputs: every property
	// required, additionalProperties false.
	Schema map[string]any
	// System and User are the two messages.
	System, User string
}

// Answer describes a successful call.
type Answer struct {
	// Model is the model that answered, as the server reports it.
	Model string
	// PromptTokens and CompletionTokens are the usage the server reports.
	PromptTokens, CompletionTokens int64
}

// Validator is implemented by answer types with checks beyond the schema (ranges, enums).
type Validator interface {
	Validate() error
}

// Errors of JSON; see the package doc for which are permanent.
var (
	// ErrMalformed is an answer that is not valid JSON of the schema or fails validation.
	ErrMalformed = errors.New("ai: malformed answer")
	// ErrRefused is a refusal of the model.
	ErrRefused = errors.New("ai: the model refused")
)

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err (or anything it wraps) is an error of this package that
// retrying cannot fix: a refusal or a 4xx other than 408, 409 and 429.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// JSON asks the model and decodes its answer strictly into out (a pointer), then validates it
// when out is a Validator.
func (c *Client) JSON(ctx context.Context, req Request, out any) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	params := openai.ChatCompletionNewParams{
		Model: c.model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(req.System),
			openai.UserMessage(req.User),
		},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
					Name:   req.Name,
					Strict: openai.Bool(true),
					Schema: req.Schema,
				},
			},
		},
		Temperature: openai.Float(0),
	}
	res, err := c.oc.Chat.Completions.New(ctx, params)
	if err != nil {
		return Answer{}, classify(err)
	}
	ans := Answer{Model: res.Model, PromptTokens: res.Usage.PromptTokens, CompletionTokens: res.Usage.CompletionTokens}
	if len(res.Choices) == 0 {
		return ans, fmt.Errorf("%w: no choices", ErrMalformed)
	}
	ch := res.Choices[0]
	if ch.Message.Refusal != "" {
		return ans, &permanentError{err: fmt.Errorf("%w: %s", ErrRefused, truncate(ch.Message.Refusal, 500))}
	}
	if ch.FinishReason == "length" {
		return ans, fmt.Errorf("%w: the answer was cut off (finish_reason length)", ErrMalformed)
	}
	if c := strings.TrimSpace(ch.Message.Content); c == "" || c == "null" {
		return ans, fmt.Errorf("%w: empty content", ErrMalformed)
	}
	if err := decodeStrict([]byte(ch.Message.Content), out); err != nil {
		return ans, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v, ok := out.(Validator); ok {
		if err := v.Validate(); err != nil {
			return ans, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	return ans, nil
}

// classify wraps an error of openai-go: 4xx other than 408/409/429 is permanent.
func classify(err error) error {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		s := apiErr.StatusCode
		if s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusConflict && s != http.StatusTooManyRequests {
			return &permanentError{err: fmt.Errorf("ask model: %w", err)}
		}
	}
	return fmt.Errorf("ask model: %w", err)
}

// decodeStrict decodes exactly one JSON value with no unknown fields into out.
func decodeStrict(b []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if dec.More() {
		return errors.New("decode answer: trailing data")
	}
	return nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
