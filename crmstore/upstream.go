package crmstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"crmbridge/crm"
)

// setETag stores the last ETag seen for a record (the record is then known
// to exist upstream).
func (t *Tx) setETag(id, etag string) error {
	if _, err := t.exec(`INSERT INTO upstream (record_id, etag, synced_at) VALUES (?, ?, ?)
		ON CONFLICT (record_id) DO UPDATE SET etag = excluded.etag, synced_at = excluded.synced_at`, id, etag, t.now); err != nil {
		return fmt.Errorf("store etag of %s: %w", id, err)
	}
	return nil
}

// setUpstreamBase records the values of fields as what the server holds
// (provenance "upstream", version etag): the value in sent when it has
// one, else the store's current value.
func (t *Tx) setUpstreamBase(e crm.Entity, id, etag string, fields, sent map[string]string) error {
	version := etag
	if version == "" {
		version = "sent " + t.now // never equal to a real ETag
	}
	provID, err := t.upstreamSource(id, version, true)
	if err != nil {
		return fmt.Errorf("upstream provenance of %s: %w", id, err)
	}
	if len(fields) == 0 {
		return nil
	}
	load := map[string]string{}
	for n := range fields {
		if _, ok := sent[n]; !ok {
			load[n] = ""
		}
	}
	cur, err := t.loadFields(e, id, load)
	if err != nil {
		return err
	}
	for n := range fields {
		if v, ok := sent[n]; ok {
			cur[n] = v
		}
	}
	rows := make([][]any, 0, len(cur))
	for _, n := range sortedKeys(cur) {
		rows = append(rows, []any{provID, n, cur[n]})
	}
	if err := t.execRows(`INSERT INTO base (provenance_id, field, value)`, `ON CONFLICT (provenance_id, field) DO UPDATE SET value = excluded.value`, rows); err != nil {
		return fmt.Errorf("upstream merge base of %s: %w", id, err)
	}
	return nil
}

// fillUpstreamBase gives fields that have no upstream merge base yet the
// base "" when the record has an upstream provenance: a field we never
// sent nor read was null on the server when we last synced (we send every
// field a create sets, and a pull reads every attribute). Without it, a
// local value not yet pushed would meet the server's null with no common
// base, and PolicyIncoming would let the null win.
func (t *Tx) fillUpstreamBase(id string, fields map[string]string) error {
	provID, err := t.sourceID("upstream", id)
	if err != nil {
		return fmt.Errorf("upstream provenance of %s: %w", id, err)
	}
	if provID == 0 {
		return nil
	}
	have, err := t.loadBase(provID)
	if err != nil {
		return fmt.Errorf("upstream merge base of %s: %w", id, err)
	}
	rows := make([][]any, 0, len(fields))
	for _, n := range sortedKeys(fields) {
		if _, ok := have[n]; !ok {
			rows = append(rows, []any{provID, n, ""})
		}
	}
	if err := t.execRows(`INSERT INTO base (provenance_id, field, value)`, `ON CONFLICT (provenance_id, field) DO NOTHING`, rows); err != nil {
		return fmt.Errorf("upstream merge base of %s: %w", id, err)
	}
	return nil
}

// mergeUpstream merges the server's version of record id (its upstream
// fields in server, row version etag, modifiedon) into the store through
// the three-way field merge as source "upstream", which never feeds the
// outbox: the one path for what upstream sends, whether pulled or read
// back after a 412. Fields never synced get the base "" first (see
// fillUpstreamBase). A conflict left open is ErrConflict (wrapped), after
// the rest was applied.
func (t *Tx) mergeUpstream(e crm.Entity, id string, server map[string]string, etag string, modifiedOn time.Time, policy Policy) (Result, error) {
	theirs := map[string]string{}
	for k, v := range server {
		if f, ok := crm.LookupField(e, k); ok && f.Upstream {
			theirs[k] = v
		}
	}
	if err := t.fillUpstreamBase(id, theirs); err != nil {
		return Result{}, err
	}
	if subj, ok := theirs["subject"]; ok && e.IsActivity() && subj != "" {
		// The server holds the subject cut and the whole one at the head
		// of the description (crm.JoinSubject, as push sends it): the
		// description's own text is what follows.
		cur, err := t.loadFields(e, id, map[string]string{"subject": ""})
		if err == nil && cur["subject"] != subj && strings.HasPrefix(cur["subject"], subj) {
			if d, ok := theirs["description"]; ok {
				theirs["description"] = crm.SplitSubject(cur["subject"], d)
			}
		}
	}
	return t.Apply(&crm.Incoming{
		Source:     crm.SourceRef{Kind: "upstream", Key: id, Version: etag},
		Record:     crm.Record{ID: id, Entity: e, Fields: theirs},
		ModifiedAt: modifiedOn,
		Origin:     "upstream",
	}, policy)
}

// MergeResult is what OutboxMerge did.
type MergeResult struct {
	Send      map[string]string // upstream fields whose store value still differs from the server's
	Conflicts int               // fields changed on both sides (recorded)
	Open      int               // conflicts left open (PolicyFail): not sent
}

// OutboxMerge merges the server's current version of record c.RecordID
// (read back after a 412 or an unknown outcome) into the store through the
// three-way field merge, as source "upstream" (which never feeds the
// outbox), recording conflicts under policy. It returns the changed fields
// of c whose store value still differs from the server's (a field left in
// open conflict is not sent), rewrites the record's entries up to c.Seq
// into one update entry of those fields (keeping its in-flight mark,
// attempts and age), and stores the server's ETag, in one transaction.
//
// modifiedOn is the server's modifiedon of that version (zero when
// unknown): under PolicyNewest a field changed on both sides goes to the
// newer change.
func (s *Store) OutboxMerge(ctx context.Context, c OutboxChange, server map[string]string, etag string, modifiedOn time.Time, policy Policy) (MergeResult, error) {
	var mr MergeResult
	err := s.Update(ctx, func(t *Tx) error {
		var n, inflight, attempts int
		var created string
		var jseq int64
		if err := t.queryRow(`SELECT COUNT(*), COALESCE(MIN(created_at), ''), COALESCE(MAX(journal_seq), 0), COALESCE(MAX(attempts), 0),
			COALESCE(MAX(state = 'inflight'), 0) FROM outbox WHERE record_id = ? AND seq <= ?`, c.RecordID, c.Seq).
			Scan(&n, &created, &jseq, &attempts, &inflight); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no outbox entry of %s up to %d", c.RecordID, c.Seq)
		}
		res, err := t.mergeUpstream(c.Entity, c.RecordID, server, etag, modifiedOn, policy)
		if err != nil && !errors.Is(err, ErrConflict) {
			return fmt.Errorf("merge server version: %w", err)
		}
		if res.ID != c.RecordID {
			return fmt.Errorf("merge server version of %s: applied to %s", c.RecordID, res.ID)
		}
		mr.Conflicts, mr.Open = res.Conflicts, res.Open
		open := map[string]bool{}
		rows, err := t.query(`SELECT field FROM conflict WHERE record_id = ? AND resolved_at = ''`, c.RecordID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var f string
			if err := rows.Scan(&f); err != nil {
				rows.Close()
				return err
			}
			open[f] = true
		}
		rows.Close()
		want := map[string]string{}
		for k := range c.Fields {
			if f, ok := crm.LookupField(c.Entity, k); ok && f.Upstream && !open[k] {
				want[k] = ""
			}
		}
		cur, err := t.loadFields(c.Entity, c.RecordID, want)
		if err != nil {
			return err
		}
		mr.Send = map[string]string{}
		for k := range want {
			if cur[k] != server[k] {
				mr.Send[k] = cur[k]
			}
		}
		names := sortedKeys(mr.Send)
		if c.Parties != nil {
			names = append(names, fieldParties)
		}
		if c.Members != nil {
			names = append(names, fieldMembers)
		}
		js, _ := json.Marshal(names)
		if names == nil {
			js = []byte("[]")
		}
		state := "pending"
		if inflight != 0 {
			state = "inflight"
		}
		if _, err := t.exec(`DELETE FROM outbox WHERE record_id = ? AND seq <= ?`, c.RecordID, c.Seq); err != nil {
			return err
		}
		if _, err := t.exec(`INSERT INTO outbox (seq, record_id, entity, op, fields, journal_seq, created_at, state, attempts)
			VALUES (?, ?, ?, 'update', ?, ?, ?, ?, ?)`, c.Seq, c.RecordID, string(c.Entity), string(js), jseq, created, state, attempts); err != nil {
			return fmt.Errorf("rewrite outbox of %s: %w", c.RecordID, err)
		}
		return t.setETag(c.RecordID, etag)
	})
	return mr, err
}

// PullApply merges a record pulled from the server into the store (source
// "upstream", version etag, so its changes never go back into the outbox)
// and stores its ETag. A record deleted locally is left alone: the delete
// is on its way upstream. Under PolicyFail a conflict left open is
// returned as ErrConflict (wrapped) after the rest was applied.
func (s *Store) PullApply(ctx context.Context, e crm.Entity, id string, fields map[string]string, etag string, modifiedOn time.Time, policy Policy) (Result, error) {
	var res Result
	var applyErr error
	err := s.Update(ctx, func(t *Tx) error {
		var deleted bool
		err := t.queryRow(`SELECT deleted FROM record WHERE id = ?`, id).Scan(&deleted)
		if err == nil && deleted {
			res = Result{ID: id}
			return nil
		}
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		res, applyErr = t.mergeUpstream(e, id, fields, etag, modifiedOn, policy)
		if applyErr != nil && !errors.Is(applyErr, ErrConflict) {
			return applyErr
		}
		if res.ID != id {
			// The id is taken by another record: keep the new record
			// local-only rather than bind it to the wrong upstream row.
			return nil
		}
		return t.setETag(id, etag)
	})
	if err != nil {
		return res, fmt.Errorf("pull %s %s: %w", e, id, err)
	}
	return res, applyErr
}

// PullDelete deletes a record the server deleted (origin "upstream": not
// queued back) and drops its outbox entries. A record the store does not
// have is ignored. When the record has local changes the server never
// confirmed, the delete and the edit are a conflict, recorded on the field
// "_deleted": under PolicyIncoming the record is deleted; otherwise the
// local edit wins and the record stays, queued to be created upstream
// again with all its fields (under PolicyFail it stays but nothing is
// queued until the conflict is resolved). kept reports that the record
// stayed.
func (s *Store) PullDelete(ctx context.Context, e crm.Entity, id string, policy Policy) (kept bool, err error) {
	err = s.Update(ctx, func(t *Tx) error {
		kept = false
		var edits int
		var lastEdit string
		if err := t.queryRow(`SELECT COUNT(*), COALESCE(MAX(created_at), '') FROM outbox WHERE record_id = ? AND op != 'delete'`, id).
			Scan(&edits, &lastEdit); err != nil {
			return err
		}
		var deleted bool
		switch err := t.queryRow(`SELECT deleted FROM record WHERE id = ?`, id).Scan(&deleted); {
		case err == sql.ErrNoRows:
			return nil
		case err != nil:
			return err
		}
		winner := "incoming"
		if edits > 0 && !deleted {
			switch policy {
			case PolicyIncoming:
			case PolicyFail:
				winner = "none"
			default:
				winner = "local" // the local edit is newer than anything we synced
			}
			resolved := t.now
			if winner == "none" {
				resolved = ""
			}
			if _, err := t.exec(`INSERT INTO conflict (record_id, field, local_value, local_at, local_by, incoming_value, incoming_at, incoming_by, policy, winner, at, resolved_at)
				VALUES (?, ?, 'edited here', ?, 'local', 'deleted upstream', ?, 'upstream', ?, ?, ?, ?)`,
				id, fieldDeleted, lastEdit, t.now, string(policy), winner, t.now, resolved); err != nil {
				return fmt.Errorf("record conflict: %w", err)
			}
		}
		if _, err := t.exec(`DELETE FROM outbox WHERE record_id = ?`, id); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM upstream WHERE record_id = ?`, id); err != nil {
			return err
		}
		if winner == "incoming" {
			if err := t.Delete(id, "upstream"); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("delete %s %s: %w", e, id, err)
			}
			return nil
		}
		kept = true
		// The row is gone upstream: what the server held is no base any
		// more.
		if _, err := t.exec(`DELETE FROM provenance WHERE kh = ? AND kind = 'upstream' AND key = ?`, keyHash("upstream", id), id); err != nil {
			return err
		}
		if winner == "local" {
			return t.queueRecreate(e, id)
		}
		return nil
	})
	return kept, err
}

// queueRecreate queues record id to be created upstream with every
// upstream field (and its parties).
func (t *Tx) queueRecreate(e crm.Entity, id string) error {
	var names []string
	for _, f := range crm.Fields(e) {
		if f.Upstream {
			names = append(names, f.Name)
		}
	}
	if e.IsActivity() {
		names = append(names, fieldParties)
	}
	if e == crm.List {
		names = append(names, fieldMembers)
	}
	js, _ := json.Marshal(names)
	_, err := t.exec(`INSERT INTO outbox (record_id, entity, op, fields, journal_seq, created_at)
		VALUES (?, ?, 'create', ?, (SELECT COALESCE(MAX(seq), 0) FROM journal), ?)`, id, string(e), string(js), t.now)
	if err != nil {
		return fmt.Errorf("queue %s again: %w", id, err)
	}
	return nil
}

// PullState returns where the last pull of an entity set ended: its delta
// link, or the newest modifiedon seen and the rows ("id etag") seen with
// exactly that time.
func (s *Store) PullState(ctx context.Context, entitySet string) (deltaLink string, last time.Time, seen []string, err error) {
	var l, js string
	err = s.db.QueryRowContext(ctx, `SELECT deltalink, last, seen FROM pullstate WHERE entityset = ?`, entitySet).Scan(&deltaLink, &l, &js)
	if err == sql.ErrNoRows {
		return "", time.Time{}, nil, nil
	}
	if err != nil {
		return "", time.Time{}, nil, fmt.Errorf("pull state of %s: %w", entitySet, err)
	}
	if l != "" {
		last, _ = time.Parse(time.RFC3339Nano, l)
	}
	if js != "" {
		if err := json.Unmarshal([]byte(js), &seen); err != nil {
			return "", time.Time{}, nil, fmt.Errorf("pull state of %s: seen rows: %w", entitySet, err)
		}
	}
	return deltaLink, last, seen, nil
}

// SavePullState records where a pull of an entity set ended.
func (s *Store) SavePullState(ctx context.Context, entitySet, deltaLink string, last time.Time, seen []string) error {
	js := ""
	if len(seen) > 0 {
		b, _ := json.Marshal(seen)
		js = string(b)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO pullstate (entityset, deltalink, last, seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (entityset) DO UPDATE SET deltalink = excluded.deltalink, last = excluded.last, seen = excluded.seen`,
		entitySet, deltaLink, fmtTime(last), js)
	if err != nil {
		return fmt.Errorf("save pull state of %s: %w", entitySet, err)
	}
	return nil
}

// CacheGet returns what was kept under key by CachePut.
func (s *Store) CacheGet(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM upstreamcache WHERE key = ?`, key).Scan(&v)
	if err == sql.ErrNoRows {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("upstream cache %s: %w", key, err)
	}
	return v, true, nil
}

// CachePut keeps value under key: what push learned about the upstream
// server (the calling user, column limits).
func (s *Store) CachePut(ctx context.Context, key, value string) error {
	return s.Update(ctx, func(t *Tx) error {
		_, err := t.exec(`INSERT INTO upstreamcache (key, value, at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, at = excluded.at`, key, value, t.now)
		return err
	})
}

// UpstreamIDs returns the ids of the live records of entity e that are
// known to exist upstream (a confirmed push or a pull stored their ETag),
// sorted.
func (s *Store) UpstreamIDs(ctx context.Context, e crm.Entity) ([]string, error) {
	ids, err := scanIDs(s.db.QueryContext(ctx, `SELECT u.record_id FROM upstream u JOIN record r ON r.id = u.record_id
		WHERE r.entity = ? AND r.deleted = 0 ORDER BY u.record_id`, string(e)))
	if err != nil {
		return nil, fmt.Errorf("records of %s known upstream: %w", e, err)
	}
	return ids, nil
}

// ETag returns the last ETag stored for record id ("" when none).
func (s *Store) ETag(ctx context.Context, id string) (string, error) {
	var etag string
	err := s.db.QueryRowContext(ctx, `SELECT etag FROM upstream WHERE record_id = ?`, id).Scan(&etag)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return etag, err
}

// EntityOf returns the entity of record id, or "" when the store has no
// such record.
func (s *Store) EntityOf(ctx context.Context, id string) (crm.Entity, error) {
	var e string
	err := s.db.QueryRowContext(ctx, `SELECT entity FROM record WHERE id = ?`, id).Scan(&e)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return crm.Entity(e), err
}
