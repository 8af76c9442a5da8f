package db

import (
	"encoding/json"
	"fmt"
	"io"
)

// RunMigrateCommand is the `<binary> migrate up|down|version` subcommand shared by every
// binary: it runs the command against url and prints the resulting status as one JSON line.
func RunMigrateCommand(w io.Writer, url string, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: migrate up|down|version")
	}
	status, err := Migrate(url, args[0])
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(status)
}
