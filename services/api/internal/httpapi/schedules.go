package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/schedule"
)

// scheduleRoutes registers the schedule routes (API.md "Scheduler, reports and alerts"): the
// org's recurring cron tasks, which people see, re-time, switch on and off and run by hand, and
// its pending one-off tasks, which they see and cancel. The tasks themselves are seeded per org
// and created by the domains (follow-ups), never here.
func (s *Server) scheduleRoutes(r router) {
	h := &scheduleHandlers{svc: schedule.NewService(s.DB, s.Queue, s.Emitter, catalog.New().KindNames()), s: s}
	r.GET("/cron-tasks", h.listCron)
	r.PATCH("/cron-tasks/:id", h.patchCron)
	r.POST("/cron-tasks/:id/run", h.runCron)
	r.GET("/scheduled-tasks", h.listScheduled)
	r.DELETE("/scheduled-tasks/:id", h.cancelScheduled)
}

// scheduleHandlers are the schedule routes' handlers: bind, call one schedule use case, answer
// with schedule.CronTask or schedule.ScheduledTask, whose JSON is the API's.
type scheduleHandlers struct {
	svc *schedule.Service
	s   *Server
}

// cronTaskPatchRequest is the body of PATCH /cron-tasks/{id}: only the members given change, at
// least one is given. The service checks the expression and the zone with the scheduler's
// parser (422 with its reason).
type cronTaskPatchRequest struct {
	CronExpr *string `json:"cronExpr"`
	Timezone *string `json:"timezone"`
	Enabled  *bool   `json:"enabled"`
}

// runResponse is the answer of POST /cron-tasks/{id}/run.
type runResponse struct {
	JobID int64 `json:"jobId"`
}

// listCron is GET /cron-tasks: every task of the org, {data: [...]}.
func (h *scheduleHandlers) listCron(c echo.Context) error {
	out, err := h.svc.CronTasks(c.Request().Context(), orgOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"data": out})
}

func (h *scheduleHandlers) patchCron(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req cronTaskPatchRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	out, err := h.svc.UpdateCronTask(c.Request().Context(), orgOf(c), actorOf(c), id,
		schedule.CronPatch{CronExpr: req.CronExpr, Timezone: req.Timezone, Enabled: req.Enabled})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// runCron is POST /cron-tasks/{id}/run: one job of the task now (202 {jobId}). The request's
// Idempotency-Key also keys the job, so a retry that the stored answer misses still finds the
// job it enqueued rather than a second one.
func (h *scheduleHandlers) runCron(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	jobID, err := h.svc.RunCronTask(c.Request().Context(), orgOf(c), id, c.Request().Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, runResponse{JobID: jobID})
}

// listScheduled is GET /scheduled-tasks?limit=&cursor=: the org's pending one-off tasks, the
// soonest first.
func (h *scheduleHandlers) listScheduled(c echo.Context) error {
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	out, err := h.svc.ScheduledTasks(c.Request().Context(), orgOf(c), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// cancelScheduled is DELETE /scheduled-tasks/{id}: the pending task never runs (204).
func (h *scheduleHandlers) cancelScheduled(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	if err := h.svc.CancelScheduledTask(c.Request().Context(), orgOf(c), actorOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
