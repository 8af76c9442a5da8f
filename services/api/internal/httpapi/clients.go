package httpapi

import (
	"context"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"example.com/crm/pkg/client"
	"example.com/crm/pkg/page"
)

// clientRoutes registers the client routes and the onboarding settings (API.md "Money, clients
// and onboarding"): bind and validate, call one client use case, answer with client.Client or
// client.Task, whose JSON is the API's. Clients and their tasks are created by the worker
// (create_client on invoice.paid, start_onboarding on client.created), never here.
func (s *Server) clientRoutes(r router) {
	svc := client.NewService(s.DB, s.Emitter)
	r.GET("/clients", listRoute(clientFilter, svc.List))
	r.GET("/clients/:id", getRoute(svc.Get))
	r.PATCH("/clients/:id", actionRoute(s, bindOpts{},
		func(ctx context.Context, orgID uuid.UUID, _ string, id uuid.UUID, req clientPatchRequest) (client.Client, error) {
			return svc.SetRenewalDate(ctx, orgID, id, req.RenewalDate)
		}))
	r.POST("/clients/:id/status", actionRoute(s, bindOpts{},
		func(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, req statusRequest) (client.Client, error) {
			return svc.ChangeStatus(ctx, orgID, actor, id, client.Status(req.Status))
		}))
	r.GET("/clients/:id/onboarding", getRoute(func(ctx context.Context, orgID, id uuid.UUID) (map[string]any, error) {
		tasks, err := svc.Tasks(ctx, orgID, id)
		return map[string]any{"data": tasks}, err
	}))
	r.POST("/clients/:id/onboarding/:taskId", func(c echo.Context) error {
		if _, err := pathUUID(c, "id"); err != nil {
			return err
		}
		taskID, err := pathUUID(c, "taskId")
		if err != nil {
			return err
		}
		return actionRoute(s, bindOpts{},
			func(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, req statusRequest) (client.Task, error) {
				return svc.SetTask(ctx, orgID, actor, id, taskID, client.TaskStatus(req.Status))
			})(c)
	})
	settingRoutes(s, r, "/settings/onboarding", client.Onboarding, onboardingRequest.settings)
}

// clientPatchRequest is the body of PATCH /clients/{id}.
type clientPatchRequest struct {
	RenewalDate string `json:"renewalDate" validate:"required"`
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

// clientFilter is GET /clients?status=&limit=&cursor=.
func clientFilter(c echo.Context, p page.Request) (client.ListFilter, error) {
	status, err := queryOneOf(c, "status", client.Statuses()...)
	return client.ListFilter{Status: client.Status(status), Page: p}, err
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
