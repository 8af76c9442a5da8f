package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/client"
)

// clientRoutes registers the client routes and the onboarding settings (API.md "Money, clients
// and onboarding"). Clients and their tasks are created by the worker (create_client on
// invoice.paid, start_onboarding on client.created), never here.
func (s *Server) clientRoutes(r router) {
	h := &clientHandlers{svc: client.NewService(s.DB, s.Emitter), s: s}
	r.GET("/clients", h.list)
	r.GET("/clients/:id", h.get)
	r.PATCH("/clients/:id", h.patch)
	r.POST("/clients/:id/status", h.status)
	r.GET("/clients/:id/onboarding", h.tasks)
	r.POST("/clients/:id/onboarding/:taskId", h.setTask)
	settingRoutes(s, r, "/settings/onboarding", client.Onboarding, onboardingRequest.settings)
}

// clientHandlers are the client routes' handlers: bind and validate, call one client use case,
// answer with client.Client or client.Task, whose JSON is the API's.
type clientHandlers struct {
	svc *client.Service
	s   *Server
}

// clientPatchRequest is the body of PATCH /clients/{id}.
type clientPatchRequest struct {
	RenewalDate string `json:"renewalDate" validate:"required"`
}

// clientStatusRequest is the body of POST /clients/{id}/status.
type clientStatusRequest struct {
	Status string `json:"status" validate:"required"`
}

// onboardingRequest is the body of PUT /settings/onboarding: the whole template, replacing the
// stored one (client.Settings.Check's rules, 422).
type onboardingRequest struct {
	Tasks []onboardingTaskRequest `json:"tasks" validate:"required"`
}

type onboardingTaskRequest struct {
	Title     string `json:"title"`
	DueInDays *int   `json:"dueInDays"`
}

func (h *clientHandlers) get(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	out, err := h.svc.Get(c.Request().Context(), orgOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// list is GET /clients?status=&limit=&cursor=.
func (h *clientHandlers) list(c echo.Context) error {
	p, err := pageRequest(c)
	if err != nil {
		return err
	}
	status, err := queryOneOf(c, "status", client.Statuses()...)
	if err != nil {
		return err
	}
	out, err := h.svc.List(c.Request().Context(), orgOf(c), client.ListFilter{Status: client.Status(status), Page: p})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *clientHandlers) patch(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req clientPatchRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	out, err := h.svc.SetRenewalDate(c.Request().Context(), orgOf(c), id, req.RenewalDate)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *clientHandlers) status(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	var req clientStatusRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	out, err := h.svc.ChangeStatus(c.Request().Context(), orgOf(c), actorOf(c), id, client.Status(req.Status))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *clientHandlers) tasks(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	out, err := h.svc.Tasks(c.Request().Context(), orgOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"data": out})
}

func (h *clientHandlers) setTask(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	taskID, err := pathUUID(c, "taskId")
	if err != nil {
		return err
	}
	var req clientStatusRequest
	if err := h.s.bindJSON(c, &req); err != nil {
		return err
	}
	out, err := h.svc.SetTask(c.Request().Context(), orgOf(c), actorOf(c), id, taskID, client.TaskStatus(req.Status))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// settings is the request as the template it replaces the stored one with.
func (req onboardingRequest) settings() client.Settings {
	in := client.Settings{Tasks: make([]client.TaskTemplate, len(req.Tasks))}
	for i, t := range req.Tasks {
		due := -1 // a missing dueInDays is refused by Check with the field's range
		if t.DueInDays != nil {
			due = *t.DueInDays
		}
		in.Tasks[i] = client.TaskTemplate{Title: t.Title, DueInDays: due}
	}
	return in
}
