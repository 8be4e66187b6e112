package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"crmbridge/crmstore"
)

func conflictsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "conflicts",
		Usage: "list fields changed both in the store and by a source, and how they were settled",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.BoolFlag{Name: "open", Usage: "only conflicts not settled yet (--conflict fail)"},
		},
		Subcommands: []*cli.Command{{
			Name:      "resolve",
			Usage:     "settle a conflict by taking the local or the incoming value",
			ArgsUsage: "ID --take local|incoming",
			Flags:     []cli.Flag{&cli.StringFlag{Name: "take", Usage: "local or incoming (required)"}},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usagef("conflicts resolve: give one conflict ID")
				}
				id, err := strconv.ParseInt(c.Args().First(), 10, 64)
				if err != nil {
					return usagef("conflicts resolve: %q is not a conflict ID", c.Args().First())
				}
				take := c.String("take")
				if !c.IsSet("take") {
					return usagef("conflicts resolve: give --take local or --take incoming")
				}
				if take != "local" && take != "incoming" {
					return usagef("--take must be local or incoming")
				}
				return withTx(c.Context, e, "conflicts resolve", writeOpts{}, func(tx *crmstore.Tx) (string, error) {
					return fmt.Sprintf("conflict %d resolved: took %s", id, take), tx.ResolveConflict(id, take, "cli")
				})
			},
		}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return unknownCommand(c.Args().First(), c.Command.Subcommands)
			}
			store, err := e.openStore(c.Context)
			if err != nil {
				return err
			}
			defer store.Close()
			cs, err := store.Conflicts(c.Context, !c.Bool("open"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if cs == nil {
					cs = []crmstore.Conflict{}
				}
				return e.printJSON(cs)
			}
			w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tRECORD\tFIELD\tLOCAL\tINCOMING\tWINNER")
			for _, k := range cs {
				winner := k.Winner
				if !k.Resolved {
					winner = "open"
				}
				fmt.Fprintf(w, "%d\t%s %s\t%s\t%s (%s)\t%s (%s)\t%s\n", k.ID, k.Entity, k.RecordID, k.Field,
					oneLine(k.LocalValue, 30), k.LocalBy, oneLine(k.IncomingValue, 30), k.IncomingBy, winner)
			}
			return w.Flush()
		},
	}
}
