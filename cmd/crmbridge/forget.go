package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"crmbridge/crmstore"
)

func forgetCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "forget",
		Usage:     "remove what one imported file brought to the store (undo an import)",
		ArgsUsage: "SOURCE",
		Description: `SOURCE is a file as it was imported (the path import was given, or the same
file by another relative path). In one transaction:

A record only SOURCE brought (no other file gave it, no edit or pull changed
it) is deleted, as crmbridge delete does: queued upstream as a delete, and
removed from export targets. An account made for a contact's company goes
with the last contact naming it.

A record other files also brought keeps its record and loses SOURCE's values:
each field SOURCE wrote goes back to what the others gave (or empty); local
edits stay. Extra values only SOURCE gave go; values that cannot be restored
(over 256 bytes, parties, attachments) are kept and counted. The changes are
queued upstream as updates.

A record only SOURCE brought but edited or pulled since keeps all its values
and only loses SOURCE as its origin.

SOURCE's fingerprint, its remembered problems and the conflicts it raised go
too: importing it again reads it as new. --dry-run prints the same summary and
changes nothing.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would be removed, change nothing"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("forget: give one SOURCE (a file as it was imported)")
			}
			path, err := filepath.Abs(c.Args().First())
			if err != nil {
				return usagef("forget: %v", err)
			}
			dry, asJSON := c.Bool("dry-run"), c.Bool("json")
			forget := func(store *crmstore.Store) (string, error) {
				rep, err := store.Forget(c.Context, path, dry)
				if errors.Is(err, crmstore.ErrUnknownSource) {
					return "", usagef("forget: %s: nothing was imported from it (crmbridge status lists the sources)", path)
				}
				if err != nil {
					return "", err
				}
				for _, w := range rep.Warnings {
					e.log.Warn("forget cannot set back exactly", slog.String("record", w))
				}
				line := forgetLine(rep, dry)
				e.runResult = forgetJSON{ForgetReport: rep, DryRun: dry}
				if asJSON {
					return line, e.printJSON(e.runResult)
				}
				if !e.quiet {
					fmt.Fprintln(e.stdout, line)
				}
				return line, nil
			}
			if dry {
				// Nothing is written, not even the run: the write lock is
				// taken so that the summary is what a real run would do.
				store, err := e.open(c.Context, true, false, "crmbridge forget --dry-run")
				if err != nil {
					return err
				}
				defer store.Close()
				_, err = forget(store)
				return err
			}
			return withStore(c.Context, e, "forget "+path, writeOpts{}, forget)
		},
	}
}

// forgetJSON is forget --json.
type forgetJSON struct {
	*crmstore.ForgetReport
	DryRun bool `json:"dry_run"`
}

func forgetLine(r *crmstore.ForgetReport, dry bool) string {
	fields := 0
	for _, x := range r.Reverted {
		fields += len(x.Fields)
	}
	line := fmt.Sprintf("forget: %s: %d item(s); %d record(s) deleted", r.Source, r.Items, len(r.Deleted))
	if r.Accounts > 0 {
		line += fmt.Sprintf(" (%d account(s) for companies)", r.Accounts)
	}
	line += fmt.Sprintf(", %d record(s) kept with %d field(s) set back", len(r.Reverted), fields)
	if r.Kept > 0 {
		line += fmt.Sprintf(", %d value(s) kept (cannot be restored)", r.Kept)
	}
	if r.Conflicts > 0 {
		line += fmt.Sprintf(", %d conflict(s) removed", r.Conflicts)
	}
	if r.Problems > 0 {
		line += fmt.Sprintf(", %d remembered problem(s) removed", r.Problems)
	}
	if dry {
		line += " — dry run: nothing changed"
	}
	return line
}
