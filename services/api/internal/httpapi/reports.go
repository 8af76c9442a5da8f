package httpapi

import (
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/page"
	"example.com/crm/pkg/report"
)

// reportRoutes registers the report routes (API.md "Scheduler, reports and alerts"): the
// worker's generate_weekly_report writes reports, the API only reads them, so its service
// writes no narrative.
func (s *Server) reportRoutes(r router) {
	svc := report.NewService(s.DB, s.Emitter, nil)
	r.GET("/reports", listRoute(reportFilter, svc.List))
	r.GET("/reports/:id", getRoute(svc.Get))
	r.GET("/reports/:id/document", documentRoute(svc.Document))
}

// reportFilter is GET /reports?kind=&limit=&cursor=.
func reportFilter(c echo.Context, p page.Request) (report.ListFilter, error) {
	kind, err := queryOneOf(c, "kind", report.Kinds...)
	return report.ListFilter{Kind: kind, Page: p}, err
}
