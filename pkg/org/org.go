package org

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// CronTask is one recurring task seeded for every new org; operators may edit it. The scheduler
// enqueues JobType once per slot of Cron (5 fields, UTC). The domains declare the tasks of their
// job kinds, and the binaries pass them to Create (catalog.Catalog.CronTasks).
type CronTask struct {
	Name    string
	JobType string
	Cron    string
}

// Created is the result of Create: the new org and its first API key, in clear, shown once.
type Created struct {
	OrgID  uuid.UUID `json:"orgId"`
	APIKey string    `json:"apiKey"`
}

// Create makes an org named name with the cron tasks seeds and a first API key, in one
// transaction. It returns apperr.Invalid for an empty or over-long name.
func Create(ctx context.Context, d *db.DB, name string, seeds ...CronTask) (Created, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 200 {
		return Created{}, apperr.Errorf(apperr.Invalid, "org name must be 1..200 characters")
	}
	id := uuid.New()
	var key string
	err := d.Tx(ctx, id, func(tx *gorm.DB) error {
		if _, err := db.Exec(ctx, tx, insertOrgSQL, id, name); err != nil {
			return fmt.Errorf("insert org: %w", err)
		}
		for _, c := range seeds {
			if _, err := db.Exec(ctx, tx, insertCronTaskSQL, id, c.Name, c.JobType, c.Cron); err != nil {
				return fmt.Errorf("seed cron task %s: %w", c.Name, err)
			}
		}
		var err error
		key, _, err = insertKey(ctx, tx, id, "default")
		return err
	})
	if err != nil {
		return Created{}, fmt.Errorf("create org: %w", err)
	}
	return Created{OrgID: id, APIKey: key}, nil
}
