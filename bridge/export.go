package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"crmbridge/bridge/eml"
	"crmbridge/bridge/ics"
	"crmbridge/bridge/outlookcsv"
	"crmbridge/bridge/vcf"
	"crmbridge/crm"
	"crmbridge/crmstore"
)

// ExportOptions say what to write where. Empty paths are not written.
type ExportOptions struct {
	VCF    string // vCard file, or a folder with Split
	ICS    string // iCalendar file: appointments and tasks
	EMLDir string // folder: one .eml per email activity
	CSV    string // Outlook CSV: <base>-contacts.csv and <base>-tasks.csv next to it
	PST    string // Outlook PST: e-mails, contacts, lists, appointments, tasks
	// Force replaces a PST crmbridge did not write (or one changed since).
	Force bool
	// All writes every record, not only those changed since the target's
	// watermark.
	All bool
	// Types restricts the records written (nil: every type the format
	// holds).
	Types        []crm.Entity
	Split        bool   // one file per record, named by record id, in the VCF and ICS folders (a vdir)
	VCardVersion string // "2.1", "3.0" (default) or "4.0"
}

// ExportResult is what one target got.
type ExportResult struct {
	Target  string // e.g. "vcf:/home/me/out.vcf"
	Path    string
	Records int
	Skipped bool // nothing changed since the last export
	Omitted int  // records the format cannot hold (an appointment without a start)
}

// Export writes CRM records out as files Outlook and other clients
// import. By default it writes, per target, the records whose changes are
// newer than that target's watermark, leaving out changes that came from
// the target itself; each file is written to a temporary name, synced and
// renamed, and only then does the watermark advance.
func Export(ctx context.Context, store *crmstore.Store, opts ExportOptions) ([]ExportResult, error) {
	var out []ExportResult
	var omitted int // set by a writer, per target
	seq, err := store.JournalSeq(ctx)
	if err != nil {
		return nil, err
	}
	type job struct {
		kind  string
		path  string
		ents  []crm.Entity
		write func(ctx context.Context, path string, recs iter.Seq2[*crmstore.View, error]) error
	}
	var jobs []job
	if opts.VCF != "" {
		version := opts.VCardVersion
		if version == "" {
			version = "3.0"
		}
		jobs = append(jobs, job{"vcf", opts.VCF, []crm.Entity{crm.Contact}, func(ctx context.Context, path string, recs iter.Seq2[*crmstore.View, error]) error {
			if opts.Split {
				return writeSplitVCF(path, recs, version)
			}
			return writeAtomic(path, func(w io.Writer) error {
				enc := vcf.NewEncoder(w, version)
				for v, err := range recs {
					if err != nil {
						return err
					}
					if v.Deleted {
						continue // a vCard file cannot say "deleted"
					}
					if err := enc.EncodeRev(v.Record, v.ModifiedAt); err != nil {
						return fmt.Errorf("contact %s: %w", v.ID, err)
					}
				}
				return nil
			})
		}})
	}
	if opts.ICS != "" {
		jobs = append(jobs, job{"ics", opts.ICS, []crm.Entity{crm.Appointment, crm.Task}, func(ctx context.Context, path string, recs iter.Seq2[*crmstore.View, error]) error {
			var rs []crm.Record
			for v, err := range recs {
				if err != nil {
					return err
				}
				r := v.Record
				if r.Entity == crm.Appointment && r.Fields["scheduledstart"] == "" {
					// RFC 5546 3.2.1: a published VEVENT needs DTSTART;
					// Outlook and khal refuse one without.
					omitted++
					continue
				}
				if v.Deleted {
					// A deleted appointment goes out cancelled, so that
					// the client removes it (RFC 5546 3.2.5).
					r.Fields = cloneFields(r.Fields)
					r.Fields["statecode"] = "2"
				}
				rs = append(rs, r)
			}
			if opts.Split {
				// A vdir (khal, vdirsyncer): one calendar object per file.
				for _, r := range rs {
					p, err := safeJoin(path, r.ID+".ics")
					if err != nil {
						return err
					}
					if err := writeAtomic(p, func(w io.Writer) error { return ics.NewEncoder(w).Encode(r) }); err != nil {
						return fmt.Errorf("%s %s: %w", r.Entity, r.ID, err)
					}
				}
				return nil
			}
			return writeAtomic(path, func(w io.Writer) error { return ics.NewEncoder(w).Encode(rs...) })
		}})
	}
	if opts.EMLDir != "" {
		jobs = append(jobs, job{"eml", opts.EMLDir, []crm.Entity{crm.Email}, func(ctx context.Context, dir string, recs iter.Seq2[*crmstore.View, error]) error {
			return writeEMLDir(dir, recs)
		}})
	}
	if opts.CSV != "" {
		base := strings.TrimSuffix(opts.CSV, filepath.Ext(opts.CSV))
		jobs = append(jobs,
			job{"csv", base + "-contacts.csv", []crm.Entity{crm.Contact, crm.Account}, func(ctx context.Context, path string, recs iter.Seq2[*crmstore.View, error]) error {
				return writeAtomic(path, func(w io.Writer) error {
					cw := outlookcsv.NewContactWriter(w)
					for v, err := range recs {
						if err != nil {
							return err
						}
						if !v.Deleted {
							if err := cw.Write(v.Record); err != nil {
								return err
							}
						}
					}
					return cw.Flush()
				})
			}},
			job{"csv", base + "-tasks.csv", []crm.Entity{crm.Task}, func(ctx context.Context, path string, recs iter.Seq2[*crmstore.View, error]) error {
				return writeAtomic(path, func(w io.Writer) error {
					tw := outlookcsv.NewTaskWriter(w)
					for v, err := range recs {
						if err != nil {
							return err
						}
						if !v.Deleted {
							if err := tw.Write(v.Record); err != nil {
								return err
							}
						}
					}
					return tw.Flush()
				})
			}})
	}
	if opts.PST != "" {
		jobs = append(jobs, job{"pst", opts.PST, pstEntities, func(ctx context.Context, path string, recs iter.Seq2[*crmstore.View, error]) error {
			return writePST(path, recs, opts.Force)
		}})
	}
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		ents := filterTypes(j.ents, opts.Types)
		if len(ents) == 0 {
			continue
		}
		abs, err := filepath.Abs(j.path)
		if err != nil {
			return out, err
		}
		target := j.kind + ":" + abs
		var ids []string
		if opts.All {
			ids, err = store.IDs(ctx, ents)
		} else {
			var mark int64
			if mark, err = store.Watermark(ctx, target); err == nil {
				ids, err = store.ChangedSince(ctx, ents, mark, seq, target)
			}
		}
		if err != nil {
			return out, err
		}
		res := ExportResult{Target: target, Path: j.path, Records: len(ids)}
		if len(ids) == 0 && !opts.All {
			res.Skipped = true
			out = append(out, res)
			continue
		}
		// Records are read one at a time as the writer asks for them, from
		// one snapshot of the store.
		sn, err := store.Snapshot(ctx)
		if err != nil {
			return out, err
		}
		recs := func(yield func(*crmstore.View, error) bool) {
			for _, id := range ids {
				v, err := sn.Get(id)
				if !yield(v, err) || err != nil {
					return
				}
			}
		}
		omitted = 0
		err = j.write(ctx, j.path, recs)
		sn.Close()
		if err != nil {
			return out, fmt.Errorf("export %s: %w", j.path, err)
		}
		res.Omitted = omitted
		res.Records -= omitted
		tx, err := store.Begin(context.WithoutCancel(ctx))
		if err != nil {
			return out, err
		}
		if err := tx.SetWatermark(target, seq); err != nil {
			tx.Rollback()
			return out, err
		}
		if err := tx.Commit(); err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func cloneFields(m map[string]string) map[string]string {
	c := make(map[string]string, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
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

// writeAtomic writes a file through fn to a temporary name in the same
// folder, syncs it and renames it over path: readers never see a partial
// file, and a failure leaves the old file in place. The file is 0600: it
// holds customers' data.
func writeAtomic(path string, fn func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fn(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// safeJoin joins a data-derived file name to dir, refusing anything that
// would leave dir.
func safeJoin(dir, name string) (string, error) {
	if name == "" || !filepath.IsLocal(name) || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("unsafe file name %q", name)
	}
	return filepath.Join(dir, name), nil
}

func writeSplitVCF(dir string, recs iter.Seq2[*crmstore.View, error], version string) error {
	for v, err := range recs {
		if err != nil {
			return err
		}
		path, err := safeJoin(dir, v.ID+".vcf")
		if err != nil {
			return err
		}
		if v.Deleted {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			continue
		}
		if err := writeAtomic(path, func(w io.Writer) error {
			return vcf.NewEncoder(w, version).EncodeRev(v.Record, v.ModifiedAt)
		}); err != nil {
			return fmt.Errorf("contact %s: %w", v.ID, err)
		}
	}
	return nil
}

func writeEMLDir(dir string, recs iter.Seq2[*crmstore.View, error]) error {
	for v, err := range recs {
		if err != nil {
			return err
		}
		path, err := safeJoin(dir, eml.FileName(v.Record))
		if err != nil {
			return err
		}
		// The name follows the subject: drop this record's file under an
		// older subject (names end in the record id).
		old, _ := filepath.Glob(filepath.Join(dir, "*"+v.ID+".eml"))
		for _, o := range old {
			if o != path || v.Deleted {
				if err := os.Remove(o); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
		}
		if v.Deleted {
			continue
		}
		if err := writeAtomic(path, func(w io.Writer) error { return eml.Write(w, v.Record) }); err != nil {
			return fmt.Errorf("email %s: %w", v.ID, err)
		}
	}
	return nil
}
