package client

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/org"
)

// Settings are an org's onboarding checklist template (GET/PUT /settings/onboarding).
type Settings struct {
	Tasks []TaskTemplate `json:"tasks"`
}

// TaskTemplate is one task of the template: its title and its due date's distance in days from
// the start of onboarding.
type TaskTemplate struct {
	Title     string `json:"title"`
	DueInDays int    `json:"dueInDays"`
}

// The limits of Onboarding.
const (
	MinTasks     = 1
	MaxTasks     = 50
	MaxTitleLen  = 300
	MaxDueInDays = 365
)

// Onboarding is the org's onboarding checklist template, "onboarding" in org_settings:
// DefaultSettings until the org saves its own, which Settings.Normalize and Settings.Check pass.
// Clients onboarding already keep their tasks; a new template applies to the next client.
var Onboarding = org.Setting[Settings]{Name: "onboarding", Default: DefaultSettings, Check: org.CheckFields[Settings]("onboarding settings are invalid")}

// DefaultSettings are the checklist of an org without saved settings.
func DefaultSettings() Settings {
	return Settings{Tasks: []TaskTemplate{
		{Title: "Kick-off call", DueInDays: 2},
		{Title: "Collect access and assets", DueInDays: 5},
		{Title: "Set up the account", DueInDays: 7},
		{Title: "Training session", DueInDays: 14},
		{Title: "30-day check-in", DueInDays: 30},
	}}
}

// Normalize trims the titles.
func (s Settings) Normalize() Settings {
	out := Settings{Tasks: make([]TaskTemplate, len(s.Tasks))}
	for i, t := range s.Tasks {
		out.Tasks[i] = TaskTemplate{Title: strings.TrimSpace(t.Title), DueInDays: t.DueInDays}
	}
	return out
}

// Check returns the field errors of s (nil when valid).
func (s Settings) Check() []apperr.FieldError {
	var out []apperr.FieldError
	if len(s.Tasks) < MinTasks || len(s.Tasks) > MaxTasks {
		out = append(out, apperr.FieldError{Field: "tasks", Message: fmt.Sprintf("must hold %d to %d tasks", MinTasks, MaxTasks)})
	}
	for i, t := range s.Tasks {
		if t.Title == "" || utf8.RuneCountInString(t.Title) > MaxTitleLen || !utf8.ValidString(t.Title) || hasControl(t.Title) {
			out = append(out, apperr.FieldError{Field: fmt.Sprintf("tasks[%d].title", i), Message: fmt.Sprintf("must be 1 to %d characters of text", MaxTitleLen)})
		}
		if t.DueInDays < 0 || t.DueInDays > MaxDueInDays {
			out = append(out, apperr.FieldError{Field: fmt.Sprintf("tasks[%d].dueInDays", i), Message: fmt.Sprintf("must be from 0 to %d", MaxDueInDays)})
		}
	}
	return out
}

// hasControl reports whether s holds a control character.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}
