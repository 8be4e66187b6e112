package bridge

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

// ExportOptions say what to write where. Empty paths are not written.
type ExportOptions struct {
	VCF    string // vCard file, or a folder with Split
	ICS    string // iCalendar file: appointments and tasks (a folder with Split)
	EMLDir string // folder: one .eml per email activity
	CSV    string // Outlook CSV: <base>-contacts.csv, <base>-tasks.csv and <base>-journal.csv (phone calls, letters, faxes) next to it
	PST    string // Outlook PST: e-mails, contacts, lists, appointments, tasks
	// All writes every record of a directory target, not only those
	// changed since the target's watermark, and rewrites a single-file
	// target even when nothing changed.
	All bool
	// Types restricts the records written (nil: every type the format
	// holds).
	Types        []crm.Entity
	Split        bool   // one file per record (per UID for calendars) in the VCF and ICS folders (a vdir)
	VCardVersion string // "2.1", "3.0" (default) or "4.0"
	// Force overwrites (and removes) files that crmbridge did not write,
	// or that changed since it wrote them; without it they are refused.
	Force bool
	// Reporter is told of progress, warnings and problems (nil: none).
	Reporter ExportReporter
	// BatchSize is how many files of a directory target are written
	// before one sync of the file system and one record in the store
	// (default 256).
	BatchSize int
}

// ExportReporter receives progress and problems from Export. Calls come
// from the goroutine that called Export and must not block long.
type ExportReporter interface {
	// Progress reports that done of total records of target are done.
	Progress(target string, done, total int)
	// Warning reports a record written in the nearest valid form rather
	// than as stored, or a file left in place.
	Warning(err error)
	// Problem reports a record, file or target that was not written; the
	// export goes on with the others.
	Problem(err error)
}

// NopExportReporter reports nothing.
type NopExportReporter struct{}

func (NopExportReporter) Progress(string, int, int) {}
func (NopExportReporter) Warning(error)             {}
func (NopExportReporter) Problem(error)             {}

// ExportResult is what one target got.
type ExportResult struct {
	Target string // e.g. "vcf:/home/me/out.vcf"
	Path   string
	// Records is the number of records written: all that a single file
	// holds, or those written to a directory target by this export.
	Records int
	Removed int  // files of deleted records removed from a directory target
	Skipped bool // nothing changed since the last export: not rewritten
	Omitted int  // records not written (each reported as a Problem)
	Failed  bool // the target was not written at all (reported as a Problem)
}

// ErrNotOurs is the reason a file is refused: crmbridge did not write
// it, or it changed since crmbridge wrote it.
var ErrNotOurs = errors.New("crmbridge did not write it, or it changed since (give --force to overwrite it)")

// ErrNotExportable says that no target given holds a record type.
var ErrNotExportable = errors.New("no export target holds this record type")

// RecordError reports one record a target did not write, or wrote in a
// nearer valid form.
type RecordError struct {
	Target string
	Entity crm.Entity
	ID     string
	Err    error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s: %s %s: %v", e.Target, e.Entity, e.ID, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Export writes CRM records out as files Outlook and other clients
// import, one target after the other:
//
//   - A single-file target (a .vcf, .ics, Outlook .csv or .pst) always holds
//     every live record it selects. When nothing it selects changed since
//     its watermark (changes that came from the target itself do not
//     count) and the file is there, it is left alone; otherwise it is
//     rewritten whole, through a temporary file that is synced and
//     renamed.
//   - A directory target (a vdir with Split, the EML folder) is
//     incremental: the files of changed records are written, those of
//     deleted records removed. Files are synced once per batch, the
//     folder once at the end.
//
// No file that crmbridge did not write, or that changed since it wrote it,
// is overwritten or removed unless opts.Force; the folder a target is in
// must exist. A record a format cannot hold is written in the nearest
// valid form (a Warning) or left out (a Problem, counted in Omitted); a
// target that cannot be written is a Problem too; neither stops the other
// records and targets. Records are read from one snapshot of the store,
// without its write lock, which is taken only to record what was written
// and move the watermark. A cancelled ctx stops after the current file,
// removes the temporary files and returns ctx's error; what was complete
// is recorded, so that running again finishes the job. The error returned
// is for the store failing or ctx; per-record and per-target problems go
// to the Reporter and the results.
func Export(ctx context.Context, store *crmstore.Store, opts ExportOptions) ([]ExportResult, error) {
	x := &exporter{ctx: ctx, store: store, opts: opts, rep: opts.Reporter}
	if x.rep == nil {
		x.rep = NopExportReporter{}
	}
	if x.opts.BatchSize <= 0 {
		x.opts.BatchSize = 256
	}
	sn, err := store.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer sn.Close()
	x.sn = sn
	if x.seq, err = sn.JournalSeq(); err != nil {
		return nil, x.fatal(err)
	}
	targets, err := x.targets()
	if err != nil {
		return nil, err
	}
	if err := x.unexportable(targets); err != nil {
		return nil, x.fatal(err)
	}
	var out []ExportResult
	for _, tg := range targets {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		ents := filterTypes(tg.ents, opts.Types)
		if len(ents) == 0 {
			continue
		}
		tg.ents = ents
		var res ExportResult
		if tg.dir {
			res, err = x.runDir(tg)
		} else {
			res, err = x.runFile(tg)
		}
		out = append(out, res)
		if err != nil {
			return out, x.fatal(err)
		}
	}
	return out, nil
}

// unexportable reports, for each type asked for with --type, that no
// target given holds it (phone calls, letters and faxes need --csv; a
// contact needs --vcf or --csv): never silently nothing.
func (x *exporter) unexportable(targets []*target) error {
	for _, e := range x.opts.Types {
		held := false
		for _, tg := range targets {
			for _, te := range tg.ents {
				held = held || te == e
			}
		}
		if held {
			continue
		}
		ids, err := x.sn.IDs([]crm.Entity{e})
		if err != nil {
			return err
		}
		var kinds []string
		for _, k := range []struct {
			flag string
			ents []crm.Entity
		}{{"--vcf", []crm.Entity{crm.Contact}}, {"--csv", []crm.Entity{crm.Contact, crm.Account, crm.Task, crm.PhoneCall, crm.Letter, crm.Fax}},
			{"--ics", []crm.Entity{crm.Appointment, crm.Task}}, {"--eml", []crm.Entity{crm.Email}}, {"--pst", pstEntities}} {
			for _, ke := range k.ents {
				if ke == e {
					kinds = append(kinds, k.flag)
				}
			}
		}
		hint := "no file format crmbridge writes holds it"
		if len(kinds) > 0 {
			hint = "give " + strings.Join(kinds, " or ")
		}
		x.rep.Problem(fmt.Errorf("%w: %s (%d record(s) not exported; %s)", ErrNotExportable, e, len(ids), hint))
	}
	return nil
}

// fatal makes the error of an interrupted export say so (a cancelled
// context closes the snapshot's statements under a read, and the
// driver's error would hide why).
func (x *exporter) fatal(err error) error {
	if cerr := x.ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func filterTypes(ents, only []crm.Entity) []crm.Entity {
	if len(only) == 0 {
		return ents
	}
	var out []crm.Entity
	for _, e := range ents {
		for _, o := range only {
			if e == o {
				out = append(out, e)
			}
		}
	}
	return out
}

// absPath returns path made absolute and cleaned: the key of a target and
// of the files it wrote.
func absPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("export %s: %w", path, err)
	}
	return abs, nil
}
