package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

var creatable = []crm.Entity{crm.Contact, crm.Account, crm.Lead, crm.Opportunity,
	crm.PhoneCall, crm.Fax, crm.Letter, crm.Task, crm.Appointment}

func creatableNames() string {
	names := make([]string, len(creatable))
	for i, e := range creatable {
		names[i] = string(e)
	}
	return strings.Join(names, ", ")
}

// parseAssignments reads field=value arguments for entity e.
func parseAssignments(e crm.Entity, args []string) (map[string]string, error) {
	fields := map[string]string{}
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, usagef("%q is not field=value", a)
		}
		v, err := crm.ParseInput(e, strings.ToLower(strings.TrimSpace(name)), value)
		if err != nil {
			return nil, usageError{err}
		}
		fields[strings.ToLower(strings.TrimSpace(name))] = v
	}
	return fields, nil
}

func newCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "new",
		Usage:     "create a CRM record: " + creatableNames(),
		ArgsUsage: "TYPE field=value...",
		Description: `Creates a record on the CRM side and prints its id. Fields are Dataverse
logical names (firstname, lastname, emailaddress1, subject, scheduledend, ...);
an unknown field or a bad value is refused with the list of valid ones, and
a value that is not UTF-8 text with the offset of its first bad byte.
Times: 2026-11-25T14:00:00Z, "2026-11-25 14:00" (local) or 2026-11-25.`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the new record's id, short id and type as JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("new: give a record type (%s)", creatableNames())
			}
			ent := crm.Entity(c.Args().First())
			ok := false
			for _, x := range creatable {
				ok = ok || x == ent
			}
			if !ok {
				return usagef("new: cannot create %q (valid: %s)", ent, creatableNames())
			}
			fields, err := parseAssignments(ent, c.Args().Tail())
			if err != nil {
				return err
			}
			var id string
			err = withTx(c.Context, e, "new", writeOpts{create: true}, func(tx *crmstore.Tx) (string, error) {
				var err error
				id, err = tx.Create(ent, fields, "cli")
				e.runResult = editJSON{ID: id, ShortID: crmstore.ShortID(id), Entity: ent, Changed: fieldNames(fields)}
				return fmt.Sprintf("new %s %s", ent, id), err
			})
			switch {
			case err != nil:
			case c.Bool("json"):
				err = e.printJSON(editJSON{ID: id, ShortID: crmstore.ShortID(id), Entity: ent, Changed: fieldNames(fields)})
			default:
				fmt.Fprintln(e.stdout, id)
			}
			return err
		},
	}
}

func setCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "set",
		Usage:     "change fields of a record",
		ArgsUsage: "ID field=value...",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the record's id and the fields changed as JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return usagef("set: give a record ID and at least one field=value")
			}
			return withTx(c.Context, e, "set", writeOpts{}, func(tx *crmstore.Tx) (string, error) {
				id, ent, err := resolveID(tx, c.Args().First())
				if err != nil {
					return "", err
				}
				fields, err := parseAssignments(ent, c.Args().Tail())
				if err != nil {
					return "", err
				}
				changed, err := tx.Set(id, fields, "cli")
				line := fmt.Sprintf("%s: %d field(s) changed %v", id, len(changed), changed)
				if changed == nil {
					changed = []string{}
				}
				e.runResult = editJSON{ID: id, ShortID: crmstore.ShortID(id), Entity: ent, Changed: changed}
				switch {
				case err != nil:
				case c.Bool("json"):
					err = e.printJSON(e.runResult)
				case !e.quiet:
					fmt.Fprintln(e.stdout, line)
				}
				return line, err
			})
		},
	}
}

func deleteCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a record (queued upstream; exported as cancelled or removed)",
		ArgsUsage: "ID",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("delete: give one record ID")
			}
			return withTx(c.Context, e, "delete", writeOpts{}, func(tx *crmstore.Tx) (string, error) {
				id, _, err := resolveID(tx, c.Args().First())
				if err != nil {
					return "", err
				}
				return "deleted " + id, tx.Delete(id, "cli")
			})
		},
	}
}

func linkCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "link",
		Usage:     "set what an activity is regarding: a contact, account, lead or opportunity",
		ArgsUsage: "ACTIVITY-ID --regarding ID",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "regarding", Usage: "record the activity is regarding (required)"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 || c.String("regarding") == "" {
				return usagef("link: give one activity ID and --regarding ID")
			}
			return withTx(c.Context, e, "link", writeOpts{}, func(tx *crmstore.Tx) (string, error) {
				act, _, err := resolveID(tx, c.Args().First())
				if err != nil {
					return "", err
				}
				reg, _, err := resolveID(tx, c.String("regarding"))
				if err != nil {
					return "", err
				}
				return fmt.Sprintf("linked %s regarding %s", act, reg), tx.Link(act, reg, "cli")
			})
		},
	}
}

// resolveID expands an id prefix (as list prints ids in full, a prefix of
// 8 or more characters is accepted) and returns the record's entity.
func resolveID(tx *crmstore.Tx, id string) (string, crm.Entity, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	full, err := tx.ExpandID(id)
	if err != nil {
		return "", "", usageError{err}
	}
	ent, err := tx.EntityOf(full)
	return full, ent, err
}

// editJSON is new --json and set --json: the record and the fields given
// (new) or changed (set).
type editJSON struct {
	ID      string     `json:"id"`
	ShortID string     `json:"short_id"`
	Entity  crm.Entity `json:"entity"`
	Changed []string   `json:"changed"`
}

func fieldNames(f map[string]string) []string {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
