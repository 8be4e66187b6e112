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

// batchIDs is how many records GetBatch reads per query. Every query has
// this many placeholders (the last chunk is padded with "", which is no
// record's id), so that each is prepared once.
const batchIDs = 256

// GetBatch returns the records with the given full ids (as IDs lists
// them), as of the snapshot, keyed by id; an id with no record is left
// out (Get tells why). Each view is what Get returns for its id. It reads
// each kind of row with one query per 256 records, where Get makes seven
// queries per record: an export of 20,000 contacts made 140,000 queries.
func (sn *Snapshot) GetBatch(ids []string) (map[string]*View, error) {
	out := make(map[string]*View, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), batchIDs)
		if err := sn.getChunk(ids[:n], out); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return out, nil
}

func (sn *Snapshot) getChunk(ids []string, out map[string]*View) error {
	t := sn.t
	in := "(" + placeholders(batchIDs) + ")"
	args := make([]any, batchIDs)
	for i := range args {
		args[i] = ""
		if i < len(ids) {
			args[i] = strings.ToLower(ids[i])
		}
	}
	// each runs q (its first column a record id in this chunk) and hands
	// every row's view and remaining columns to scan.
	each := func(what, q string, scan func(rows *sql.Rows) error, pre ...any) error {
		rows, err := t.query(q, append(pre, args...)...)
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
	chunk := map[string]*View{}
	byEntity := map[crm.Entity]bool{}
	err := each("records", `SELECT id, entity, created_at, modified_at, deleted FROM record WHERE id IN `+in, func(rows *sql.Rows) error {
		var v View
		var ent, created, modified string
		if err := rows.Scan(&v.ID, &ent, &created, &modified, &v.Deleted); err != nil {
			return err
		}
		v.Entity = crm.Entity(ent)
		v.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
		v.ModifiedAt, _ = time.Parse(time.RFC3339Nano, modified)
		v.Fields = map[string]string{}
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
		q := `SELECT t.id, "` + strings.Join(cols, `", "`) + `" FROM "` + tableOf(e) + `" t CROSS JOIN record r ON r.id = t.id WHERE r.entity = ? AND t.id IN ` + in // CROSS JOIN: t outer, by id (not record_entity over every record)
		hasCols[e] = true
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		err := each(es, q, func(rows *sql.Rows) error {
			v, err := rowOf(rows, ptrs...)
			if err != nil || v == nil {
				return err
			}
			found[v.ID] = true
			for i, c := range cols {
				if vals[i].String != "" {
					v.Fields[c] = vals[i].String
				}
			}
			return nil
		}, es)
		if err != nil {
			return err
		}
	}
	for _, v := range chunk {
		if hasCols[v.Entity] && !found[v.ID] {
			// Get fails on a record whose entity row is missing: do not
			// hand out a view Get would not give.
			delete(chunk, v.ID)
		}
	}
	parties := func(what, q string, list func(v *View) *[]crm.Party) error {
		return each(what, q, func(rows *sql.Rows) error {
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
	if err := parties("parties", `SELECT activity_id, role, address, name, status, COALESCE(contact_id, '') FROM activityparty WHERE activity_id IN `+in+` ORDER BY activity_id, ord`,
		func(v *View) *[]crm.Party { return &v.Parties }); err != nil {
		return err
	}
	if err := parties("members", `SELECT list_id, 0, address, name, '', COALESCE(contact_id, '') FROM listmember WHERE list_id IN `+in+` ORDER BY list_id, ord`,
		func(v *View) *[]crm.Party { return &v.Members }); err != nil {
		return err
	}
	s, ctx := t.s, t.ctx
	err = each("attachments", `SELECT record_id, name, mimetype, contentid, inline, size, sha256 FROM attachment WHERE record_id IN `+in+` ORDER BY record_id, ord`, func(rows *sql.Rows) error {
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
	err = each("extras", `SELECT record_id, name, value, params FROM extra WHERE record_id IN `+in+` ORDER BY record_id, ord`, func(rows *sql.Rows) error {
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
	err = each("schedule", `SELECT record_id, sequence, stamp FROM schedule WHERE record_id IN `+in, func(rows *sql.Rows) error {
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
	err = each("sources", `SELECT record_id, kind, key, version FROM provenance WHERE record_id IN `+in+` ORDER BY record_id, id`, func(rows *sql.Rows) error {
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
	err = each("keys", `SELECT record_id, key FROM recordkey WHERE record_id IN `+in+` ORDER BY record_id, key`, func(rows *sql.Rows) error {
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
