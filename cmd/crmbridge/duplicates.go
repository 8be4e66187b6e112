package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"crmbridge/crmstore"
)

func duplicatesCommand(e *env) *cli.Command {
	settle := func(name, usage string, do func(tx *crmstore.Tx, a, b string) (string, error)) *cli.Command {
		return &cli.Command{
			Name:      name,
			Usage:     usage,
			ArgsUsage: "A B",
			Action: func(c *cli.Context) error {
				if c.NArg() != 2 {
					return usagef("duplicates %s: give the two record IDs of a possible duplicate (see crmbridge duplicates)", name)
				}
				return withTx(c.Context, e, "duplicates "+name, writeOpts{}, func(tx *crmstore.Tx) (string, error) {
					return do(tx, c.Args().Get(0), c.Args().Get(1))
				})
			},
		}
	}
	return &cli.Command{
		Name:  "duplicates",
		Usage: "list possible duplicates: records with one e-mail address whose names disagree",
		Description: `Import merges a contact into one with the same e-mail address only when the
names agree (equal, one empty, or one an abbreviation of the other: "J. Smith"
and "Jeff Smith"). Otherwise it creates a second contact and records the pair
here. "duplicates merge A B" makes them one (A stays; it takes B's values for
its empty fields, B's extra values and sources; B is deleted); "duplicates
dismiss A B" records that they are two people.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.BoolFlag{Name: "all", Usage: "also the pairs already merged or dismissed"},
		},
		Subcommands: []*cli.Command{
			settle("merge", "merge record B into record A", func(tx *crmstore.Tx, a, b string) (string, error) {
				kept, err := tx.MergeDuplicate(a, b, "cli")
				return fmt.Sprintf("merged %s into %s", b, kept), err
			}),
			settle("dismiss", "record that A and B are two people", func(tx *crmstore.Tx, a, b string) (string, error) {
				return fmt.Sprintf("dismissed %s %s", a, b), tx.DismissDuplicate(a, b)
			}),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return unknownCommand(c.Args().First(), c.Command.Subcommands)
			}
			store, err := e.openStore(c.Context)
			if err != nil {
				return err
			}
			defer store.Close()
			ds, err := store.Duplicates(c.Context, c.Bool("all"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if ds == nil {
					ds = []crmstore.Duplicate{}
				}
				return e.printJSON(ds)
			}
			w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "A\tNAME A\tB\tNAME B\tWHY\tSETTLED")
			for _, d := range ds {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", d.A, oneLine(d.NameA, 30), d.B, oneLine(d.NameB, 30), d.Reason, d.Settled)
			}
			return w.Flush()
		},
	}
}
