package crmstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// ErrNotFound is returned when no record has the given id.
var ErrNotFound = errors.New("crmstore: record not found")

// View is a record as stored, with its bookkeeping.
type View struct {
	Record
	CreatedAt  time.Time
	ModifiedAt time.Time
	Deleted    bool
	Sources    []SourceRef
	Keys       []string
}

// Get returns the record with the given id (a full GUID or a unique
// prefix of at least 8 characters).
func (s *Store) Get(ctx context.Context, id string) (*View, error) {
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer sn.Close()
	return sn.Get(id)
}

// Snapshot is a consistent read-only view of the store for reading many
// records (an export) with one transaction and statements prepared once.
// Close it when done; it is not safe for concurrent use.
type Snapshot struct {
	t    *Tx
	conn *sql.Conn
}

// Snapshot starts a read-only view of the store.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &Snapshot{t: &Tx{s: s, ctx: ctx, tx: tx, stmts: map[string]*sql.Stmt{}}, conn: conn}, nil
}

// Close ends the snapshot.
func (sn *Snapshot) Close() error {
	sn.t.Rollback()
	return sn.conn.Close()
}

// Get returns the record with the given id (a full GUID or a unique
// prefix of at least 8 characters), as of the snapshot.
func (sn *Snapshot) Get(id string) (*View, error) {
	t, s := sn.t, sn.t.s
	id = strings.ToLower(strings.TrimSpace(id))
	var v View
	var ent, created, modified string
	q := `SELECT id, entity, created_at, modified_at, deleted FROM record WHERE id = ?`
	args := []any{id}
	if len(id) >= 8 && len(id) < 36 {
		q = `SELECT id, entity, created_at, modified_at, deleted FROM record WHERE id >= ? AND id < ? LIMIT 2`
		args = []any{id, id + "\xff"}
	}
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	n := 0
	for rows.Next() {
		n++
		if err := rows.Scan(&v.ID, &ent, &created, &modified, &v.Deleted); err != nil {
			rows.Close()
			return nil, err
		}
	}
	rows.Close()
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	case n > 1:
		return nil, fmt.Errorf("id prefix %s is ambiguous", id)
	}
	v.Entity = Entity(ent)
	v.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	v.ModifiedAt, _ = time.Parse(time.RFC3339Nano, modified)
	want := map[string]string{}
	for _, f := range Fields(v.Entity) {
		want[f.Name] = ""
	}
	fields, err := t.loadFields(v.Entity, v.ID, want)
	if err != nil {
		return nil, err
	}
	v.Fields = map[string]string{}
	for k, val := range fields {
		if val != "" {
			v.Fields[k] = val
		}
	}
	if v.Entity.IsActivity() {
		if v.Parties, err = t.loadParties(`SELECT role, address, name, status, COALESCE(contact_id, '') FROM activityparty WHERE activity_id = ? ORDER BY ord`, v.ID); err != nil {
			return nil, err
		}
	}
	if v.Entity == List {
		if v.Members, err = t.loadParties(`SELECT 0, address, name, '', COALESCE(contact_id, '') FROM listmember WHERE list_id = ? ORDER BY ord`, v.ID); err != nil {
			return nil, err
		}
	}
	if v.Attachments, err = t.loadAttachments(v.ID); err != nil {
		return nil, err
	}
	ctx := t.ctx
	for i := range v.Attachments {
		sha := v.Attachments[i].SHA256
		v.Attachments[i].Open = func() (io.ReadCloser, error) { return s.OpenBlob(ctx, sha) }
	}
	prow, err := t.query(`SELECT kind, key, version FROM provenance WHERE record_id = ? ORDER BY id`, v.ID)
	if err != nil {
		return nil, err
	}
	for prow.Next() {
		var r SourceRef
		if err := prow.Scan(&r.Kind, &r.Key, &r.Version); err != nil {
			prow.Close()
			return nil, err
		}
		v.Sources = append(v.Sources, r)
	}
	prow.Close()
	krow, err := t.query(`SELECT key FROM recordkey WHERE record_id = ? ORDER BY key`, v.ID)
	if err != nil {
		return nil, err
	}
	for krow.Next() {
		var k string
		if err := krow.Scan(&k); err != nil {
			krow.Close()
			return nil, err
		}
		v.Keys = append(v.Keys, k)
	}
	krow.Close()
	return &v, nil
}

// Summary is one line of a record listing.
type Summary struct {
	ID         string    `json:"id"`
	Entity     Entity    `json:"entity"`
	Title      string    `json:"title"`
	Detail     string    `json:"detail,omitempty"`
	When       string    `json:"when,omitempty"`
	ModifiedAt time.Time `json:"modified_at"`
}

// ListFilter selects records for List.
type ListFilter struct {
	Entities []Entity // empty: all
	Limit    int      // 0: no limit
}

// List returns records, newest change first, without deleted ones.
func (s *Store) List(ctx context.Context, f ListFilter) ([]Summary, error) {
	var out []Summary
	ents := f.Entities
	if len(ents) == 0 {
		ents = Entities()
	}
	byTable := map[string][]string{}
	for _, e := range ents {
		byTable[tableOf(e)] = append(byTable[tableOf(e)], string(e))
	}
	queries := map[string]string{
		"contact":     `SELECT r.id, r.entity, COALESCE(t.fullname, trim(COALESCE(t.firstname,'') || ' ' || COALESCE(t.lastname,''))), COALESCE(t.emailaddress1, ''), '', r.modified_at FROM contact t JOIN record r ON r.id = t.id`,
		"account":     `SELECT r.id, r.entity, COALESCE(t.name, ''), COALESCE(t.websiteurl, ''), '', r.modified_at FROM account t JOIN record r ON r.id = t.id`,
		"lead":        `SELECT r.id, r.entity, COALESCE(t.fullname, t.subject, ''), COALESCE(t.companyname, ''), '', r.modified_at FROM lead t JOIN record r ON r.id = t.id`,
		"opportunity": `SELECT r.id, r.entity, COALESCE(t.name, ''), '', COALESCE(t.estimatedclosedate, ''), r.modified_at FROM opportunity t JOIN record r ON r.id = t.id`,
		"list":        `SELECT r.id, r.entity, COALESCE(t.listname, ''), '', '', r.modified_at FROM list t JOIN record r ON r.id = t.id`,
		"activity":    `SELECT r.id, r.entity, COALESCE(t.subject, ''), COALESCE(t.sender, t.location, ''), COALESCE(t.senton, t.scheduledstart, t.scheduledend, ''), r.modified_at FROM activity t JOIN record r ON r.id = t.id`,
	}
	for table, es := range byTable {
		q := queries[table] + ` WHERE r.deleted = 0 AND r.entity IN (?` + strings.Repeat(",?", len(es)-1) + `)`
		args := make([]any, len(es))
		for i, e := range es {
			args[i] = e
		}
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", table, err)
		}
		for rows.Next() {
			var sm Summary
			var ent, mod string
			if err := rows.Scan(&sm.ID, &ent, &sm.Title, &sm.Detail, &sm.When, &mod); err != nil {
				rows.Close()
				return nil, err
			}
			sm.Entity = Entity(ent)
			sm.ModifiedAt, _ = time.Parse(time.RFC3339Nano, mod)
			out = append(out, sm)
		}
		rows.Close()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Entity != out[j].Entity {
			return out[i].Entity < out[j].Entity
		}
		if out[i].Title != out[j].Title {
			return out[i].Title < out[j].Title
		}
		return out[i].ID < out[j].ID
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Status summarizes the store.
type Status struct {
	Path        string         `json:"path"`
	Schema      int            `json:"schema_version"`
	Records     map[Entity]int `json:"records"`
	Sources     map[string]int `json:"sources"` // provenance rows per source kind
	Files       int            `json:"files_imported"`
	Outbox      OutboxStatus   `json:"outbox"`
	Conflicts   int            `json:"conflicts_open"`
	JournalSeq  int64          `json:"journal_seq"`
	LastRun     *Run           `json:"last_run,omitempty"`
	Attachments int            `json:"attachments"`
	BlobBytes   int64          `json:"attachment_bytes"`
}

// OutboxStatus counts outbox entries by state. OldestPending is when the
// oldest entry not yet confirmed upstream (pending or in flight, not dead)
// was queued.
type OutboxStatus struct {
	Pending       int        `json:"pending"`
	InFlight      int        `json:"in_flight"`
	Dead          int        `json:"dead"`
	OldestPending *time.Time `json:"oldest_pending,omitempty"`
}

// Run is one recorded command run.
type Run struct {
	ID         int64     `json:"id"`
	Command    string    `json:"command"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	ExitCode   int       `json:"exit_code"`
	Summary    string    `json:"summary"`
}

// Status returns counts of records, sources, outbox and the last run.
func (s *Store) Status(ctx context.Context) (*Status, error) {
	st := &Status{Path: s.path, Records: map[Entity]int{}, Sources: map[string]int{}}
	var err error
	if st.Schema, err = s.SchemaVersion(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT entity, COUNT(*) FROM record WHERE deleted = 0 GROUP BY entity`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var e string
		var n int
		if err := rows.Scan(&e, &n); err != nil {
			rows.Close()
			return nil, err
		}
		st.Records[Entity(e)] = n
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT kind, COUNT(*) FROM provenance GROUP BY kind`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			rows.Close()
			return nil, err
		}
		st.Sources[k] = n
	}
	rows.Close()
	row := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM sourcefile),
		(SELECT COUNT(*) FROM outbox WHERE state = 'pending'),
		(SELECT COUNT(*) FROM outbox WHERE state = 'inflight'),
		(SELECT COUNT(*) FROM outbox WHERE state = 'dead'),
		(SELECT COALESCE(MIN(created_at), '') FROM outbox WHERE state IN ('pending', 'inflight')),
		(SELECT COUNT(*) FROM conflict WHERE resolved_at = ''),
		(SELECT COALESCE(MAX(seq), 0) FROM journal),
		(SELECT COUNT(*) FROM attachment),
		(SELECT COALESCE(SUM(size), 0) FROM blob)`)
	var oldest string
	if err := row.Scan(&st.Files, &st.Outbox.Pending, &st.Outbox.InFlight, &st.Outbox.Dead, &oldest, &st.Conflicts, &st.JournalSeq, &st.Attachments, &st.BlobBytes); err != nil {
		return nil, err
	}
	if oldest != "" {
		if t, err := time.Parse(time.RFC3339Nano, oldest); err == nil {
			st.Outbox.OldestPending = &t
		}
	}
	runs, err := s.Runs(ctx, 1)
	if err != nil {
		return nil, err
	}
	if len(runs) > 0 {
		st.LastRun = &runs[0]
	}
	return st, nil
}

// StartRun records the start of a write command and returns its id.
func (s *Store) StartRun(ctx context.Context, command string) (int64, error) {
	r, err := s.db.ExecContext(ctx, `INSERT INTO run (command, started_at) VALUES (?, ?)`, command, s.stamp())
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	return r.LastInsertId()
}

// FinishRun records the end of a run.
func (s *Store) FinishRun(ctx context.Context, id int64, exitCode int, summary string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE run SET finished_at = ?, exit_code = ?, summary = ? WHERE id = ?`, s.stamp(), exitCode, summary, id)
	return err
}

// Runs returns the last n runs, newest first.
func (s *Store) Runs(ctx context.Context, n int) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, command, started_at, finished_at, COALESCE(exit_code, -1), summary FROM run ORDER BY id DESC LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var st, fin string
		if err := rows.Scan(&r.ID, &r.Command, &st, &fin, &r.ExitCode, &r.Summary); err != nil {
			return nil, err
		}
		r.StartedAt, _ = time.Parse(time.RFC3339Nano, st)
		r.FinishedAt, _ = time.Parse(time.RFC3339Nano, fin)
		out = append(out, r)
	}
	return out, rows.Err()
}

// SourceFile is the fingerprint of an imported file.
type SourceFile struct {
	Path   string
	Size   int64
	MTime  time.Time
	SHA256 string
	Kind   string
	Items  int
	Failed int
}

// SourceFile returns what the store knows of an imported file.
func (s *Store) SourceFile(ctx context.Context, path string) (*SourceFile, error) {
	var f SourceFile
	var mt string
	err := s.db.QueryRowContext(ctx, `SELECT path, size, mtime, sha256, kind, items, failed FROM sourcefile WHERE path = ?`, path).
		Scan(&f.Path, &f.Size, &mt, &f.SHA256, &f.Kind, &f.Items, &f.Failed)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f.MTime, _ = time.Parse(time.RFC3339Nano, mt)
	return &f, nil
}

// SetSourceFile records a file as imported, in the batch that finished it.
func (t *Tx) SetSourceFile(f SourceFile) error {
	_, err := t.exec(`INSERT INTO sourcefile (path, size, mtime, sha256, kind, items, failed, imported_at) VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, sha256 = excluded.sha256, kind = excluded.kind,
		items = excluded.items, failed = excluded.failed, imported_at = excluded.imported_at`,
		f.Path, f.Size, f.MTime.UTC().Format(time.RFC3339Nano), f.SHA256, f.Kind, f.Items, f.Failed, t.now)
	return err
}

// OpenBlob returns the attachment content with the given SHA-256.
func (s *Store) OpenBlob(ctx context.Context, sha string) (io.ReadCloser, error) {
	var data []byte
	if err := s.db.QueryRowContext(ctx, `SELECT data FROM blob WHERE sha256 = ?`, sha).Scan(&data); err != nil {
		return nil, fmt.Errorf("attachment content %s: %w", sha, err)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// LinkSeries links appointment exceptions (with a recurrenceid) to their
// series master, found by the master's UID. Derived work, run once per
// batch: the master may come after its exceptions in a file.
func (t *Tx) LinkSeries() error {
	_, err := t.exec(`UPDATE activity SET seriesid = (
		SELECT k.record_id FROM recordkey k WHERE k.entity = 'appointment' AND k.key = 'uid:' || activity.uid)
		WHERE activitytypecode = 'appointment' AND recurrenceid IS NOT NULL AND uid IS NOT NULL AND seriesid IS NULL`)
	if err != nil {
		return fmt.Errorf("link series: %w", err)
	}
	return nil
}
