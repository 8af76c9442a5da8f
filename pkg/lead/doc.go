// Package lead is the lead domain: the Lead and its activities, the enforced stage machine
// (stage.go), the gorm queries on the leads and lead_activities tables (store.go) and the use
// cases the API and the worker call (service.go). Every use case that changes state runs in one
// tenant transaction (db.Tx) that also emits the change's event, so the change, its history and
// the jobs it triggers commit together (R1).
//
// It knows no transport: errors are apperr errors, which the services map to HTTP statuses or
// job outcomes.
package lead
