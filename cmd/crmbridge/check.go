package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"crmbridge/crmstore"
)

func checkCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check the store in full: SQLite's integrity_check and crmbridge's own invariants",
		Description: `Reads the whole store, changing nothing: SQLite's integrity_check (every page,
b-tree and index entry), foreign keys, and crmbridge's invariants: every outbox
entry points at a record, every activity party and list member at a record or
an address, the journal's sequence has no gaps. Unlike other commands it
reports a damaged store instead of refusing it. Every command already runs
SQLite's quick_check before using a store whose file changed since it was last
verified. Lines "note" say what a store made by an older crmbridge holds less
exactly (iTIP versions and replies it did not record per file); they are not
problems.`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("check takes no arguments")
			}
			if e.dbErr != nil {
				return e.dbErr
			}
			if _, err := os.Stat(e.dbPath); errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%w at %s", crmstore.ErrNoStore, e.dbPath)
			}
			rep, err := crmstore.Check(c.Context, e.dbPath)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := e.printJSON(rep); err != nil {
					return err
				}
			} else if len(rep.Problems) == 0 || !e.quiet {
				if !e.quiet {
					fmt.Fprintf(e.stdout, "store\t%s (schema %d)\nintegrity\t%s\n", rep.Path, rep.Schema, rep.Integrity)
				}
				for _, p := range rep.Problems {
					fmt.Fprintf(e.stdout, "problem\t%s\n", p)
				}
				if !e.quiet {
					for _, n := range rep.Notes {
						fmt.Fprintf(e.stdout, "note\t%s\n", n)
					}
				}
			}
			if len(rep.Problems) > 0 {
				return &crmstore.DamagedError{Path: rep.Path, Kind: crmstore.ErrDamaged,
					Detail: fmt.Sprintf("%d problem(s) found", len(rep.Problems))}
			}
			return nil
		},
	}
}

func backupCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "backup",
		Usage:     "write a consistent copy of the store to FILE (0600), also while it is in use",
		ArgsUsage: "FILE",
		Description: `Copies the store with SQLite's VACUUM INTO: one consistent snapshot, taken
while other crmbridge commands may be writing (they are not blocked). FILE must
not exist; it is written under a temporary name and appears only when complete.
Restore by copying FILE to the store's path while no crmbridge runs.`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("backup: give one FILE to write")
			}
			dest := c.Args().First()
			store, err := e.openStore(c.Context)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.Backup(c.Context, dest); err != nil {
				if errors.Is(err, crmstore.ErrExists) {
					return usageError{err}
				}
				return err
			}
			if !e.quiet {
				fmt.Fprintf(e.stdout, "backup: %s written\n", dest)
			}
			return nil
		},
	}
}
