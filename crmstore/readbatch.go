package crmstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"strings"
	"time"

	"crmbridge/crm"
)

// batchIDs is how many records GetBatch reads per query.
const batchIDs = 256

// BatchOptions says what GetBatch may leave out of its views.
type BatchOptions struct {
	// NoBookkeeping leaves out Sources and Keys, which no export writes:
	// reading them was a fifth of an export's CPU (100,000 contacts have
	// 100,000 provenance and 200,000 key rows).
	NoBookkeeping bool
}

// GetBatch returns the records with the given full ids (as IDs lists
// them), as of the snapshot, keyed by id; an id with no record is left
// out (Get tells why). Each view is what Get returns for its id, less
// what opt leaves out. It reads each kind of row with one query per 256
// records, where Get makes seven queries per record: an export of 20,000
// contacts made 140,000 queries.
func (sn *Snapshot) GetBatch(ids []string, opt BatchOptions) (map[string]*View, error) {
	out := make(map[string]*View, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), batchIDs)
		if err := sn.getChunk(ids[:n], opt, out); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return out, nil
}

func (sn *Snapshot) getChunk(ids []string, opt BatchOptions, out map[string]*View) error {
	t := sn.t
	// The chunk's ids go to every query as one JSON array: one bound
	// value instead of 256 (modernc copies each bound string into C
	// memory: 400,000 copies for 100,000 contacts), the same plan (SQLite
	// searches each table by id for each value of the list).
	in := "(SELECT value FROM json_each(?))"
	lower := make([]string, len(ids))
	for i, id := range ids {
		lower[i] = strings.ToLower(id)
	}
	js, err := json.Marshal(lower)
	if err != nil {
		return err
	}
	args := []any{string(js)}
	// each runs q (its first column a record id in this chunk) and hands
	// every row's view and remaining columns to scan.
	each := func(what, q string, scan func(rows *sql.Rows) error, pre ...any) error {
		return t.eachRow(what, q, append(pre, args...), scan)
	}
	chunk := map[string]*View{}
	byEntity := map[crm.Entity]bool{}
	err = each("records", `SELECT id, entity, created_at, modified_at, deleted FROM record WHERE id IN `+in, func(rows *sql.Rows) error {
		var v View
		var ent, created, modified string
		if err := rows.Scan(&v.ID, &ent, &created, &modified, &v.Deleted); err != nil {
			return err
		}
		v.Entity = crm.Entity(ent)
		v.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
		v.ModifiedAt, _ = time.Parse(time.RFC3339Nano, modified)
		chunk[v.ID] = &v
		byEntity[v.Entity] = true
		return nil
	})
	if err != nil {
		return err
	}
	// rowOf scans the row's record id and returns its view, nil for a
	// record left out.
	rowOf := func(rows *sql.Rows, dest ...any) (*View, error) {
		var id string
		if err := rows.Scan(append([]any{&id}, dest...)...); err != nil {
			return nil, err
		}
		return chunk[id], nil
	}
	ents := make([]string, 0, len(byEntity))
	for e := range byEntity {
		ents = append(ents, string(e))
	}
	sort.Strings(ents)
	hasCols := map[crm.Entity]bool{}
	found := map[string]bool{}
	for _, es := range ents {
		e := crm.Entity(es)
		// Entities sharing a table (activities) are read with the
		// union of their columns, each record keeping its own.
		var cols []string
		for _, f := range crm.Fields(e) {
			if !strings.HasPrefix(f.Name, "_") {
				cols = append(cols, f.Name)
			}
		}
		sort.Strings(cols)
		if len(cols) == 0 {
			continue
		}
		packed := packColumns(cols)
		q := `SELECT t.id, ` + strings.Join(packed, ", ") + ` FROM "` + tableOf(e) + `" t CROSS JOIN record r ON r.id = t.id WHERE r.entity = ? AND t.id IN ` + in // CROSS JOIN: t outer, by id (not record_entity over every record)
		hasCols[e] = true
		texts := make([]string, len(packed))
		ptrs := make([]any, len(packed))
		for i := range texts {
			ptrs[i] = &texts[i]
		}
		var slow []*View
		var vals []column
		err := each(es, q, func(rows *sql.Rows) error {
			v, err := rowOf(rows, ptrs...)
			if err != nil || v == nil {
				return err
			}
			found[v.ID] = true
			var ok bool
			if vals, ok = unpackColumns(vals, texts, cols); !ok {
				v.Fields = map[string]string{}
				slow = append(slow, v)
				return nil
			}
			v.Fields = make(map[string]string, len(vals))
			for _, c := range vals {
				v.Fields[c.name] = c.value
			}
			return nil
		}, es)
		if err != nil {
			return err
		}
		for _, v := range slow {
			if err := t.columnsOf(e, v.ID, cols, v.Fields); err != nil {
				return err
			}
		}
	}
	for _, v := range chunk {
		if v.Fields == nil {
			v.Fields = map[string]string{} // as Get gives: no columns, or none set
		}
		if hasCols[v.Entity] && !found[v.ID] {
			// Get fails on a record whose entity row is missing: do not
			// hand out a view Get would not give.
			delete(chunk, v.ID)
		}
	}
	return sn.fillSide(chunk, lower, lower, lower, opt, out)
}

// fillSide reads, for the views in chunk (by id), the rows of the tables
// beside the entity tables: parties, members, attachments, extras,
// schedule and, unless opt.NoBookkeeping, provenance and identity keys;
// then it adds the views to out. It looks up the ids all in every table,
// but only attIDs among attachments and extIDs among extras (Scan knows
// which records have any; GetBatch passes all three the same).
func (sn *Snapshot) fillSide(chunk map[string]*View, allIDs, attIDs, extIDs []string, opt BatchOptions, out map[string]*View) error {
	t := sn.t
	in := "(SELECT value FROM json_each(?))"
	// list is an id list as the one bound value of a query (see getChunk).
	type list struct {
		js string
		n  int
	}
	mk := func(ids []string) (list, error) {
		js, err := json.Marshal(ids)
		return list{string(js), len(ids)}, err
	}
	all, err := mk(allIDs)
	if err != nil {
		return err
	}
	att, ext := all, all
	if len(attIDs) != all.n {
		if att, err = mk(attIDs); err != nil {
			return err
		}
	}
	if len(extIDs) != all.n {
		if ext, err = mk(extIDs); err != nil {
			return err
		}
	}
	// each runs q (its first column a record id in this chunk) for the
	// ids ids and hands every row's view and remaining columns to scan.
	each := func(what, q string, ids list, scan func(rows *sql.Rows) error) error {
		if ids.n == 0 {
			return nil
		}
		return t.eachRow(what, q, []any{ids.js}, scan)
	}
	// rowOf scans the row's record id and returns its view, nil for a
	// record left out.
	rowOf := func(rows *sql.Rows, dest ...any) (*View, error) {
		var id string
		if err := rows.Scan(append([]any{&id}, dest...)...); err != nil {
			return nil, err
		}
		return chunk[id], nil
	}
	byEntity := map[crm.Entity]bool{}
	for _, v := range chunk {
		byEntity[v.Entity] = true
	}
	parties := func(what, q string, list func(v *View) *[]crm.Party) error {
		return each(what, q, all, func(rows *sql.Rows) error {
			var p crm.Party
			v, err := rowOf(rows, &p.Role, &p.Address, &p.Name, &p.Status, &p.ContactID)
			if err != nil || v == nil {
				return err
			}
			l := list(v)
			*l = append(*l, p)
			return nil
		})
	}
	// Get reads parties for activities only, members for lists only and
	// a schedule for appointments and tasks only: a chunk with none of
	// them skips the query.
	var acts, lists, scheduled bool
	for e := range byEntity {
		p, m, s := sideTables(e)
		acts, lists, scheduled = acts || p, lists || m, scheduled || s
	}
	if acts {
		if err := parties("parties", `SELECT activity_id, role, address, name, status, COALESCE(contact_id, '') FROM activityparty WHERE activity_id IN `+in+` ORDER BY activity_id, ord`,
			func(v *View) *[]crm.Party { return &v.Parties }); err != nil {
			return err
		}
	}
	if lists {
		if err := parties("members", `SELECT list_id, 0, address, name, '', COALESCE(contact_id, '') FROM listmember WHERE list_id IN `+in+` ORDER BY list_id, ord`,
			func(v *View) *[]crm.Party { return &v.Members }); err != nil {
			return err
		}
	}
	s, ctx := t.s, t.ctx
	err = each("attachments", `SELECT record_id, name, mimetype, contentid, inline, size, sha256 FROM attachment WHERE record_id IN `+in+` ORDER BY record_id, ord`, att, func(rows *sql.Rows) error {
		var a crm.Attachment
		v, err := rowOf(rows, &a.Name, &a.MimeType, &a.ContentID, &a.Inline, &a.Size, &a.SHA256)
		if err != nil || v == nil {
			return err
		}
		sha := a.SHA256
		a.Open = func() (io.ReadCloser, error) { return s.OpenBlob(ctx, sha) }
		v.Attachments = append(v.Attachments, a)
		return nil
	})
	if err != nil {
		return err
	}
	err = each("extras", `SELECT record_id, name, value, params FROM extra WHERE record_id IN `+in+` ORDER BY record_id, ord`, ext, func(rows *sql.Rows) error {
		var x crm.Extra
		var params string
		v, err := rowOf(rows, &x.Name, &x.Value, &params)
		if err != nil || v == nil {
			return err
		}
		if params != "" {
			_ = json.Unmarshal([]byte(params), &x.Params)
		}
		v.Extras = append(v.Extras, x)
		return nil
	})
	if err != nil {
		return err
	}
	if scheduled {
		err = each("schedule", `SELECT record_id, sequence, stamp FROM schedule WHERE record_id IN `+in, all, func(rows *sql.Rows) error {
			var sc crm.Schedule
			var stamp string
			v, err := rowOf(rows, &sc.Sequence, &stamp)
			if err != nil || v == nil || v.Entity != crm.Appointment && v.Entity != crm.Task {
				return err
			}
			sc.Stamp, _ = time.Parse(time.RFC3339Nano, stamp)
			v.Schedule = &sc
			return nil
		})
		if err != nil {
			return err
		}
	}
	if opt.NoBookkeeping {
		for id, v := range chunk {
			out[id] = v
		}
		return nil
	}
	err = each("sources", `SELECT record_id, kind, key, version FROM provenance WHERE record_id IN `+in+` ORDER BY record_id, id`, all, func(rows *sql.Rows) error {
		var r crm.SourceRef
		v, err := rowOf(rows, &r.Kind, &r.Key, &r.Version)
		if err != nil || v == nil {
			return err
		}
		v.Sources = append(v.Sources, r)
		return nil
	})
	if err != nil {
		return err
	}
	err = each("keys", `SELECT record_id, key FROM recordkey WHERE record_id IN `+in+` ORDER BY record_id, key`, all, func(rows *sql.Rows) error {
		var k string
		v, err := rowOf(rows, &k)
		if err != nil || v == nil {
			return err
		}
		v.Keys = append(v.Keys, k)
		return nil
	})
	if err != nil {
		return err
	}
	for id, v := range chunk {
		out[id] = v
	}
	return nil
}

// sideTables says which tables fillSide reads for every record of entity
// e: parties (activities), members (lists), a schedule (appointments and
// tasks). Attachments, extras and bookkeeping it reads only for the ids it
// is given.
func sideTables(e crm.Entity) (parties, members, schedule bool) {
	return e.IsActivity(), e == crm.List, e == crm.Appointment || e == crm.Task
}

// sideRows reports whether fillSide reads rows of other tables for every
// record of entity e (sideTables).
func sideRows(e crm.Entity) bool {
	p, m, s := sideTables(e)
	return p || m || s
}

// packGroup is how many columns one packed text holds: concat takes at
// most 127 arguments in SQLite before 3.48, a column and a separator each.
const packGroup = 60

// packColumns returns the SQL expressions that give the columns cols of
// t packed into texts, packGroup columns each, for unpackColumns: the
// values, NULL as empty, separated by NUL bytes. database/sql reads a row
// a column at a time through the driver (modernc: a type call and a value
// call per column, each taking the connection's mutex, and a Go string
// per value), which made reading the 54 columns of 100,000 contacts, most
// of them NULL, a third of an export's CPU. concat builds each text with
// one allocation (a chain of || allocates at every step, and cost as much
// as the columns did). Every column of an entity table is TEXT, so
// concat's text of a value is the value (a REAL would read differently).
func packColumns(cols []string) []string {
	var out []string
	for len(cols) > 0 {
		g := cols[:min(len(cols), packGroup)]
		cols = cols[len(g):]
		out = append(out, `concat(t."`+strings.Join(g, `", char(0), t."`)+`")`)
	}
	return out
}

// unpackColumns returns the non-empty values packColumns packed in
// texts (appended to buf, which it reuses), each with its column, sharing
// the texts' memory: one string per packGroup columns, not one per value.
// It reports false when a value holds a NUL byte of its own (the text has
// more separators than columns): such a row must be read column by column.
func unpackColumns(buf []column, texts []string, cols []string) ([]column, bool) {
	buf = buf[:0]
	for i, s := range texts {
		g := cols[i*packGroup : min(len(cols), (i+1)*packGroup)]
		for j, c := range g {
			v, rest, ok := strings.Cut(s, "\x00")
			if ok == (j == len(g)-1) {
				return buf[:0], false // a separator too many, or one missing
			}
			if v != "" {
				buf = append(buf, column{c, v})
			}
			s = rest
		}
	}
	return buf, true
}

// column is one column's value.
type column struct{ name, value string }

// columnsOf sets into[c] to each non-empty column c of cols of record id,
// read one column at a time.
func (t *Tx) columnsOf(e crm.Entity, id string, cols []string, into map[string]string) error {
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	q := `SELECT "` + strings.Join(cols, `", "`) + `" FROM "` + tableOf(e) + `" WHERE id = ?`
	if err := t.queryRow(q, id).Scan(ptrs...); err != nil {
		return fmt.Errorf("load %s %s: %w", e, id, err)
	}
	for i, c := range cols {
		if vals[i].String != "" {
			into[c] = vals[i].String
		}
	}
	return nil
}

// eachRow runs q with args and hands every row to scan; errors name what
// was being loaded.
func (t *Tx) eachRow(what, q string, args []any, scan func(rows *sql.Rows) error) error {
	rows, err := t.query(q, args...)
	if err != nil {
		return fmt.Errorf("load %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("load %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load %s: %w", what, err)
	}
	return nil
}
