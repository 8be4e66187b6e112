package main

import (
	"fmt"
	"text/tabwriter"

	"crmbridge/crm"
	"crmbridge/crmstore"

	"github.com/urfave/cli/v2"
)

var roleNames = map[int]string{
	crm.RoleSender: "from", crm.RoleTo: "to", crm.RoleCc: "cc", crm.RoleBcc: "bcc",
	crm.RoleRequired: "required", crm.RoleOptional: "optional", crm.RoleOrganizer: "organizer",
}

func showCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one record with its fields, parties, attachments and sources",
		ArgsUsage: "ID",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("show: give one record ID (see crmbridge list)")
			}
			store, err := e.openStore(c.Context)
			if err != nil {
				return err
			}
			defer store.Close()
			v, err := store.Get(c.Context, c.Args().First())
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return e.printJSON(toRecordJSON(v))
			}
			w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "id\t%s (short %s)\nentity\t%s\n", v.ID, crmstore.ShortID(v.ID), v.Entity)
			if v.Deleted {
				fmt.Fprintln(w, "deleted\tyes")
			}
			for _, fd := range crm.Fields(v.Entity) {
				if val, ok := v.Fields[fd.Name]; ok && fd.Name != "headers" && fd.Name != "descriptionhtml" {
					fmt.Fprintf(w, "%s\t%s\n", fd.Name, oneLine(val, 100))
				}
			}
			for _, p := range v.Parties {
				who := nameAddr(p)
				if p.ContactID != "" {
					who += " (contact " + p.ContactID + ")"
				}
				if p.Status != "" {
					who += " " + p.Status
				}
				fmt.Fprintf(w, "%s\t%s\n", roleNames[p.Role], who)
			}
			for _, m := range v.Members {
				fmt.Fprintf(w, "member\t%s\n", nameAddr(m))
			}
			for _, x := range v.Extras {
				fmt.Fprintf(w, "extra\t%s\n", oneLine(x.String(), 100))
			}
			for _, a := range v.Attachments {
				fmt.Fprintf(w, "attachment\t%s (%s, %d bytes, sha256 %s)\n", a.Name, a.MimeType, a.Size, a.SHA256)
			}
			for _, s := range v.Sources {
				fmt.Fprintf(w, "source\t%s %s (version %s)\n", s.Kind, s.Key, s.Version)
			}
			fmt.Fprintf(w, "created\t%s\nmodified\t%s\n", v.CreatedAt.Local().Format("2006-01-02 15:04:05"), v.ModifiedAt.Local().Format("2006-01-02 15:04:05"))
			return w.Flush()
		},
	}
}

// nameAddr shows a party as "Name <address>", or as its address alone when
// it has no name or its name is its address (a participant known by name
// only, crm.SettleParties).
func nameAddr(p crm.Party) string {
	if p.Name == "" || p.Name == p.Address {
		return p.Address
	}
	return fmt.Sprintf("%s <%s>", p.Name, p.Address)
}
