package httpapi

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"example.com/crm/pkg/httpx"
)

// handleError is echo's HTTPErrorHandler: every failure, echo's own 404 and 405 included,
// leaves as an RFC 9457 problem document (httpx.ProblemFor, which also classifies database
// faults). Server errors are logged with the request id; internal ones are shown to the client
// without their detail, and every 503 carries Retry-After.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	err = fromEcho(err)
	p := httpx.ProblemFor(err)
	p.Instance = c.Request().URL.Path
	if p.Status >= 500 {
		s.Log.Error("request failed", zap.Error(err), zap.String("request_id", requestID(c)),
			zap.String("method", c.Request().Method), zap.String("path", c.Request().URL.Path))
	}
	httpx.SetRetryAfter(c.Response().Header(), p.Status)
	if p.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="crm"`)
	}
	c.Response().Header().Set("Content-Type", httpx.ProblemContentType)
	_ = c.JSON(p.Status, p)
}

// checkRequest refuses a request that no handler should see (httpx.CheckRequest): path
// parameters or a query that PostgreSQL cannot take as text or that does not parse (400), a
// header meant once given twice (400), a body with a content coding (415).
func checkRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := httpx.CheckRequest(c.ParamNames(), c.ParamValues(), c.Request()); err != nil {
			return err
		}
		return next(c)
	}
}

// fromEcho turns echo's own errors (no route, wrong method, its middleware's refusals) into
// apperr errors; anything else passes through.
func fromEcho(err error) error {
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		return err
	}
	if mapped := httpx.ErrorForStatus(he.Code); mapped != nil {
		return mapped
	}
	return err
}
