// Package migrations holds the golang-migrate SQL files of the whole system, embedded so that
// every binary can migrate the database itself (`<binary> migrate up|down|version`).
//
// Files are numbered NNNNNN_name.{up,down}.sql; add new ones at the end, never edit a landed one.
package migrations

import "embed"

// FS holds every *.sql migration file.
//
//go:embed *.sql
var FS embed.FS
