package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"crmbridge/bridge"
	"crmbridge/crm"
	"crmbridge/crmstore"
)

func exportCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write CRM changes as files Outlook and other clients import (vCard, iCalendar, EML, Outlook CSV, PST)",
		Description: `Writes, for each target given, the records changed on the CRM side since the
last export to that target (never an echo of what that target gave), or every
record with --all. Files are written to a temporary name and renamed; the
target's watermark advances only then.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "vcf", Usage: "contacts as vCard to `PATH` (a folder with --split)"},
			&cli.StringFlag{Name: "ics", Usage: "appointments and tasks as iCalendar to `PATH` (a folder with --split)"},
			&cli.StringFlag{Name: "eml", Usage: "email activities, one .eml each, into folder `DIR`"},
			&cli.StringFlag{Name: "csv", Usage: "Outlook CSV: contacts and tasks next to `PATH` (PATH-contacts.csv, PATH-tasks.csv)"},
			&cli.StringFlag{Name: "pst", Usage: "Outlook PST (Import/Export wizard): e-mails, contacts, lists, appointments, tasks to `FILE`"},
			&cli.BoolFlag{Name: "force", Usage: "replace a PST crmbridge did not write, or one changed since"},
			&cli.BoolFlag{Name: "all", Usage: "write every record, not only changes since the last export"},
			&cli.StringSliceFlag{Name: "type", Usage: "only these record types (contact, account, appointment, task, email, list)"},
			&cli.BoolFlag{Name: "split", Usage: "one file per record, named by its id (classic Outlook imports only the first card of a .vcf; khal and vdirsyncer read such folders)"},
			&cli.StringFlag{Name: "vcard-version", Value: "3.0", Usage: "2.1, 3.0 or 4.0"},
		},
		Action: func(c *cli.Context) error {
			opts := bridge.ExportOptions{
				VCF: c.String("vcf"), ICS: c.String("ics"), EMLDir: c.String("eml"), CSV: c.String("csv"), PST: c.String("pst"), Force: c.Bool("force"),
				All: c.Bool("all"), Split: c.Bool("split"), VCardVersion: c.String("vcard-version"),
			}
			if opts.VCF == "" && opts.ICS == "" && opts.EMLDir == "" && opts.CSV == "" && opts.PST == "" {
				return usagef("export: give at least one of --vcf, --ics, --eml, --csv, --pst")
			}
			switch opts.VCardVersion {
			case "2.1", "3.0", "4.0":
			default:
				return usagef("--vcard-version must be 2.1, 3.0 or 4.0")
			}
			for _, t := range c.StringSlice("type") {
				for _, one := range strings.Split(t, ",") {
					ent := crm.Entity(strings.TrimSpace(one))
					if !ent.Valid() {
						return usagef("--type: unknown record type %q", one)
					}
					opts.Types = append(opts.Types, ent)
				}
			}
			return withStore(c.Context, e, "export", writeOpts{}, func(store *crmstore.Store) (string, error) {
				res, err := bridge.Export(c.Context, store, opts)
				var lines []string
				for _, r := range res {
					line := fmt.Sprintf("export: %s: %d record(s)", r.Path, r.Records)
					if r.Skipped {
						line = fmt.Sprintf("export: %s: nothing changed since the last export", r.Path)
					}
					fmt.Fprintln(e.stdout, line)
					lines = append(lines, line)
					if r.Omitted > 0 {
						e.log.Warn("not exported: appointments without a start time", "file", r.Path, "count", r.Omitted)
					}
				}
				return strings.Join(lines, "; "), err
			})
		},
	}
}
