package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/timeline"
)

// timelineRoutes registers GET /leads/{id}/timeline: the lead's whole story, its own events and
// those of the records that grew from it, one cursor-paged list in time order.
func (s *Server) timelineRoutes(r router) {
	svc := timeline.NewService(s.DB)
	r.GET("/leads/:id/timeline", func(c echo.Context) error {
		id, err := pathUUID(c, "id")
		if err != nil {
			return err
		}
		p, err := pageRequest(c)
		if err != nil {
			return err
		}
		orders := make([]string, len(timeline.Orders))
		for i, o := range timeline.Orders {
			orders[i] = string(o)
		}
		order, err := queryOneOf(c, "order", orders...)
		if err != nil {
			return err
		}
		q := timeline.Query{Page: p, Order: timeline.Order(order), Types: timeline.ParseTypes(c.QueryParam("types"))}
		out, err := svc.Lead(c.Request().Context(), orgOf(c), id, q)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	})
}
