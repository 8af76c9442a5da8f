package httpapi

import (
	"time"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/apperr"
)

// shedWait is how long a delivery may wait for a place among the in-flight ones before it is
// refused with 503.
const shedWait = time.Second

// shed bounds the webhook and form deliveries being worked on at once (Config.MaxInFlight). Past
// the bound a delivery waits up to shedWait and is then refused with 503 and Retry-After:
// an overloaded gateway answers some senders "later" quickly instead of letting every request
// queue for the database until all of them time out.
func (s *Server) shed(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		select {
		case s.inFlight <- struct{}{}:
		default:
			t := time.NewTimer(shedWait)
			defer t.Stop()
			select {
			case s.inFlight <- struct{}{}:
			case <-t.C:
				c.Response().Header().Set("Retry-After", "1")
				return apperr.Errorf(apperr.Unavailable, "the gateway is over capacity; retry after 1 s")
			case <-c.Request().Context().Done():
				return apperr.Errorf(apperr.Unavailable, "the request ended while waiting for capacity")
			}
		}
		defer func() { <-s.inFlight }()
		return next(c)
	}
}
