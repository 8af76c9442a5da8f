package httpapi

import (
	"context"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/page"
)

// The handler shapes of a domain's routes (invoices, contracts, clients, ...): each reads what
// its route names (the path's id, the query, the body), calls one use case of the caller's org
// and answers its value as JSON with 200. A domain's HTTP file holds its request types and the
// calls of these; documentRoute and settingRoutes are the other two shapes.

// getRoute is the handler of GET /<entities>/{id}: get's value for the org's entity id (a
// malformed id is 400; a missing or other org's entity get's 404).
func getRoute[T any](get func(ctx context.Context, orgID, id uuid.UUID) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathUUID(c, "id")
		if err != nil {
			return err
		}
		out, err := get(c.Request().Context(), orgOf(c), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	}
}

// listRoute is the handler of GET /<entities>?limit=&cursor=&...: filter reads the page and the
// route's other query parameters into the use case's filter F (a bad one is its 400), and list
// answers a page of the org's entities.
func listRoute[F, T any](filter func(c echo.Context, p page.Request) (F, error),
	list func(ctx context.Context, orgID uuid.UUID, f F) (page.Page[T], error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := pageRequest(c)
		if err != nil {
			return err
		}
		f, err := filter(c, p)
		if err != nil {
			return err
		}
		out, err := list(c.Request().Context(), orgOf(c), f)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	}
}

// actionRoute is the handler of a POST or PATCH on /<entities>/{id}[/...]: the org's entity id,
// then the body bound and validated into Req (with opts), handed with the caller as the actor to
// do, whose value it answers.
func actionRoute[Req, T any](s *Server, opts bindOpts,
	do func(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, req Req) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathUUID(c, "id")
		if err != nil {
			return err
		}
		var req Req
		if err := s.bindJSONWith(c, &req, opts); err != nil {
			return err
		}
		out, err := do(c.Request().Context(), orgOf(c), actorOf(c), id, req)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	}
}

// statusRequest is the body of POST /<entities>/{id}/status and of the routes that set a
// status the same way; an unknown status is the use case's 422.
type statusRequest struct {
	Status string `json:"status" validate:"required"`
}
