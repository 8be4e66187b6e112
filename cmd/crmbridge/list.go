package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

var activityTypes = []crm.Entity{crm.Email, crm.Task, crm.Appointment, crm.PhoneCall, crm.Fax, crm.Letter}

func listCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list records: contacts, activities, accounts, leads, opportunities or lists",
		ArgsUsage: "contacts|activities|accounts|leads|opportunities|lists",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.StringFlag{Name: "type", Usage: "activity type: email, task, appointment, phonecall, fax, letter"},
			&cli.IntFlag{Name: "limit", Usage: "at most this many records"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("list: say what to list: contacts, activities, accounts, leads, opportunities or lists")
			}
			var ents []crm.Entity
			switch what := c.Args().First(); what {
			case "contacts", "contact":
				ents = []crm.Entity{crm.Contact}
			case "accounts", "account":
				ents = []crm.Entity{crm.Account}
			case "leads", "lead":
				ents = []crm.Entity{crm.Lead}
			case "opportunities", "opportunity":
				ents = []crm.Entity{crm.Opportunity}
			case "lists", "list":
				ents = []crm.Entity{crm.List}
			case "activities", "activity":
				ents = activityTypes
				if t := c.String("type"); t != "" {
					ent := crm.Entity(t)
					if !ent.IsActivity() {
						return usagef("list: unknown activity type %q (valid: email, task, appointment, phonecall, fax, letter)", t)
					}
					ents = []crm.Entity{ent}
				}
			default:
				return usagef("list: unknown record kind %q (valid: contacts, activities, accounts, leads, opportunities, lists)", what)
			}
			if c.String("type") != "" && !ents[0].IsActivity() {
				return usagef("list: --type applies to activities only")
			}
			store, err := e.openStore(c.Context)
			if err != nil {
				return err
			}
			defer store.Close()
			recs, err := store.List(c.Context, crmstore.ListFilter{Entities: ents, Limit: c.Int("limit")})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if recs == nil {
					recs = []crmstore.Summary{}
				}
				return e.printJSON(recs)
			}
			w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			for _, r := range recs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.ShortID, r.Entity, oneLine(r.Title, 60), oneLine(r.Detail, 40), r.When)
			}
			return w.Flush()
		},
	}
}

// oneLine shortens s to at most n runes on one line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
