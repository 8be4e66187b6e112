package crmstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"crmbridge/crm"
)

// ErrNotFound is returned when no record has the given id.
var ErrNotFound = errors.New("crmstore: record not found")

// View is a record as stored, with its bookkeeping.
type View struct {
	crm.Record
	CreatedAt  time.Time
	ModifiedAt time.Time
	Deleted    bool
	Sources    []crm.SourceRef
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

// CurrentFields returns the current values of the named fields (columns
// only) of record id; a name the record's entity lacks is left out. It is
// for push, which needs the value of an unchanged field now and then (an
// activity's subject decides what its description carries upstream).
func (s *Store) CurrentFields(ctx context.Context, id string, names []string) (map[string]string, error) {
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer sn.Close()
	var ent string
	if err := sn.t.queryRow(`SELECT entity FROM record WHERE id = ?`, id).Scan(&ent); err != nil {
		return nil, fmt.Errorf("fields of %s: %w", id, err)
	}
	want := map[string]string{}
	for _, n := range names {
		if _, ok := crm.LookupField(crm.Entity(ent), n); ok {
			want[n] = ""
		}
	}
	return sn.t.loadFields(crm.Entity(ent), id, want)
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
	full, err := resolveID(t, id)
	if err != nil {
		return nil, err
	}
	if err := t.queryRow(`SELECT id, entity, created_at, modified_at, deleted FROM record WHERE id = ?`, full).Scan(&v.ID, &ent, &created, &modified, &v.Deleted); err != nil {
		return nil, err
	}
	v.Entity = crm.Entity(ent)
	v.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	v.ModifiedAt, _ = time.Parse(time.RFC3339Nano, modified)
	want := map[string]string{}
	for _, f := range crm.Fields(v.Entity) {
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
	if v.Entity == crm.Appointment || v.Entity == crm.Task {
		s, ok, err := t.storedSchedule(v.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			v.Schedule = &s
		}
	}
	if v.Entity == crm.List {
		if v.Members, err = t.loadParties(`SELECT 0, address, name, '', COALESCE(contact_id, '') FROM listmember WHERE list_id = ? ORDER BY ord`, v.ID); err != nil {
			return nil, err
		}
	}
	if v.Attachments, err = t.loadAttachments(v.ID); err != nil {
		return nil, err
	}
	if v.Extras, err = t.loadExtras(v.ID); err != nil {
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
		var r crm.SourceRef
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
