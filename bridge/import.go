package bridge

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"crmbridge/bridge/item"
	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/internal/recovered"
	"crmbridge/msg"
	"crmbridge/pst"
)

// Reporter receives progress and problems from Import. Calls come from
// the goroutine that called Import. Implementations must not block long.
type Reporter interface {
	// StartFile is called before a file is read.
	StartFile(path string, format Format, size int64)
	// Progress reports items done in the current file.
	Progress(items int)
	// Problem reports one bad item, file or part of a file; the import
	// goes on.
	Problem(err error)
	// Warning reports a problem in an item that was imported anyway.
	Warning(err error)
	// Skipped reports a file that is none of the formats crmbridge reads.
	Skipped(path string)
	// EndFile is called after a file, with what happened to it.
	EndFile(path string, skipped bool)
}

// FileCounter is implemented by a Reporter that shows progress over the
// whole run (file N of M): Plan is called once, before any file, with the
// files and bytes found under the paths; NextFile before each of them,
// whether it is read, unchanged or not a data file.
type FileCounter interface {
	Plan(files int, bytes int64)
	NextFile(path string, size int64)
}

// NopReporter reports nothing.
type NopReporter struct{}

func (NopReporter) StartFile(string, Format, int64) {}
func (NopReporter) Progress(int)                    {}
func (NopReporter) Problem(error)                   {}
func (NopReporter) Warning(error)                   {}
func (NopReporter) Skipped(string)                  {}
func (NopReporter) EndFile(string, bool)            {}

// ImportOptions control Import.
type ImportOptions struct {
	Policy crmstore.Policy
	Force  bool // read files even when their fingerprint is unchanged
	// Recheck reads again the unchanged files whose problems the store
	// remembers (they are skipped otherwise, see Summary.FilesKnown).
	Recheck   bool
	BatchSize int // records per transaction (default DefaultBatchSize)
	Reporter  Reporter
	// Detail keeps, in each file's ledger, the record every merged item
	// went into (FileLedger.MergedInto).
	Detail bool
	// Bulk says when the run defers the store's read-side indexes
	// (default BulkAuto: for a large new file; see bulkWorth).
	Bulk BulkMode
}

// Counts account for the items of one entity: Found = Created + Merged +
// NotImported. Updated and Unchanged split Merged by whether the merge
// changed the record.
type Counts struct {
	Found       int `json:"found"`
	Created     int `json:"created"`
	Merged      int `json:"merged"`
	NotImported int `json:"not_imported"`
	Updated     int `json:"merged_changed"`
	Unchanged   int `json:"merged_unchanged"`
}

// Balanced reports whether found = created + merged + not imported.
func (c *Counts) Balanced() bool {
	return c.Found == c.Created+c.Merged+c.NotImported && c.Merged == c.Updated+c.Unchanged
}

// MergeReporter is implemented by a Reporter that wants to hear of each
// item merged into an existing record, once its transaction committed.
type MergeReporter interface {
	Merged(MergedItem)
}

// Summary is what an import did.
type Summary struct {
	Files          int // files read
	FilesUnchanged int // skipped: same fingerprint as last time
	// FilesKnown counts the unchanged files skipped with problems the store
	// remembers from an earlier run (part of FilesUnchanged): they are not
	// reported again and do not fail the run.
	FilesKnown   int
	FilesSkipped []string
	FilesFailed  int // files that could not be read at all
	// Entities sums the files' ledgers per entity.
	Entities map[crm.Entity]*Counts
	// Ledger accounts for the items of each file read.
	Ledger []*FileLedger
	// Extras counts values kept as extra values (no column holds them),
	// per field name.
	Extras map[string]int
	// Accounts counts the accounts created for contacts' companies: derived
	// records, not items of any file.
	Accounts  int
	Problems  int // items or files lost: exit status 1
	Warnings  int // problems in items that were imported anyway
	Conflicts int
	Duration  time.Duration
}

func (s *Summary) counts(e crm.Entity) *Counts {
	if e == "" {
		e = EntityUnknown
	}
	c := s.Entities[e]
	if c == nil {
		c = &Counts{}
		s.Entities[e] = c
	}
	return c
}

// Failed reports whether anything failed: exit status 1.
func (s *Summary) Failed() bool {
	if s.Problems > 0 || s.FilesFailed > 0 {
		return true
	}
	for _, c := range s.Entities {
		if c.NotImported > 0 {
			return true
		}
	}
	return false
}

// String is the one-line summary.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d file(s) read, %d unchanged", s.Files, s.FilesUnchanged)
	if s.FilesKnown > 0 {
		fmt.Fprintf(&b, " (%d with known problems: crmbridge status lists them, import --recheck reads them again)", s.FilesKnown)
	}
	if len(s.FilesSkipped) > 0 {
		fmt.Fprintf(&b, ", %d skipped (not a known format)", len(s.FilesSkipped))
	}
	if s.FilesFailed > 0 {
		fmt.Fprintf(&b, ", %d failed", s.FilesFailed)
	}
	for _, e := range sortedEntities(s.Entities) {
		c := s.Entities[e]
		fmt.Fprintf(&b, "; %s: %d found, %d created, %d merged", e, c.Found, c.Created, c.Merged)
		if c.Updated > 0 {
			fmt.Fprintf(&b, " (%d with changes)", c.Updated)
		}
		fmt.Fprintf(&b, ", %d not imported", c.NotImported)
	}
	if s.Accounts > 0 {
		fmt.Fprintf(&b, "; %d account(s) created for companies", s.Accounts)
	}
	if n := len(s.Extras); n > 0 {
		total := 0
		for _, v := range s.Extras {
			total += v
		}
		fmt.Fprintf(&b, "; %d value(s) kept as extras", total)
	}
	if s.Conflicts > 0 {
		fmt.Fprintf(&b, "; %d conflict(s)", s.Conflicts)
	}
	if s.Problems > 0 {
		fmt.Fprintf(&b, "; %d problem(s)", s.Problems)
	}
	if s.Warnings > 0 {
		fmt.Fprintf(&b, "; %d warning(s)", s.Warnings)
	}
	fmt.Fprintf(&b, " (%s)", s.Duration.Round(time.Millisecond))
	return b.String()
}

// Importer applies source files to a store.
type Importer struct {
	store    *crmstore.Store
	opts     ImportOptions
	rep      Reporter
	sum      *Summary
	accounts map[string]string             // lower-case company name → account id
	limits   map[crm.Entity]map[string]int // Dataverse column limits (checkFit)
	book     *ledgerBook                   // the ledger of the file being read
	// fileProblems collects the problems of the file being read, for the
	// store to remember (crmstore.SourceFile.Problems); nil between files.
	fileProblems *[]string
	// waiting are the iTIP answers (a REPLY, COUNTER...) read before the
	// event they answer: applied again at the end of the run
	// (applyWaiting); final is set then.
	waiting []waitingAnswer
	final   bool
	// files are the source files read in this run, by absolute path, as
	// last stored: a waiting answer that stays unapplied adds its problem.
	files map[string]*crmstore.SourceFile
	// bulk is set while this run holds the store's read-side indexes
	// deferred (bulk.go).
	bulk bool
}

// waitingAnswer is an iTIP answer whose event the store did not hold when
// it was read, with the ledger of its file.
type waitingAnswer struct {
	in   *crm.Incoming
	book *ledgerBook
	file string // absolute path
}

// DefaultBatchSize is how many records an import applies per transaction.
// Each commit writes every page its batch changed; a batch of new records
// changes pages all over the indexes with random keys (identity keys,
// e-mail addresses, titles), so a larger batch writes each such page once
// for more records (100,000 contacts: 66 s CPU with 500, 52 s with 2,000,
// peak RSS 61 MiB either way: the page cache bounds it, not the batch).
// A commit also comes every 2 seconds whatever the count.
const DefaultBatchSize = 2000

// Import reads every path (files, or folders walked recursively) and
// applies what they hold to the store. One bad item never stops its file,
// and one bad file never stops the run: both are reported and counted.
// A cancelled ctx stops after the current item, with everything applied
// so far committed.
func Import(ctx context.Context, store *crmstore.Store, paths []string, opts ImportOptions) (_ *Summary, retErr error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Policy == "" {
		opts.Policy = crmstore.PolicyNewest
	}
	rep := opts.Reporter
	if rep == nil {
		rep = NopReporter{}
	}
	im := &Importer{store: store, opts: opts, rep: rep, accounts: map[string]string{},
		sum: &Summary{Entities: map[crm.Entity]*Counts{}}, files: map[string]*crmstore.SourceFile{}}
	start := time.Now()
	defer func() { im.sum.Duration = time.Since(start) }()
	// The indexes a bulk run deferred are built last, after the answers
	// below.
	defer func() {
		if err := im.endBulk(ctx); err != nil && retErr == nil {
			retErr = err
		}
	}()
	// Answers read before their event, in this run, apply at its end
	// (also when it is cancelled: each is accounted for).
	defer func() {
		if err := im.applyWaiting(ctx); err != nil && retErr == nil {
			retErr = err
		}
	}()
	if fc, ok := rep.(FileCounter); ok {
		n, size := 0, int64(0)
		walkFiles(ctx, paths, func(path string, fi fs.FileInfo) {
			n++
			size += fi.Size()
		})
		fc.Plan(n, size)
	}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return im.sum, err
		}
		fi, err := os.Stat(p)
		if err != nil {
			im.problem(fmt.Errorf("%s: %w", p, err))
			im.sum.FilesFailed++
			continue
		}
		if !fi.IsDir() {
			if err := im.file(ctx, p, true); err != nil {
				return im.sum, err
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				im.problem(fmt.Errorf("%s: %w", path, err))
				return nil
			}
			if skipDir(p, path, d) {
				return filepath.SkipDir
			}
			if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			return im.file(ctx, path, false)
		})
		if err != nil {
			return im.sum, err
		}
	}
	return im.sum, nil
}

// skipDir reports whether the walk of root skips folder path: hidden
// folders below root.
func skipDir(root, path string, d fs.DirEntry) bool {
	return d.IsDir() && path != root && strings.HasPrefix(d.Name(), ".")
}

// walkFiles calls fn for every file Import would consider under paths, in
// the same order, without reading any (errors are left to Import).
func walkFiles(ctx context.Context, paths []string, fn func(string, fs.FileInfo)) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || ctx.Err() != nil {
			continue
		}
		if !fi.IsDir() {
			fn(p, fi)
			continue
		}
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || ctx.Err() != nil {
				return nil
			}
			if skipDir(p, path, d) {
				return filepath.SkipDir
			}
			if d.IsDir() || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			if fi, err := d.Info(); err == nil {
				fn(path, fi)
			}
			return nil
		})
	}
}

func (im *Importer) problem(err error) {
	im.sum.Problems++
	im.rep.Problem(err)
	if im.fileProblems != nil {
		*im.fileProblems = append(*im.fileProblems, err.Error())
	}
}

// file imports one file. Only a store failure or cancellation is returned;
// everything else is reported.
func (im *Importer) file(ctx context.Context, path string, explicit bool) error {
	if fc, ok := im.rep.(FileCounter); ok {
		var size int64
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		fc.NextFile(path, size)
	}
	format, err := DetectFile(path)
	if err != nil {
		im.problem(fmt.Errorf("%s: %w", path, err))
		im.sum.FilesFailed++
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	fi, err := os.Stat(path)
	if err != nil {
		im.problem(fmt.Errorf("%s: %w", path, err))
		im.sum.FilesFailed++
		return nil
	}
	if format == FormatUnknown {
		im.sum.FilesSkipped = append(im.sum.FilesSkipped, path)
		if explicit {
			im.rep.Skipped(path)
			im.problem(fmt.Errorf("%s: not a PST, OST, .msg, vCard, iCalendar, EML or mbox file", path))
			return nil
		}
		// A file in a folder that holds no data (a README, .DS_Store) is
		// noted once: remembered by fingerprint, silent while unchanged.
		prev, err := im.store.SourceFile(ctx, abs)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if prev != nil && prev.Kind == crmstore.KindNone && prev.Size == fi.Size() && prev.MTime.Equal(fi.ModTime()) {
			return nil
		}
		im.rep.Skipped(path)
		return im.store.Update(context.WithoutCancel(ctx), func(tx *crmstore.Tx) error {
			return tx.SetSourceFile(crmstore.SourceFile{Path: abs, Size: fi.Size(), MTime: fi.ModTime(), Kind: crmstore.KindNone})
		})
	}
	fp := crmstore.SourceFile{Path: abs, Size: fi.Size(), MTime: fi.ModTime(), Kind: string(format)}
	if !im.opts.Force {
		prev, err := im.store.SourceFile(ctx, abs)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		// A file with problems is read again only when it changed, or
		// with --recheck: its problems are remembered, not reported on
		// every run.
		known := prev != nil && (prev.Failed > 0 || len(prev.Problems) > 0)
		usable := prev != nil && prev.Kind == fp.Kind && (!known || !im.opts.Recheck)
		unchanged := func() error {
			im.sum.FilesUnchanged++
			if known {
				im.sum.FilesKnown++
			}
			im.rep.EndFile(path, true)
			return nil
		}
		if usable && prev.Size == fp.Size && prev.MTime.Equal(fp.MTime) {
			return unchanged()
		}
		if usable && prev.Size == fp.Size {
			// Touched but maybe not changed: the content decides.
			if fp.SHA256, err = hashFile(path); err == nil && fp.SHA256 == prev.SHA256 {
				return unchanged()
			}
		}
	}
	if fp.SHA256 == "" { // not hashed above
		if fp.SHA256, err = hashFile(path); err != nil {
			im.problem(fmt.Errorf("%s: %w", path, err))
			im.sum.FilesFailed++
			return nil
		}
	}
	if err := im.startBulk(ctx, abs, fi.Size()); err != nil {
		return err
	}
	im.rep.StartFile(path, format, fi.Size())
	im.sum.Files++
	var problems []string
	im.fileProblems = &problems
	items, failed, err := im.readFile(ctx, path, abs, format, fi.ModTime())
	im.fileProblems = nil
	if err != nil {
		return err
	}
	fp.Items, fp.Failed, fp.Problems = items, failed, problems
	im.files[abs] = &fp
	tx, err := im.store.Begin(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	if err := tx.SetSourceFile(fp); err != nil {
		tx.Rollback()
		return fmt.Errorf("store: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	im.rep.EndFile(path, false)
	return nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// next is one step of a source: an incoming record, a problem, or the end.
type next struct {
	in  *crm.Incoming
	err error // *item.Error or *pst.ItemError: a problem; other: fatal for the file
}

// readFile streams the file's items through a goroutine that parses (and
// reads attachment content), while this goroutine applies them in batches:
// parsing runs on the second core.
//
// An item that fails after writing without a savepoint (a new record's
// creation, see crmstore.Tx.Careful) breaks its batch: the batch is rolled
// back and the file read again, its batch's items applied carefully, so
// that the item fails alone and is reported like any other.
func (im *Importer) readFile(ctx context.Context, path, abs string, format Format, mtime time.Time) (items, failed int, err error) {
	book := &ledgerBook{l: &FileLedger{Path: path, Format: format, Entities: map[crm.Entity]*Counts{}}, sum: im.sum, detail: im.opts.Detail}
	im.sum.Ledger = append(im.sum.Ledger, book.l)
	im.book = book
	defer func() {
		// Whatever did not commit (a store failure) is not imported.
		book.failed(errors.New("the transaction did not commit"))
		failed = book.l.NotImported
		im.book = nil
	}()
	var rp *replay
	for {
		items, err = im.readPass(ctx, path, abs, format, mtime, rp)
		var br *batchBroken
		if !errors.As(err, &br) {
			return items, failed, err
		}
		// Undo what the rolled-back batch counted, and read the file
		// again (a fresh account cache: the batch's accounts are gone).
		rp = &replay{upTo: br.step, steps: map[int]bool{br.step: true}}
		for _, o := range book.pending {
			rp.steps[o.step] = true
			im.sum.Conflicts -= o.conflicts
			im.sum.Warnings -= o.warnings
		}
		book.pending = book.pending[:0]
		book.accounts = 0
		im.accounts = map[string]string{}
		im.rep.Warning(fmt.Errorf("%w; reading the file again to apply that batch one item at a time", br.err))
	}
}

// replay says how a pass over a file applies the steps (the items and
// problems its reader sends, counted from 0) of a batch that an item broke.
type replay struct {
	upTo  int          // the step that broke the batch
	steps map[int]bool // the steps up to it to apply again, carefully
}

// batchBroken is what a pass returns when an item broke its batch
// (crmstore.IsItemAbort).
type batchBroken struct {
	step int
	err  error
}

func (b *batchBroken) Error() string { return b.err.Error() }

// readPass reads the file once (see readFile); rp, when not nil, says
// which steps an earlier pass left to apply again.
func (im *Importer) readPass(ctx context.Context, path, abs string, format Format, mtime time.Time, rp *replay) (items int, err error) {
	origin := string(format) + ":" + abs
	book := im.book
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan next, 16)
	var open []io.Closer // files the records sent may still read (produce)
	go func() {
		defer close(ch)
		produce(ctx, path, format, ch, func(c io.Closer) { open = append(open, c) })
	}()
	defer func() {
		cancel()
		for range ch { // let the producer finish
		}
		// ch is closed: the producer is done with open.
		for _, c := range open {
			c.Close()
		}
	}()

	// Transactions must survive cancellation: an interrupted import
	// commits what it applied.
	dbctx := context.WithoutCancel(ctx)
	tx, err := im.store.Begin(dbctx)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	defer func() {
		if tx != nil {
			tx.Rollback()
		}
	}()
	if rp != nil {
		tx.Careful()
	}
	inBatch := 0
	lastCommit := time.Now()
	// seen counts the items of the file by provenance key, by a 64-bit
	// hash of the key: the keys themselves (the file's path and a UID or
	// Message-ID, ~100 bytes) held the live heap growing by that much per
	// item, 100 MB for a million-card file; a map of the hashes 18 to 36
	// MB (keyCounter: 8 MB). Two keys with one hash (about 1 in 10^13 for
	// a million items) only number the second as a repeat, the same way
	// on every run.
	var seen keyCounter
	commit := func(next int) error { // next: the step after the batch
		err := commitTx(tx)
		tx = nil
		if crmstore.IsItemAbort(err) {
			// A new record's rows, inserted at the commit, broke the
			// batch (crmstore pending.go): as when an item's Apply says so.
			return &batchBroken{step: next - 1, err: err}
		}
		if err != nil {
			book.failed(err)
			return fmt.Errorf("store: %w", err)
		}
		im.booked()
		inBatch = 0
		lastCommit = time.Now()
		tx, err = im.store.Begin(dbctx)
		if err == nil && rp != nil && next <= rp.upTo {
			tx.Careful()
		}
		return err
	}
	step := -1
	for n := range ch {
		step++
		// A replay skips what the earlier pass committed or reported.
		done := rp != nil && step <= rp.upTo && !rp.steps[step]
		if n.err != nil {
			if done {
				continue
			}
			var ie *item.Error
			var pe *pst.ItemError
			if errors.As(n.err, &ie) && ie.Kept {
				im.sum.Warnings++
				im.rep.Warning(n.err)
				continue
			}
			if errors.As(n.err, &ie) || errors.As(n.err, &pe) {
				im.problem(n.err)
				book.notImported(format.entity(), n.err.Error())
				continue
			}
			// The rest of the file cannot be read: a file problem, not an
			// item (the items it held were never delimited).
			im.problem(n.err)
			im.sum.FilesFailed++
			break
		}
		items++
		n.in.Origin = origin
		if n.in.Record.Extras == nil {
			// An item read from a file is a whole version of it: the
			// extra values it does not give are no longer its own (the
			// store withdraws them, crmstore mergeExtras).
			n.in.Record.Extras = []crm.Extra{}
		}
		if n.in.MatchID == "" {
			// A reader's Record.ID is the id crmbridge's export wrote
			// for the record (a vCard's X-CRMBRIDGE-ID, a PST's record
			// id), else the item's own identifier may be (ownID): only
			// an id crmbridge minted is taken (claimID).
			cand := cmp.Or(n.in.Record.ID, ownID(n.in))
			n.in.Record.ID = ""
			claimID(n.in, cand)
		}
		if format != FormatPST {
			// A text item's provenance is its place: the same Message-ID or
			// UID in two files (or twice in one mbox) are two versions that
			// must not take turns. Identity across files is by Keys.
			key := abs + "#" + n.in.Source.Key
			h := fnv.New64a()
			h.Write([]byte(key))
			if n := seen.next(h.Sum64()); n > 1 {
				key += fmt.Sprintf("#%d", n)
			}
			n.in.Source.Key = key
		}
		if done {
			continue
		}
		// DESIGN.md "Identity": items identical in every field are one
		// record, even without an e-mail address or UID.
		n.in.Keys = append(n.in.Keys, contentKey(&n.in.Record))
		if n.in.ModifiedAt.IsZero() {
			// No time in the item (a card without REV): the file's own
			// modification time bounds when it last changed.
			n.in.ModifiedAt = mtime
		}
		if err := im.apply(tx, n.in, step); err != nil {
			if crmstore.IsItemAbort(err) {
				return items, &batchBroken{step: step, err: err}
			}
			return items, err
		}
		inBatch++
		im.rep.Progress(items)
		if inBatch >= im.opts.BatchSize || time.Since(lastCommit) > 2*time.Second {
			if err := commit(step + 1); err != nil {
				return items, err
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	err = commitTx(tx)
	tx = nil
	if crmstore.IsItemAbort(err) {
		return items, &batchBroken{step: step, err: err}
	}
	if err != nil {
		book.failed(err)
		return items, fmt.Errorf("store: %w", err)
	}
	im.booked()
	if err := ctx.Err(); err != nil {
		return items, err
	}
	return items, nil
}

// contentKey returns the identity key of a record's whole content: its
// entity, every non-empty field but the Outlook folder, its parties,
// attachments (name, type, size) and extra values.
func contentKey(r *crm.Record) string {
	// The bytes hashed are those of the fmt verbs this key was first
	// written with ("\x00%s=%q" per field, …): stores hold these keys, so
	// they must not change (TestContentKeyUnchanged). strconv's appends
	// give the same bytes as %q and %d without fmt's cost per call (fmt
	// was a fifth of reading a VCF).
	h := sha256.New()
	b := make([]byte, 0, 1024)
	flush := func() {
		h.Write(b)
		b = b[:0]
	}
	b = append(b, r.Entity...)
	names := make([]string, 0, len(r.Fields))
	for k, v := range r.Fields {
		if v != "" && k != "folder" && k != "parentcustomerid" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		b = append(b, 0)
		b = append(b, k...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, r.Fields[k])
		if len(b) > 32<<10 {
			flush()
		}
	}
	for _, p := range r.Parties {
		b = append(b, 1)
		b = strconv.AppendInt(b, int64(p.Role), 10)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, strings.ToLower(p.Address))
		b = append(b, ' ')
		b = strconv.AppendQuote(b, p.Name)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, p.Status)
	}
	for _, p := range r.Members {
		b = append(b, 2)
		b = strconv.AppendQuote(b, strings.ToLower(p.Address))
		b = append(b, ' ')
		b = strconv.AppendQuote(b, p.Name)
	}
	for _, a := range r.Attachments {
		b = append(b, 3)
		b = strconv.AppendQuote(b, a.Name)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, a.MimeType)
		b = append(b, ' ')
		b = strconv.AppendInt(b, a.Size, 10)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, a.SHA256)
	}
	flush()
	for _, x := range r.Extras {
		if strings.EqualFold(x.Name, "UID") {
			// A vCard's UID (kept when it is no record id) names the
			// item; it is not what the item holds.
			continue
		}
		fmt.Fprintf(h, "\x04%q %q %v", x.Name, x.Value, x.Params)
	}
	return "content:" + hex.EncodeToString(h.Sum(nil))[:40]
}

// commitTx commits a batch; tests replace it to make a commit fail.
var commitTx = (*crmstore.Tx).Commit

// applyTx applies an item; tests replace it to make an item fail.
var applyTx = (*crmstore.Tx).Apply

// apply applies one incoming record (and the account of a contact's
// company). Item-level failures are counted and reported; store failures
// are returned.
func (im *Importer) apply(tx *crmstore.Tx, in *crm.Incoming, step int) error {
	warnings := im.sum.Warnings
	e := in.Record.Entity
	// The party rule (crm.Party), for every reader: a participant known by
	// its name alone keeps the name as its address, said as a warning.
	var notes, mnotes []string
	in.Record.Parties, notes = crm.SettleParties(in.Record.Parties)
	in.Record.Members, mnotes = crm.SettleParties(in.Record.Members)
	for _, n := range append(notes, mnotes...) {
		im.sum.Warnings++
		im.rep.Warning(fmt.Errorf("%s: %s", in.Pos, n))
	}
	if e == crm.Contact {
		if company := strings.TrimSpace(in.Record.Fields["company"]); company != "" {
			id, err := im.account(tx, company)
			if err != nil {
				im.problem(fmt.Errorf("%s: account %q: %w", in.Pos, company, err))
			} else {
				in.Record.Fields["parentcustomerid"] = id
			}
		}
	}
	// The extra values' names, counted when the batch commits: a slice
	// per item held until then, not a map per item.
	var extras []string
	if len(in.Record.Extras) > 0 {
		extras = make([]string, len(in.Record.Extras))
		for i, x := range in.Record.Extras {
			extras[i] = strings.ToUpper(x.Name)
		}
	}
	res, err := applyTx(tx, in, im.opts.Policy)
	im.sum.Conflicts += res.Conflicts
	if errors.Is(err, crmstore.ErrUnknownEvent) && !im.final {
		// RFC 5546 answers an event; it may come later in this run (a
		// PST's responses before the request, a folder's files in name
		// order): the answer waits for the end of the run. Only what
		// applying an answer reads is kept.
		w := *in
		w.Record.Fields = map[string]string{}
		for _, k := range []string{"uid", "recurrenceid"} {
			item.SetIf(w.Record.Fields, k, in.Record.Fields[k])
		}
		w.Record.Attachments, w.Record.Extras = nil, nil
		_, file, _ := strings.Cut(in.Origin, ":") // "format:/abs/path" (readFile)
		im.waiting = append(im.waiting, waitingAnswer{in: &w, book: im.book, file: file})
		return nil
	}
	if err != nil {
		perr := fmt.Errorf("%s: %w", in.Pos, err)
		if crmstore.IsItemAbort(err) {
			return perr // applied again (readFile), not booked yet
		}
		im.book.notImported(e, perr.Error())
		if crmstore.IsStoreFailure(err) {
			return fmt.Errorf("store: %w", err)
		}
		im.problem(perr)
		return nil
	}
	im.checkFit(in, res)
	if res.Note != "" {
		// Applied in part or not at all, by rule (an older iTIP version, a
		// COUNTER): merged, and said.
		im.sum.Warnings++
		im.rep.Warning(fmt.Errorf("%s: %s %s: %s", in.Pos, e, res.ID, res.Note))
	}
	im.book.pending = append(im.book.pending, outcome{step: step, conflicts: res.Conflicts, warnings: im.sum.Warnings - warnings,
		e: e, pos: in.Pos, id: res.ID,
		created: res.Outcome == crmstore.Created, changed: res.Outcome == crmstore.Updated, again: res.Known,
		extras: extras, note: res.Note})
	return nil
}

// applyWaiting applies the answers that waited for the end of the run
// (Importer.apply), in the order they were read, in one transaction; each
// is booked in the ledger of its file. One whose event is still unknown is
// not imported: a problem, remembered with its file (so --recheck reads
// the file again).
func (im *Importer) applyWaiting(ctx context.Context) error {
	if len(im.waiting) == 0 {
		return nil
	}
	im.final = true
	waiting := im.waiting
	im.waiting = nil
	tx, err := im.store.Begin(context.WithoutCancel(ctx))
	if err != nil {
		for _, w := range waiting {
			w.book.notImported(w.in.Record.Entity, fmt.Sprintf("%s: not applied: %v", w.in.Pos, err))
		}
		return fmt.Errorf("store: %w", err)
	}
	var books []*ledgerBook
	touched := map[string]bool{}
	for _, w := range waiting {
		if len(books) == 0 || books[len(books)-1] != w.book {
			books = append(books, w.book)
		}
		im.book = w.book
		var problems []string
		im.fileProblems = &problems
		failedBefore := w.book.l.NotImported
		err := im.apply(tx, w.in, -1) // no replay at the end of the run
		im.fileProblems = nil
		if fp := im.files[w.file]; fp != nil && (len(problems) > 0 || w.book.l.NotImported > failedBefore) {
			fp.Problems = append(fp.Problems, problems...)
			fp.Failed += w.book.l.NotImported - failedBefore
			touched[w.file] = true
		}
		if err != nil {
			tx.Rollback()
			for _, b := range books {
				b.failed(err)
			}
			im.book = nil
			return err
		}
	}
	for f := range touched {
		if err := tx.SetSourceFile(*im.files[f]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: %w", err)
		}
	}
	err = commitTx(tx)
	for _, b := range books {
		im.book = b
		if err != nil {
			b.failed(err)
		} else {
			im.booked()
		}
	}
	im.book = nil
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// checkFit warns about each value this item brought into the store that
// Dataverse cannot hold as it is (longer than its column, a date before
// 1753): the store keeps it whole, push will send it cut or leave it out
// (DESIGN.md "Content Dataverse accepts": the import reports both). The
// limits are those push last read from the server, else the built-in
// table.
func (im *Importer) checkFit(in *crm.Incoming, res crmstore.Result) {
	if len(res.Changed) == 0 {
		return
	}
	e := in.Record.Entity
	if im.limits == nil {
		im.limits = map[crm.Entity]map[string]int{}
	}
	limits, ok := im.limits[e]
	if !ok {
		limits = upstream.KnownMaxLengths(context.Background(), im.store, e)
		im.limits[e] = limits
	}
	changed := map[string]string{}
	for _, f := range res.Changed {
		if v, ok := in.Record.Fields[f]; ok {
			changed[f] = v
		}
	}
	for _, u := range upstream.CheckFit(e, changed, limits) {
		im.sum.Warnings++
		im.rep.Warning(fmt.Errorf("%s: %s", in.Pos, u))
	}
}

// booked moves the pending outcomes of a committed transaction into the
// ledger and tells the reporter of each merge.
func (im *Importer) booked() {
	b := im.book
	mr, _ := im.rep.(MergeReporter)
	if mr != nil {
		for _, o := range b.pending {
			if !o.created {
				mr.Merged(MergedItem{Pos: o.pos, Entity: o.e, ID: o.id, Changed: o.changed, Again: o.again, Note: o.note})
			}
		}
	}
	im.sum.Accounts += b.accounts
	b.accounts = 0
	b.committed()
}

// account returns the id of the account named company, creating it once.
func (im *Importer) account(tx *crmstore.Tx, company string) (string, error) {
	k := "account:" + strings.ToLower(company)
	if id, ok := im.accounts[k]; ok {
		return id, nil
	}
	res, err := tx.Apply(&crm.Incoming{
		Source: crm.SourceRef{Kind: "company", Key: k, Version: company},
		Record: crm.Record{Entity: crm.Account, Fields: map[string]string{"name": company}},
		Keys:   []string{k},
		Origin: "company",
	}, crmstore.PolicyLocal)
	if err != nil {
		return "", err
	}
	if res.Outcome == crmstore.Created {
		im.book.accounts++
	}
	im.accounts[k] = res.ID
	return res.ID, nil
}

// produce reads path and sends its records to ch. A PST's records read
// their attachment content from the file when the store writes it, a
// chunk at a time (so that memory does not grow with an attachment's
// size): the file stays open until the caller closes it, after ch is
// closed; keep is given it. Other formats' records have their content read
// into memory here (materialize), so that they outlive the reader's
// iteration.
func produce(ctx context.Context, path string, format Format, ch chan<- next, keep func(io.Closer)) {
	send := func(n next) bool {
		select {
		case ch <- n:
			return true
		case <-ctx.Done():
			return false
		}
	}
	defer func() {
		if r := recover(); r != nil {
			recovered.Note(r)
			send(next{err: fmt.Errorf("%s: internal error: %v", path, r)})
		}
	}()
	name := filepath.Base(path)
	var r item.Reader
	if format == FormatPST {
		f, err := pst.Open(path)
		if err != nil {
			send(next{err: err})
			return
		}
		// Attachment content is read through the file's block cache,
		// which is safe for use beside the walk.
		keep(f)
		next, stop := iter.Pull2(f.Items(ctx))
		defer stop()
		r = &pstSource{name: name, next: next}
	} else if format == FormatMSG {
		f, err := msg.Open(path)
		if err != nil {
			send(next{err: err})
			return
		}
		defer f.Close()
		r = &msgSource{f: f}
	} else {
		f, err := os.Open(path)
		if err != nil {
			send(next{err: err})
			return
		}
		defer f.Close()
		r = newReader(format, f, name)
	}
	for {
		in, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			var ie *item.Error
			var pe *pst.ItemError
			if !send(next{err: err}) || !errors.As(err, &ie) && !errors.As(err, &pe) {
				return // the rest of the file cannot be read
			}
			continue
		}
		n := next{in: in}
		if format != FormatPST {
			if err := materialize(in); err != nil {
				n = next{err: &item.Error{Pos: in.Pos, Err: err}}
			}
		}
		if !send(n) {
			return
		}
	}
}

// pstSource reads a PST walk as an item.Reader of CRM records, leaving out
// items with no CRM counterpart (sticky notes, journal entries).
type pstSource struct {
	name    string
	next    func() (*pst.Item, error, bool)
	pending []*crm.Incoming // the modified occurrences of the last series
	warns   []error         // warnings about the last item (pstNotKept)
}

func (p *pstSource) Next() (*crm.Incoming, error) {
	if len(p.warns) > 0 {
		w := p.warns[0]
		p.warns = p.warns[1:]
		return nil, w
	}
	if len(p.pending) > 0 {
		in := p.pending[0]
		p.pending = p.pending[1:]
		return in, nil
	}
	for {
		it, err, ok := p.next()
		switch {
		case !ok:
			return nil, io.EOF
		case err != nil:
			return nil, err
		}
		if in := FromPST(p.name, it); in != nil {
			p.warns = pstNotKept(in.Pos, it)
			if it.Appointment != nil {
				p.pending = pstOccurrences(in, it)
			}
			return in, nil
		}
	}
}

// msgSource reads the one item of a .msg file as an item.Reader.
type msgSource struct {
	f     *msg.File
	done  bool
	warns []error // warnings about the item (pstNotKept)
}

func (m *msgSource) Next() (*crm.Incoming, error) {
	if len(m.warns) > 0 {
		w := m.warns[0]
		m.warns = m.warns[1:]
		return nil, w
	}
	if m.done {
		return nil, io.EOF
	}
	m.done = true
	it, err := m.f.Item()
	if err != nil {
		return nil, err
	}
	if in := FromMSG(m.f.Name(), it); in != nil {
		m.warns = pstNotKept(in.Pos, it)
		return in, nil
	}
	return nil, io.EOF
}

// materialize reads attachment content now, while the reader's item is
// current, and replaces Open with an in-memory reader. The content is read
// into one buffer of the size the source gives (no doubling growth), and
// the reader exposes it (Bytes) so that the store hashes and writes it
// without another copy: a large attachment is held once, not three times.
func materialize(in *crm.Incoming) error {
	for i := range in.Record.Attachments {
		a := &in.Record.Attachments[i]
		if a.Open == nil {
			continue
		}
		rc, err := a.Open()
		if err != nil {
			return fmt.Errorf("attachment %q: %w", a.Name, err)
		}
		data, err := readAll(rc, a.Size)
		rc.Close()
		if err != nil {
			return fmt.Errorf("attachment %q: %w", a.Name, err)
		}
		a.Open = func() (io.ReadCloser, error) { return &memContent{Reader: bytes.NewReader(data), data: data}, nil }
	}
	return nil
}

// readAll reads r to its end into a buffer of size bytes to begin with (a
// size from the source's metadata, which may be wrong either way), growing
// it only if r holds more.
func readAll(r io.Reader, size int64) ([]byte, error) {
	const maxHint = 64 << 20 // a damaged size must not allocate gigabytes
	if size <= 0 || size > maxHint {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, size+1) // +1: reading EOF needs no growth
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // more than the size said: grow
		}
	}
}

// memContent is attachment content held in memory. Bytes lets the store
// use it without copying (crmstore reads content through Open and takes
// Bytes when the reader has it).
type memContent struct {
	*bytes.Reader
	data []byte
}

func (m *memContent) Bytes() []byte { return m.data }
func (m *memContent) Close() error  { return nil }

// ownID returns the identifier an item carries that a file crmbridge
// exported sets to the record's id (vCard UID, iCalendar UID, the
// Message-ID it generated for a mail without one), so that re-importing
// an export, into this store or a fresh one, keeps record ids (claimID
// decides what the store makes of it). "" when the item carries none.
func ownID(in *crm.Incoming) string {
	switch {
	case in.Source.Kind == "vcf":
		return in.Source.Key
	case in.Record.Entity == crm.Appointment || in.Record.Entity == crm.Task:
		if in.Record.Fields["recurrenceid"] == "" {
			return in.Record.Fields["uid"]
		}
	case in.Record.Entity == crm.Email:
		local, domain, _ := strings.Cut(item.NormalizeMessageID(in.Record.Fields["messageid"]), "@")
		if domain == "crmbridge.invalid" {
			return local
		}
	}
	return ""
}

// claimID gives in the record id its file names (cand: ownID, or the
// record id crmbridge's PST writer keeps), by one rule: an identifier read
// from a file becomes a record's id only when crmbridge minted it.
//
// crmbridge mints version 7 UUIDs (crmstore newID), so a candidate that is
// one (RFC 9562 5.7: version 7, variant 10) is the id a new record takes,
// and re-reading crmbridge's export, here or in a fresh store, keeps ids.
// Any other UUID is not one crmbridge minted now: the random UUIDv4 that
// Outlook, Google, Apple and phones put in UIDs would put each new record
// at a random place in every index keyed by record id (4 to 6 times the
// bytes written of an import). It only names a record the store already
// holds under it (crm.Incoming.MatchID): one an earlier version made
// under that UID (it took any UUID), made before ids were version 7, or
// pulled from the server, and exported since. The identifier itself is
// kept as before (the source key, an event's uid field).
func claimID(in *crm.Incoming, cand string) {
	switch id, minted := item.RecordID(cand); {
	case id == "":
		// Not a UUID in its standard form (RFC 9562 4): no record id.
	case minted:
		in.Record.ID = id
	default:
		in.MatchID = id
	}
}
