package bridge

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/internal/recovered"
)

// exporter is one run of Export.
type exporter struct {
	ctx   context.Context
	store *crmstore.Store
	sn    *crmstore.Snapshot
	seq   int64 // the journal position the snapshot holds
	opts  ExportOptions
	rep   ExportReporter
	ahead map[string]*crmstore.View // records read ahead (readAhead), each used once
	// workers is how many goroutines writeCards encodes on (0: one per
	// processor); tests set it.
	workers int
}

// readAheadIDs is how many records readAhead reads at a time.
const readAheadIDs = 512

// readAhead reads the records ids[i:i+readAheadIDs] in one go when i
// starts such a run, for get to hand out: a few queries per 256 records
// instead of seven per record (an export of 20,000 contacts spent three
// quarters of its CPU in those queries). A failure here is left to get,
// which reads the record alone and reports it as before.
func (x *exporter) readAhead(ids []string, i int) {
	if i%readAheadIDs != 0 {
		return
	}
	vs, err := x.sn.GetBatch(ids[i:min(i+readAheadIDs, len(ids))], crmstore.BatchOptions{NoBookkeeping: true})
	if err != nil {
		vs = nil
	}
	x.ahead = vs
}

// fetched is a record read for a single-file target, or why it could not
// be read.
type fetched struct {
	id    string
	v     *crmstore.View
	err   error
	valid bool // v's field values are valid UTF-8 (crmstore.Scanned.ValidUTF8)
}

// readChunk is records prefetch read, in order, or why reading failed.
type readChunk struct {
	scan  *crmstore.ScanChunk
	alone map[string]fetched // the records Scan gave without a view, as Get read them
	fatal error              // reading failed: nothing else in this chunk, the last
}

// records returns the chunk's records in order, their views built now on
// the calling goroutine (ScanChunk.Records), each once.
func (rc *readChunk) records() []fetched {
	recs := rc.scan.Records()
	out := make([]fetched, len(recs))
	for i, r := range recs {
		out[i] = fetched{id: r.ID, v: r.View, valid: r.ValidUTF8}
		if r.View == nil {
			out[i] = rc.alone[r.ID]
		}
	}
	return out
}

// errStopped ends prefetch's scan when its reader stopped.
var errStopped = errors.New("export: reading stopped")

// prefetch reads the live records of ents, in the order Snapshot.IDs lists
// them, on a goroutine of its own, readAheadIDs at a time, ahead of the
// caller: Snapshot.Scan reads them in that order with one query per
// entity, and the rest of the work (building the views, encoding and
// writing: most of an export of 100,000 contacts) overlaps the reading.
// A record Scan does not hand out is read alone (Get), to say why. A
// failing store comes as the last chunk, its fatal error. The snapshot
// belongs to that goroutine until stop returns: the caller must not use
// x.sn before.
func (x *exporter) prefetch(ents []crm.Entity) (chunks <-chan *readChunk, stop func()) {
	ch := make(chan *readChunk, 1)
	quit := make(chan struct{})
	finished := make(chan struct{})
	send := func(rc *readChunk) error {
		select {
		case ch <- rc:
			return nil
		case <-quit:
			return errStopped
		}
	}
	go func() {
		defer close(finished)
		defer close(ch)
		defer func() {
			if r := recover(); r != nil {
				recovered.Note(r)
				send(&readChunk{fatal: fmt.Errorf("read records: internal error: %v", r)})
			}
		}()
		err := x.sn.Scan(ents, readAheadIDs, crmstore.BatchOptions{NoBookkeeping: true}, func(c *crmstore.ScanChunk) error {
			rc := &readChunk{scan: c}
			for _, id := range c.Missing() {
				f := fetched{id: id}
				if f.err = x.ctx.Err(); f.err == nil {
					f.v, f.err = x.sn.Get(id)
				}
				if rc.alone == nil {
					rc.alone = map[string]fetched{}
				}
				rc.alone[id] = f
			}
			return send(rc)
		})
		if err != nil && !errors.Is(err, errStopped) {
			send(&readChunk{fatal: err})
		}
	}()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			close(quit)
			<-finished
		})
	}
}

// readFailed handles a record prefetch could not read: reported and left
// out of tg (counted in res), or, when the store is failing or ctx is
// done, the error that ends the export.
func (x *exporter) readFailed(tg *target, f fetched, res *ExportResult) error {
	if x.ctx.Err() != nil {
		return x.ctx.Err()
	}
	if crmstore.IsStoreFailure(f.err) {
		return f.err
	}
	res.Omitted++
	x.rep.Problem(&RecordError{Target: tg.String(), ID: f.id, Entity: "record", Err: f.err})
	return nil
}

// get reads one record for export. A record that cannot be read is
// reported and left out (ok false); a failing store is returned.
func (x *exporter) get(tg *target, id string, res *ExportResult) (*crmstore.View, bool, error) {
	if v, ok := x.ahead[id]; ok {
		delete(x.ahead, id)
		cleanView(v, x.warnFor(tg))
		return v, true, nil
	}
	v, err := x.sn.Get(id)
	if err != nil {
		if x.ctx.Err() != nil || crmstore.IsStoreFailure(err) {
			return nil, false, err
		}
		res.Omitted++
		x.rep.Problem(&RecordError{Target: tg.String(), ID: id, Entity: "record", Err: err})
		return nil, false, nil
	}
	cleanView(v, x.warnFor(tg))
	return v, true, nil
}

func (x *exporter) warnFor(tg *target) func(*crmstore.View, error) {
	return func(v *crmstore.View, err error) {
		x.rep.Warning(&RecordError{Target: tg.String(), Entity: v.Entity, ID: v.ID, Err: err})
	}
}

// fail reports that a target was not written.
func (x *exporter) fail(res *ExportResult, err error) (ExportResult, error) {
	res.Failed = true
	x.rep.Problem(fmt.Errorf("%s: not written: %w", res.Path, err))
	return *res, nil
}

// folderOf checks that the folder a single-file target goes in exists:
// an export never creates the user's folders.
func folderOf(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("folder %s does not exist", dir)
		}
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	return nil
}

// fileHash returns the hex SHA-256 of the file at path, "" when there is
// none.
func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	// 256 KiB at a time, not io.Copy's 32 KiB: the old file of a
	// single-file target (49 MB for 100,000 contacts) is hashed before
	// anything else of the export can start. (struct{io.Reader} hides
	// os.File's WriterTo, which would copy through its own 32 KiB.)
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, 256<<10)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// mayReplace reports whether the file at path, whose content hashes to
// cur ("" when there is none), may be overwritten or removed by tg: it is
// missing, or --force, or tg wrote it and it is as written, or as it was
// when it was last imported (someone edited our file and the edits were
// imported: the store holds them).
func (x *exporter) mayReplace(tg *target, path, cur string, known map[string]crmstore.ExportedFile) (bool, error) {
	if cur == "" || x.opts.Force {
		return true, nil
	}
	var f crmstore.ExportedFile
	var ok bool
	if known != nil {
		f, ok = known[path]
	} else {
		var err error
		if f, ok, err = x.sn.ExportedFile(path); err != nil {
			return false, err
		}
	}
	if !ok {
		return false, nil
	}
	if f.SHA256 == cur {
		return true, nil
	}
	imported, err := x.sn.ImportedSHA256(path)
	return imported == cur, err
}

// runFile writes a single-file target: every live record it selects.
func (x *exporter) runFile(tg *target) (ExportResult, error) {
	res := ExportResult{Target: tg.String(), Path: tg.user}
	if err := folderOf(tg.path); err != nil {
		return x.fail(&res, err)
	}
	cur, err := fileHash(tg.path)
	if err != nil {
		return x.fail(&res, err)
	}
	if !x.opts.All && cur != "" {
		mark, err := x.sn.Watermark(tg.String())
		if err != nil {
			return res, err
		}
		changed, err := x.sn.ChangedSince(tg.ents, mark, x.seq, tg.String())
		if err != nil {
			return res, err
		}
		if len(changed) == 0 {
			res.Skipped = true
			return res, nil
		}
	}
	if ok, err := x.mayReplace(tg, tg.path, cur, nil); err != nil {
		return res, err
	} else if !ok && (tg.owned == nil || !tg.owned(tg.path)) {
		return x.fail(&res, fmt.Errorf("refusing to overwrite %s: %w", tg.path, ErrNotOurs))
	}
	// The records: counted here and read ahead by prefetch, or listed here
	// and read by the target itself (writePath, which reads the snapshot).
	var ids []string
	var total int
	if tg.writePath == nil {
		total, err = x.sn.Count(tg.ents)
	} else {
		ids, err = x.sn.IDs(tg.ents)
		total = len(ids)
	}
	if err != nil {
		return res, err
	}
	var storeErr error
	done := 0
	recs := func(yield func(*crmstore.View) bool) {
		defer func() { x.ahead = nil }()
		for i, id := range ids {
			if x.ctx.Err() != nil {
				storeErr = x.ctx.Err()
				return
			}
			x.readAhead(ids, i)
			v, ok, err := x.get(tg, id, &res)
			if err != nil {
				storeErr = err
				return
			}
			done++
			x.rep.Progress(tg.String(), done, len(ids))
			if ok && !yield(v) {
				return
			}
		}
	}
	if tg.writePath == nil {
		// The encoder reads nothing from the snapshot: the records are
		// read one chunk ahead on another goroutine.
		recs = func(yield func(*crmstore.View) bool) {
			chunks, stop := x.prefetch(tg.ents)
			defer stop()
			name, warn := tg.String(), x.warnFor(tg)
			for rc := range chunks {
				if rc.fatal != nil {
					storeErr = rc.fatal
					return
				}
				for _, f := range rc.records() {
					if x.ctx.Err() != nil {
						storeErr = x.ctx.Err()
						return
					}
					if f.err != nil {
						if storeErr = x.readFailed(tg, f, &res); storeErr != nil {
							return
						}
					} else {
						cleanView(f.v, warn)
					}
					done++
					x.rep.Progress(name, done, total)
					if f.err == nil && !yield(f.v) {
						return
					}
				}
			}
		}
	}
	omit := func(v *crmstore.View, err error) {
		res.Omitted++
		x.rep.Problem(&RecordError{Target: tg.String(), Entity: v.Entity, ID: v.ID, Err: err})
	}
	var n int
	var sum string
	if tg.writePath != nil {
		n, err = tg.writePath(tg.path, iter.Seq[*crmstore.View](recs), omit, func() error { return storeErr })
		if err == nil && storeErr == nil {
			if sum, err = fileHash(tg.path); err == nil {
				err = syncDir(filepath.Dir(tg.path))
			}
		}
	} else {
		sum, err = writeAtomic(tg.path, func(w io.Writer) error {
			var err error
			if tg.cards != nil {
				n, storeErr, err = x.writeCards(w, tg, total, &res)
			} else {
				n, err = tg.writeFile(w, iter.Seq[*crmstore.View](recs), omit, x.warnFor(tg))
			}
			if storeErr != nil {
				return storeErr
			}
			if err == nil && n == 0 && total > 0 {
				// Never empty a file while the selection is not empty.
				err = fmt.Errorf("none of its %d record(s) could be written", total)
			}
			return err
		})
	}
	if storeErr != nil {
		return res, storeErr
	}
	if err != nil {
		return x.fail(&res, err)
	}
	res.Records = n
	return res, x.record(tg, x.seq, []crmstore.ExportedFile{{Path: tg.path, SHA256: sum}}, nil)
}

// record stores what tg wrote and removed, and moves its watermark to seq
// when seq > 0, holding the store's write lock only for that.
func (x *exporter) record(tg *target, seq int64, written []crmstore.ExportedFile, removed []string) error {
	ctx := context.WithoutCancel(x.ctx) // what is on disk must be recorded
	release, err := x.store.LockWrite(ctx)
	if err != nil {
		return err
	}
	defer release()
	tx, err := x.store.Begin(ctx)
	if err != nil {
		return err
	}
	if seq <= 0 {
		err = tx.RecordFiles(tg.String(), written, removed)
	} else {
		err = tx.RecordExport(tg.String(), seq, written, removed)
	}
	if err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// writeAtomic writes a file through fn to a temporary name in the same
// folder, syncs it and renames it over path, then syncs the folder:
// readers never see a partial file, and a failure leaves the old file in
// place. The file is 0600: it holds customers' data. It returns the hex
// SHA-256 of what it wrote.
func writeAtomic(path string, fn func(io.Writer) error) (sum string, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(&writeBackFile{f: f}, h), 64<<10)
	if err := fn(bw); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), syncDir(dir)
}

// writeBackBytes is how much writeBackFile lets pile up before it asks
// the system to start writing it to disk.
const writeBackBytes = 4 << 20

// writeBackFile writes to f and, every writeBackBytes, asks the system to
// start writing what came since to disk (startWriteBack), without waiting:
// the disk works while the export goes on, and the fsync at the end waits
// for the last few megabytes, not for the whole file (0.035 to 0.045 s of
// an export of 100,000 contacts, 49 MB, did nothing but wait for it). The
// fsync is still what makes the file durable.
type writeBackFile struct {
	f           *os.File
	off, queued int64 // bytes written; bytes asked to be written back
}

func (w *writeBackFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.queued >= writeBackBytes {
		startWriteBack(w.f, w.queued, w.off-w.queued)
		w.queued = w.off
	}
	return n, err
}

// syncDir makes the names in dir durable (renames, removals).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// safeJoin joins a data-derived file name to dir, refusing anything that
// would leave dir.
func safeJoin(dir, name string) (string, error) {
	if name == "" || !filepath.IsLocal(name) || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("unsafe file name %q", name)
	}
	return filepath.Join(dir, name), nil
}

// runDir writes a directory target: the items of the records changed
// since its watermark (every record with All), removing those of deleted
// records.
func (x *exporter) runDir(tg *target) (ExportResult, error) {
	res := ExportResult{Target: tg.String(), Path: tg.user}
	if fi, err := os.Stat(tg.path); errors.Is(err, os.ErrNotExist) {
		// The folder itself is created (0700), never its parents.
		if err := folderOf(tg.path); err != nil {
			return x.fail(&res, err)
		}
		if err := os.Mkdir(tg.path, 0o700); err != nil {
			return x.fail(&res, err)
		}
	} else if err != nil {
		return x.fail(&res, err)
	} else if !fi.IsDir() {
		return x.fail(&res, fmt.Errorf("%s is not a folder", tg.path))
	}
	known, err := x.sn.ExportedFiles(tg.String())
	if err != nil {
		return res, err
	}
	byItem := map[string][]string{}
	for p, f := range known {
		byItem[f.Item] = append(byItem[f.Item], p)
	}
	var ids []string
	if x.opts.All {
		ids, err = x.sn.IDs(tg.ents)
	} else {
		var mark int64
		if mark, err = x.sn.Watermark(tg.String()); err == nil {
			ids, err = x.sn.ChangedSince(tg.ents, mark, x.seq, tg.String())
		}
	}
	if err != nil {
		return res, err
	}
	if len(ids) == 0 && !x.opts.All {
		res.Skipped = true
		return res, nil
	}
	b := &batch{x: x, tg: tg, known: known, size: x.opts.BatchSize, res: &res}
	defer b.abort()
	done := map[string]bool{} // items handled
	warn := x.warnFor(tg)
	defer func() { x.ahead = nil }()
	for i, id := range ids {
		if err := x.ctx.Err(); err != nil {
			return res, b.stop(err)
		}
		x.rep.Progress(tg.String(), i+1, len(ids))
		x.readAhead(ids, i)
		v, ok, err := x.get(tg, id, &res)
		if err != nil {
			return res, b.stop(err)
		}
		if !ok {
			continue
		}
		item, members, err := tg.group(x.sn, v)
		if err != nil {
			return res, b.stop(err)
		}
		if done[item] {
			continue
		}
		done[item] = true
		path := ""
		if len(members) > 0 {
			if path, err = safeJoin(tg.path, tg.name(item, members)); err == nil {
				err = b.write(path, item, members, warn)
			}
			if err != nil {
				if x.ctx.Err() != nil || crmstore.IsStoreFailure(err) {
					return res, b.stop(err)
				}
				res.Omitted += len(members)
				x.rep.Problem(&RecordError{Target: tg.String(), Entity: v.Entity, ID: v.ID, Err: err})
				continue
			}
		}
		// The file under an older name (an e-mail's subject changed), or
		// of a record deleted since.
		for _, old := range byItem[item] {
			if old != path {
				b.remove(old)
			}
		}
		if err := b.flushIfFull(); err != nil {
			return res, b.stop(err)
		}
	}
	if x.opts.All {
		// Files of records that are gone.
		for p, f := range known {
			if !done[f.Item] {
				b.remove(p)
			}
		}
	}
	if err := b.flush(x.seq); err != nil {
		return res, b.stop(err)
	}
	return res, nil
}

// batch is the pending part of a directory target: files written to
// temporary names, not yet synced nor renamed, and files removed; flush
// makes them durable with one sync of the file system, renames them,
// syncs the folder and records them in the store.
type batch struct {
	x       *exporter
	tg      *target
	known   map[string]crmstore.ExportedFile
	size    int
	res     *ExportResult
	pending []pendingFile
	removed []string
	buf     *bufio.Writer // reused by every file
}

type pendingFile struct {
	tmp, path string
	f         crmstore.ExportedFile
	n         int // records in it
}

// write encodes members into a temporary file next to path.
func (b *batch) write(path, item string, members []*crmstore.View, warn func(*crmstore.View, error)) (err error) {
	cur, err := fileHash(path)
	if err != nil {
		return err
	}
	if ok, err := b.x.mayReplace(b.tg, path, cur, b.known); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("refusing to overwrite %s: %w", path, ErrNotOurs)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+tmpBase(filepath.Base(path))+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	// Encoders write in small pieces (a MIME line wrapper writes one line
	// at a time): one system call per 64 KiB, not per line.
	if b.buf == nil {
		b.buf = bufio.NewWriterSize(nil, 64<<10)
	}
	bw := b.buf
	bw.Reset(io.MultiWriter(f, h))
	if err := b.tg.encode(bw, members, warn); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	b.pending = append(b.pending, pendingFile{tmp: f.Name(), path: path, n: len(members),
		f: crmstore.ExportedFile{Path: path, Item: item, SHA256: hexSum(h)}})
	return nil
}

// tmpBase shortens a file name so that the temporary name stays within
// the 255-byte name limit of common file systems.
func tmpBase(name string) string {
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// remove removes a file tg wrote, if it is as tg wrote it (or --force);
// a file changed since is left in place, with a warning.
func (b *batch) remove(path string) {
	cur, err := fileHash(path)
	if err == nil {
		var ok bool
		if ok, err = b.x.mayReplace(b.tg, path, cur, b.known); err == nil && !ok {
			err = fmt.Errorf("left in place: %w", ErrNotOurs)
		}
	}
	if err == nil && cur != "" {
		err = os.Remove(path)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		b.x.rep.Warning(fmt.Errorf("%s: %s: %w", b.tg, path, err))
		return
	}
	b.removed = append(b.removed, path)
	if cur != "" {
		b.res.Removed++
	}
}

func (b *batch) flushIfFull() error {
	if len(b.pending) < b.size {
		return nil
	}
	return b.flush(0)
}

// flush makes the pending files durable and visible and records them;
// seq > 0 moves the watermark too.
func (b *batch) flush(seq int64) error {
	if len(b.pending) > 0 {
		if err := syncFiles(b.tg.path, b.pending); err != nil {
			return err
		}
	}
	var written []crmstore.ExportedFile
	for len(b.pending) > 0 {
		p := b.pending[0]
		if err := os.Rename(p.tmp, p.path); err != nil {
			return err
		}
		b.pending = b.pending[1:]
		written = append(written, p.f)
		b.res.Records += p.n
	}
	if len(written) > 0 || len(b.removed) > 0 {
		if err := syncDir(b.tg.path); err != nil {
			return err
		}
	}
	if len(written) == 0 && len(b.removed) == 0 && seq <= 0 {
		return nil
	}
	err := b.x.record(b.tg, seq, written, b.removed)
	b.removed = nil
	return err
}

// stop ends a directory target early (ctx cancelled or the store
// failing): the temporary files go, what was renamed is recorded.
func (b *batch) stop(err error) error {
	b.abort()
	if len(b.removed) > 0 {
		if rerr := b.x.record(b.tg, 0, nil, b.removed); rerr != nil && !errors.Is(err, context.Canceled) {
			return errors.Join(err, rerr)
		}
	}
	return b.x.fatal(err)
}

// abort removes the temporary files not renamed yet.
func (b *batch) abort() {
	for _, p := range b.pending {
		os.Remove(p.tmp)
	}
	b.pending = nil
}
