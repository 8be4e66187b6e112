package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"crmbridge/bridge"
	"crmbridge/crm"
	"crmbridge/crmstore"
)

func exportCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write CRM records as files Outlook and other clients import (vCard, iCalendar, EML, Outlook CSV, PST)",
		ArgsUsage: "--vcf|--ics|--eml|--csv|--pst PATH",
		Description: `A single file (--vcf, --ics, --csv, --pst) always holds every live record it
selects: it is rewritten whole when anything it selects changed since the last
export to it (changes that came from that file do not count), and left alone
otherwise. A folder (--split, --eml) is incremental: the files of changed
records are written and those of deleted records removed; --all rewrites every
one. Files are written to a temporary name and renamed; the target's watermark
advances only then.

A file crmbridge did not write, or one changed since it wrote it, is never
overwritten or removed: it is refused by name unless --force. The folder a
file goes in must exist. A record a format cannot hold is written in the
nearest valid form (with a warning) or left out and reported by id; the other
records and targets are written, and the exit status is 1.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "vcf", Usage: "contacts as vCard to `PATH` (a folder with --split)"},
			&cli.StringFlag{Name: "ics", Usage: "appointments and tasks as iCalendar to `PATH` (a folder with --split)"},
			&cli.StringFlag{Name: "eml", Usage: "email activities, one .eml each, into folder `DIR`"},
			&cli.StringFlag{Name: "csv", Usage: "Outlook CSV: contacts, tasks and journal (phone calls, letters, faxes) next to `PATH` (PATH-contacts.csv, PATH-tasks.csv, PATH-journal.csv)"},
			&cli.StringFlag{Name: "pst", Usage: "Outlook PST (Import/Export wizard): e-mails, contacts, lists, appointments, tasks to `FILE`"},
			&cli.BoolFlag{Name: "all", Usage: "write every record, not only changes since the last export"},
			&cli.StringSliceFlag{Name: "type", Usage: "only these record types (contact, account, appointment, task, email, list)"},
			&cli.BoolFlag{Name: "split", Usage: "one file per record (per UID for calendars) in a folder (classic Outlook imports only the first card of a .vcf; khal and vdirsyncer read such folders)"},
			&cli.StringFlag{Name: "vcard-version", Value: "3.0", Usage: "2.1, 3.0 or 4.0"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite or remove files crmbridge did not write, or that changed since"},
			&cli.BoolFlag{Name: "json", Usage: "print what each target got as JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("export takes no arguments: the targets are flags (--vcf, --ics, --eml, --csv, --pst)")
			}
			opts := bridge.ExportOptions{
				VCF: c.String("vcf"), ICS: c.String("ics"), EMLDir: c.String("eml"), CSV: c.String("csv"), PST: c.String("pst"),
				All: c.Bool("all"), Split: c.Bool("split"), VCardVersion: c.String("vcard-version"), Force: c.Bool("force"),
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
			// Export holds a few chunks of records at a time (bridge's
			// writeCards): its live heap, 5 to 7 MB for 100,000 contacts,
			// kept the limit that follows it at the floor, and the GC ran
			// at the limit, 38 to 56 cycles instead of 21 to 22 (+20 to
			// 30 % CPU) for 3 to 6 MiB less peak RSS. It runs at the
			// ceiling.
			raiseMemoryFloor(maxMemoryLimit)
			// Export reads a snapshot without the write lock; it takes the
			// lock only to record what it wrote.
			return withStore(c.Context, e, "export", writeOpts{lockLater: true}, func(store *crmstore.Store) (string, error) {
				asJSON := c.Bool("json")
				rep := &exportReporter{e: e, quiet: asJSON}
				opts.Reporter = rep
				res, err := bridge.Export(c.Context, store, opts)
				rep.clear()
				var lines []string
				for _, r := range res {
					var line string
					switch {
					case r.Failed:
						line = fmt.Sprintf("export: %s: not written", r.Path)
					case r.Skipped:
						line = fmt.Sprintf("export: %s: nothing changed since the last export", r.Path)
					default:
						line = fmt.Sprintf("export: %s: %d record(s) written", r.Path, r.Records)
						if r.Removed > 0 {
							line += fmt.Sprintf(", %d file(s) removed", r.Removed)
						}
						if r.Omitted > 0 {
							line += fmt.Sprintf(", %d left out", r.Omitted)
						}
					}
					lines = append(lines, line)
				}
				if err == nil && rep.problems > 0 {
					err = partialError{fmt.Sprintf("export: %d problem(s); see the messages above", rep.problems)}
				}
				js := exportJSON{Targets: []exportTargetJSON{}, Problems: rep.problems, Warnings: rep.warnings}
				for _, r := range res {
					js.Targets = append(js.Targets, exportTargetJSON{Target: r.Target, Path: r.Path, Records: r.Records,
						Removed: r.Removed, Omitted: r.Omitted, Unchanged: r.Skipped, Failed: r.Failed})
				}
				e.runResult = js
				if asJSON {
					if jerr := e.printJSON(js); jerr != nil && err == nil {
						err = jerr
					}
				} else if !e.quiet || err != nil {
					// --quiet: nothing on success (cron mails any output).
					for _, line := range lines {
						fmt.Fprintln(e.stdout, line)
					}
				}
				return strings.Join(lines, "; "), err
			})
		},
	}
}

// exportJSON is export --json.
type exportJSON struct {
	Targets  []exportTargetJSON `json:"targets"`
	Problems int                `json:"problems"`
	Warnings int                `json:"warnings"`
}

type exportTargetJSON struct {
	Target    string `json:"target"`
	Path      string `json:"path"`
	Records   int    `json:"records"`
	Removed   int    `json:"removed"`
	Omitted   int    `json:"omitted"`
	Unchanged bool   `json:"unchanged"`
	Failed    bool   `json:"failed"`
}

// exportReporter shows export progress as one line redrawn on a terminal,
// and problems and warnings through slog.
type exportReporter struct {
	e        *env
	quiet    bool // no progress line (--json)
	target   string
	problems int
	warnings int
	lastDraw time.Time
	drawn    bool
}

var _ bridge.ExportReporter = (*exportReporter)(nil)

func (r *exportReporter) Progress(target string, done, total int) {
	if target != r.target {
		r.target = target
		r.e.log.Debug("exporting", slog.String("target", target), slog.Int("records", total))
	}
	if !r.e.tty || r.e.quiet || r.quiet || (done < total && time.Since(r.lastDraw) < 100*time.Millisecond) {
		return
	}
	r.lastDraw = time.Now()
	fmt.Fprintf(r.e.stderr, "\r\x1b[Kexport %s: %d/%d", target, done, total)
	r.drawn = true
}

func (r *exportReporter) Warning(err error) {
	r.warnings++
	r.clear()
	r.e.log.Warn("exported with a change", slog.String("warning", err.Error()))
}

func (r *exportReporter) Problem(err error) {
	r.problems++
	r.clear()
	r.e.log.Error("not exported", slog.String("problem", err.Error()))
}

func (r *exportReporter) clear() {
	if r.drawn {
		fmt.Fprint(r.e.stderr, "\r\x1b[K")
		r.drawn = false
	}
}
