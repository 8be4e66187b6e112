package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"crmbridge/bridge/eml"
	"crmbridge/bridge/ics"
	"crmbridge/bridge/outlookcsv"
	"crmbridge/bridge/vcf"
	"crmbridge/crm"
	"crmbridge/crmstore"
)

// target is one place an export writes to: a single file, or a folder of
// one file per item.
type target struct {
	kind string // "vcf", "ics", "eml", "csv"
	path string // absolute
	user string // the path as given
	ents []crm.Entity
	dir  bool

	// writeFile writes a single-file target: every record recs yields,
	// each one it cannot hold told to omit. It returns the number of
	// records written; an error is an error of w (the target fails).
	writeFile func(w io.Writer, recs iter.Seq[*crmstore.View], omit, warn func(*crmstore.View, error)) (int, error)
	// writePath, when set instead, writes the file at path itself
	// (atomically), and owned tells a file it wrote before by a mark of
	// its own. Before making the file visible it calls failed: an error
	// there (recs stopped early) leaves path as it was.
	writePath func(path string, recs iter.Seq[*crmstore.View], omit func(*crmstore.View, error), failed func() error) (int, error)
	owned     func(path string) bool
	// cards, when set instead of writeFile, is for a file of records one
	// after the other with nothing else (a vCard file): it returns a
	// function that writes one record to w, or refuses it writing
	// nothing. The views it is given are valid UTF-8 (writeCards cleans
	// each with cleanView first). Each call of cards is used on one
	// goroutine; several may run at once (writeCards).
	cards func(w io.Writer) func(v *crmstore.View) error

	// Directory targets: group returns the item a record belongs to (its
	// id, or "uid:" and the UID of a calendar object) and the live records
	// of that item; name the item's file name; encode writes the item's
	// file.
	group  func(sn *crmstore.Snapshot, v *crmstore.View) (item string, members []*crmstore.View, err error)
	name   func(item string, members []*crmstore.View) string
	encode func(w io.Writer, members []*crmstore.View, warn func(*crmstore.View, error)) error
}

func (tg *target) String() string { return tg.kind + ":" + tg.path }

// targets builds the targets opts asks for.
func (x *exporter) targets() ([]*target, error) {
	opts := x.opts
	var out []*target
	add := func(tg *target) error {
		abs, err := absPath(tg.user)
		if err != nil {
			return err
		}
		tg.path = abs
		out = append(out, tg)
		return nil
	}
	if opts.VCF != "" {
		version := opts.VCardVersion
		if version == "" {
			version = "3.0"
		}
		tg := &target{kind: "vcf", user: opts.VCF, ents: []crm.Entity{crm.Contact}, dir: opts.Split}
		if opts.Split {
			tg.group = oneRecord
			tg.name = func(item string, _ []*crmstore.View) string { return item + ".vcf" }
			tg.encode = func(w io.Writer, ms []*crmstore.View, _ func(*crmstore.View, error)) error {
				return vcf.NewEncoder(w, version).EncodeRev(ms[0].Record, ms[0].ModifiedAt)
			}
		} else {
			// The Encoder builds a card in memory and writes it whole: a
			// card it refuses writes nothing. writeCards has cleaned each
			// view (cleanView; field names are the store's column names).
			tg.cards = func(w io.Writer) func(v *crmstore.View) error {
				enc := vcf.NewEncoder(w, version)
				return func(v *crmstore.View) error { return enc.EncodeValidRev(v.Record, v.ModifiedAt) }
			}
		}
		if err := add(tg); err != nil {
			return nil, err
		}
	}
	if opts.ICS != "" {
		tg := &target{kind: "ics", user: opts.ICS, ents: []crm.Entity{crm.Appointment, crm.Task}, dir: opts.Split}
		if opts.Split {
			// A vdir (khal, vdirsyncer): one calendar object per file, that
			// is one UID: a series master and all its exceptions
			// (RFC 5545 3.8.4.7 and the vdir storage format).
			tg.group = sameUID(tg.ents)
			tg.name = func(item string, _ []*crmstore.View) string { return uidFileName(strings.TrimPrefix(item, "uid:")) }
			tg.encode = func(w io.Writer, ms []*crmstore.View, warn func(*crmstore.View, error)) error {
				var last time.Time
				rs := make([]crm.Record, len(ms))
				for i, v := range ms {
					if err := calendarRecord(v); err != nil {
						return err
					}
					rs[i] = v.Record
					if v.ModifiedAt.After(last) {
						last = v.ModifiedAt
					}
				}
				enc := ics.NewEncoder(w)
				// DTSTAMP is when the information last changed (RFC 5545
				// 3.8.7.2, no METHOD in a vdir file): the same records
				// give the same bytes.
				enc.Now = func() time.Time { return last }
				enc.Warn = func(rec *crm.Record, err error) { warn(viewOf(ms, rec), err) }
				return enc.Encode(rs...)
			}
		} else {
			tg.writeFile = func(w io.Writer, recs iter.Seq[*crmstore.View], omit, warn func(*crmstore.View, error)) (int, error) {
				var vs []*crmstore.View
				var rs []crm.Record
				for v := range recs {
					if err := calendarRecord(v); err != nil {
						omit(v, err)
						continue
					}
					vs = append(vs, v)
					rs = append(rs, v.Record)
				}
				n := len(rs)
				enc := ics.NewEncoder(w)
				enc.Omit = func(rec *crm.Record, err error) { n--; omit(viewOf(vs, rec), err) }
				enc.Warn = func(rec *crm.Record, err error) { warn(viewOf(vs, rec), err) }
				return n, enc.Encode(rs...)
			}
		}
		if err := add(tg); err != nil {
			return nil, err
		}
	}
	if opts.EMLDir != "" {
		tg := &target{kind: "eml", user: opts.EMLDir, ents: []crm.Entity{crm.Email}, dir: true, group: oneRecord}
		tg.name = func(_ string, ms []*crmstore.View) string { return eml.FileName(ms[0].Record) }
		tg.encode = func(w io.Writer, ms []*crmstore.View, _ func(*crmstore.View, error)) error {
			return eml.Write(w, ms[0].Record)
		}
		if err := add(tg); err != nil {
			return nil, err
		}
	}
	if opts.CSV != "" {
		base := strings.TrimSuffix(opts.CSV, filepath.Ext(opts.CSV))
		contacts := &target{kind: "csv", user: base + "-contacts.csv", ents: []crm.Entity{crm.Contact, crm.Account}}
		contacts.writeFile = func(w io.Writer, recs iter.Seq[*crmstore.View], _, _ func(*crmstore.View, error)) (int, error) {
			cw := outlookcsv.NewContactWriter(w)
			n := 0
			for v := range recs {
				if err := cw.Write(v.Record); err != nil {
					return n, err // only a write error: every record has a row
				}
				n++
			}
			return n, cw.Flush()
		}
		tasks := &target{kind: "csv", user: base + "-tasks.csv", ents: []crm.Entity{crm.Task}}
		tasks.writeFile = func(w io.Writer, recs iter.Seq[*crmstore.View], _, _ func(*crmstore.View, error)) (int, error) {
			tw := outlookcsv.NewTaskWriter(w)
			n := 0
			for v := range recs {
				if err := tw.Write(v.Record); err != nil {
					return n, err
				}
				n++
			}
			return n, tw.Flush()
		}
		// Phone calls, letters and faxes have no Outlook item of their
		// own: they go as journal entries (Outlook's record of calls,
		// letters and faxes, MS-OXOJRNL).
		journal := &target{kind: "csv", user: base + "-journal.csv", ents: outlookcsv.JournalEntities}
		journal.writeFile = func(w io.Writer, recs iter.Seq[*crmstore.View], _, _ func(*crmstore.View, error)) (int, error) {
			jw := outlookcsv.NewJournalWriter(w)
			n := 0
			for v := range recs {
				if err := jw.Write(v.Record); err != nil {
					return n, err
				}
				n++
			}
			return n, jw.Flush()
		}
		for _, tg := range []*target{contacts, tasks, journal} {
			if err := add(tg); err != nil {
				return nil, err
			}
		}
	}
	if opts.PST != "" {
		tg := &target{kind: "pst", user: opts.PST, ents: pstEntities, owned: pstOwned}
		tg.writePath = func(path string, recs iter.Seq[*crmstore.View], omit func(*crmstore.View, error), failed func() error) (int, error) {
			// A series master and its modified occurrences share a UID:
			// the occurrences go into the series (MS-OXOCAL 2.2.1.44.2).
			group := sameUID([]crm.Entity{crm.Appointment})
			return writePST(path, recs, omit, failed, func(v *crmstore.View) ([]*crmstore.View, error) {
				_, ms, err := group(x.sn, v)
				return ms, err
			})
		}
		if err := add(tg); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// errNoStart: RFC 5546 3.2.1: a published VEVENT needs DTSTART; Outlook
// and khal refuse one without.
var errNoStart = errors.New("an appointment without a start time cannot be written (RFC 5546 3.2.1: a published VEVENT needs DTSTART)")

// calendarRecord checks that v can be a calendar component.
func calendarRecord(v *crmstore.View) error {
	if v.Entity == crm.Appointment && strings.TrimSpace(v.Fields["scheduledstart"]) == "" {
		return errNoStart
	}
	return nil
}

// viewOf finds the view whose record rec is (by id).
func viewOf(vs []*crmstore.View, rec *crm.Record) *crmstore.View {
	for _, v := range vs {
		if v.ID == rec.ID {
			return v
		}
	}
	return &crmstore.View{Record: *rec}
}

// oneRecord makes each record its own item.
func oneRecord(_ *crmstore.Snapshot, v *crmstore.View) (string, []*crmstore.View, error) {
	if v.Deleted {
		return v.ID, nil, nil
	}
	return v.ID, []*crmstore.View{v}, nil
}

// sameUID groups calendar records by UID: the item is "uid:" and the UID,
// its members every live record with that UID, masters first.
func sameUID(ents []crm.Entity) func(*crmstore.Snapshot, *crmstore.View) (string, []*crmstore.View, error) {
	return func(sn *crmstore.Snapshot, v *crmstore.View) (string, []*crmstore.View, error) {
		uid := ics.UID(&v.Record)
		ids, err := sn.SameUID(ents, uid)
		if err != nil {
			return "", nil, err
		}
		var ms []*crmstore.View
		seen := false
		for _, id := range ids {
			if id == v.ID {
				seen = true
				if !v.Deleted {
					ms = append(ms, v)
				}
				continue
			}
			m, err := sn.Get(id)
			if err != nil {
				return "", nil, err
			}
			cleanView(m, nil)
			if ics.UID(&m.Record) == uid {
				ms = append(ms, m)
			}
		}
		if !seen && !v.Deleted {
			ms = append(ms, v) // a UID from the global object id or the record id
		}
		// The master first: readers take the first component of a file
		// as the series (RFC 5545 3.8.4.4).
		for i, m := range ms {
			if m.Fields["recurrenceid"] == "" && i > 0 {
				ms[0], ms[i] = ms[i], ms[0]
				break
			}
		}
		return "uid:" + uid, ms, nil
	}
}

var plainName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9@._+=-]{0,99}$`)

// uidFileName is the vdir file name of a UID: the UID itself when it is a
// plain, short name, else its SHA-256; stable across runs either way.
func uidFileName(uid string) string {
	if plainName.MatchString(uid) && !strings.Contains(uid, "..") {
		return uid + ".ics"
	}
	sum := sha256.Sum256([]byte(uid))
	return hex.EncodeToString(sum[:16]) + ".ics"
}

// cleanView makes every text value of v valid UTF-8, each invalid byte
// becoming U+FFFD, and tells warn which fields it changed. Every format
// written is UTF-8 text (RFC 6350 3.1, RFC 5545 3.1.4, RFC 6532), and a
// value that is not must never reach a writer: a line folder that cuts at
// rune starts finds none in a run of continuation bytes.
func cleanView(v *crmstore.View, warn func(*crmstore.View, error)) {
	cleanViewFields(v, true, warn)
}

// cleanViewFields is cleanView, looking at v's field values only when
// fields is set: the caller knows them valid (crmstore.Scanned.ValidUTF8,
// checked on the texts they were read as: walking the map of each record
// was a fifth of the encoding of 100,000 contacts).
func cleanViewFields(v *crmstore.View, fields bool, warn func(*crmstore.View, error)) {
	var bad []string
	fix := func(name string, s *string) {
		if !utf8.ValidString(*s) {
			*s = strings.ToValidUTF8(*s, "\uFFFD")
			bad = append(bad, name)
		}
	}
	if fields {
		for k, val := range v.Fields {
			if !utf8.ValidString(val) {
				v.Fields[k] = strings.ToValidUTF8(val, "\uFFFD")
				bad = append(bad, k)
			}
		}
	}
	for i := range v.Parties {
		p := &v.Parties[i]
		fix("party name", &p.Name)
		fix("party address", &p.Address)
		fix("party status", &p.Status)
	}
	for i := range v.Members {
		p := &v.Members[i]
		fix("member name", &p.Name)
		fix("member address", &p.Address)
	}
	for i := range v.Attachments {
		a := &v.Attachments[i]
		fix("attachment name", &a.Name)
		fix("attachment type", &a.MimeType)
		fix("attachment content id", &a.ContentID)
	}
	if len(bad) > 0 && warn != nil {
		warn(v, fmt.Errorf("invalid UTF-8 in %s written as U+FFFD", strings.Join(bad, ", ")))
	}
}
