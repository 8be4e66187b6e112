package crmstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Outbox operations, as the outbox table stores them.
const (
	OutboxCreate = "create"
	OutboxUpdate = "update"
	OutboxDelete = "delete"
)

// notBeforeLayout is the fixed-width UTC time format of outbox.not_before,
// so that SQL compares it as text (an empty value means no wait).
const notBeforeLayout = "2006-01-02T15:04:05.000000000Z"

// OutboxChange is one record's outbox entries folded into one change, as
// push sends it (bridge/upstream.Change has the same shape).
type OutboxChange struct {
	Seq      int64             // highest outbox seq folded in
	RecordID string            // lower-case GUID, also the upstream id
	Entity   Entity            // record type
	Op       string            // OutboxCreate, OutboxUpdate or OutboxDelete
	Fields   map[string]string // current values of the changed upstream fields (nil for a delete)
	Parties  []Party           // activities: the current parties when they changed (nil = unchanged)
	ETag     string            // last ETag seen for the record ("" = none)
	Attempts int               // failed attempts so far
	Unknown  bool              // an entry is in flight: its outcome is unknown
}

// OutboxPending returns up to limit changes ready to go upstream, one per
// record, in journal order of each record's oldest entry. A record whose
// oldest entry is dead or waiting for its backoff time is skipped with all
// its later entries. The op is delete when the last entry deletes the
// record, create when the record was never confirmed upstream, else
// update; Fields hold the record's current values of every changed field
// that is a Dataverse attribute (Field.Upstream), and Parties the current
// party list when "_parties" changed. Entries that change no upstream
// field of a confirmed record are dropped here: there is nothing to send.
func (s *Store) OutboxPending(ctx context.Context, limit int) ([]OutboxChange, error) {
	if limit <= 0 {
		return nil, nil
	}
	tx, err := s.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	now := s.now().UTC().Format(notBeforeLayout)
	var out []OutboxChange
	var after int64
	dropped := false
	for len(out) < limit {
		type head struct {
			id, entity string
			seq        int64
		}
		rows, err := tx.query(`SELECT o.record_id, o.entity, o.seq FROM outbox o
			WHERE o.seq > ? AND o.state != 'dead' AND o.not_before <= ?
			AND o.seq = (SELECT MIN(seq) FROM outbox WHERE record_id = o.record_id)
			ORDER BY o.seq LIMIT ?`, after, now, limit-len(out))
		if err != nil {
			return nil, fmt.Errorf("outbox heads: %w", err)
		}
		var heads []head
		for rows.Next() {
			var h head
			if err := rows.Scan(&h.id, &h.entity, &h.seq); err != nil {
				rows.Close()
				return nil, err
			}
			heads = append(heads, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(heads) == 0 {
			break
		}
		for _, h := range heads {
			after = h.seq
			c, keep, err := tx.coalesce(h.id, Entity(h.entity))
			if err != nil {
				return nil, err
			}
			if keep {
				out = append(out, c)
			} else {
				dropped = true
			}
		}
	}
	if dropped {
		if err := tx.Commit(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// coalesce folds every outbox entry of record id into one change. keep is
// false (and the entries are gone) when there is nothing to send.
func (t *Tx) coalesce(id string, e Entity) (c OutboxChange, keep bool, err error) {
	c = OutboxChange{RecordID: id, Entity: e}
	rows, err := t.query(`SELECT seq, op, fields, state, attempts FROM outbox WHERE record_id = ? ORDER BY seq`, id)
	if err != nil {
		return c, false, fmt.Errorf("outbox of %s: %w", id, err)
	}
	names := map[string]bool{}
	last := ""
	for rows.Next() {
		var seq int64
		var op, fields, state string
		var attempts int
		if err := rows.Scan(&seq, &op, &fields, &state, &attempts); err != nil {
			rows.Close()
			return c, false, err
		}
		var fs []string
		if err := json.Unmarshal([]byte(fields), &fs); err != nil {
			rows.Close()
			return c, false, fmt.Errorf("outbox entry %d: fields: %w", seq, err)
		}
		for _, f := range fs {
			names[f] = true
		}
		c.Seq, last = seq, op
		c.Unknown = c.Unknown || state == "inflight"
		c.Attempts = max(c.Attempts, attempts)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, false, err
	}
	confirmed := true
	err = t.queryRow(`SELECT etag FROM upstream WHERE record_id = ?`, id).Scan(&c.ETag)
	switch {
	case err == sql.ErrNoRows:
		confirmed = false
	case err != nil:
		return c, false, fmt.Errorf("upstream etag of %s: %w", id, err)
	}
	switch {
	case last == OutboxDelete:
		c.Op = OutboxDelete
		return c, true, nil
	case !confirmed:
		c.Op = OutboxCreate
	default:
		c.Op = OutboxUpdate
	}
	want := map[string]string{}
	for n := range names {
		if f, ok := LookupField(e, n); ok && f.Upstream {
			want[n] = ""
		}
	}
	if names[fieldParties] && e.IsActivity() {
		want[fieldParties] = ""
	}
	cur, err := t.loadFields(e, id, want)
	if err != nil {
		return c, false, err
	}
	c.Fields = map[string]string{}
	for n := range want {
		if n != fieldParties {
			c.Fields[n] = cur[n]
		}
	}
	if _, ok := want[fieldParties]; ok {
		ps, err := t.loadParties(`SELECT role, address, name, status, COALESCE(contact_id, '') FROM activityparty WHERE activity_id = ? ORDER BY ord`, id)
		if err != nil {
			return c, false, err
		}
		if ps == nil {
			ps = []Party{} // changed to none: send the empty list
		}
		c.Parties = ps
	}
	if c.Op == OutboxUpdate && len(c.Fields) == 0 && c.Parties == nil {
		if _, err := t.exec(`DELETE FROM outbox WHERE record_id = ? AND seq <= ?`, id, c.Seq); err != nil {
			return c, false, fmt.Errorf("drop local-only changes of %s: %w", id, err)
		}
		return c, false, nil
	}
	return c, true, nil
}

// OutboxInFlight marks each record's entries up to its seq as sent with an
// unknown outcome, before the request goes out: after a crash the next push
// reads the record back first. Only OutboxDone and OutboxDead clear the
// mark.
func (s *Store) OutboxInFlight(ctx context.Context, seqs map[string]int64) error {
	return s.Update(ctx, func(t *Tx) error {
		for id, seq := range seqs {
			if _, err := t.exec(`UPDATE outbox SET state = 'inflight' WHERE record_id = ? AND seq <= ? AND state = 'pending'`, id, seq); err != nil {
				return fmt.Errorf("mark %s in flight: %w", id, err)
			}
		}
		return nil
	})
}

// OutboxDone removes record id's entries up to seq and stores the ETag the
// server returned, in one transaction. For a create or update it also
// records the values sent as the upstream merge base, so that a later
// read-back or pull is merged three-way against what the server had.
func (s *Store) OutboxDone(ctx context.Context, id string, seq int64, etag string) error {
	return s.Update(ctx, func(t *Tx) error {
		var ent, lastOp string
		n := 0
		names := map[string]string{}
		rows, err := t.query(`SELECT entity, op, fields FROM outbox WHERE record_id = ? AND seq <= ? ORDER BY seq`, id, seq)
		if err != nil {
			return err
		}
		for rows.Next() {
			var fields string
			if err := rows.Scan(&ent, &lastOp, &fields); err != nil {
				rows.Close()
				return err
			}
			n++
			var fs []string
			_ = json.Unmarshal([]byte(fields), &fs)
			for _, f := range fs {
				names[f] = ""
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no outbox entry of %s up to %d", id, seq)
		}
		if _, err := t.exec(`DELETE FROM outbox WHERE record_id = ? AND seq <= ?`, id, seq); err != nil {
			return fmt.Errorf("remove confirmed entries: %w", err)
		}
		if err := t.setETag(id, etag); err != nil {
			return err
		}
		if lastOp == OutboxDelete {
			return nil
		}
		e := Entity(ent)
		for n := range names {
			if f, ok := LookupField(e, n); (!ok || !f.Upstream) && !(n == fieldParties && e.IsActivity()) {
				delete(names, n)
			}
		}
		return t.setUpstreamBase(e, id, etag, names)
	})
}

// setETag stores the last ETag seen for a record (the record is then known
// to exist upstream).
func (t *Tx) setETag(id, etag string) error {
	if _, err := t.exec(`INSERT INTO upstream (record_id, etag, synced_at) VALUES (?, ?, ?)
		ON CONFLICT (record_id) DO UPDATE SET etag = excluded.etag, synced_at = excluded.synced_at`, id, etag, t.now); err != nil {
		return fmt.Errorf("store etag of %s: %w", id, err)
	}
	return nil
}

// setUpstreamBase records the current values of fields as what the server
// holds (provenance "upstream", version etag).
func (t *Tx) setUpstreamBase(e Entity, id, etag string, fields map[string]string) error {
	version := etag
	if version == "" {
		version = "sent " + t.now // never equal to a real ETag
	}
	var provID int64
	if err := t.queryRow(`INSERT INTO provenance (record_id, kind, key, version, origin, seen_at) VALUES (?, 'upstream', ?, ?, 'upstream', ?)
		ON CONFLICT (kind, key) DO UPDATE SET record_id = excluded.record_id, version = excluded.version, seen_at = excluded.seen_at
		RETURNING id`, id, id, version, t.now).Scan(&provID); err != nil {
		return fmt.Errorf("upstream provenance of %s: %w", id, err)
	}
	if len(fields) == 0 {
		return nil
	}
	cur, err := t.loadFields(e, id, fields)
	if err != nil {
		return err
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
	var provID int64
	err := t.queryRow(`SELECT id FROM provenance WHERE kind = 'upstream' AND key = ?`, id).Scan(&provID)
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		return fmt.Errorf("upstream provenance of %s: %w", id, err)
	}
	rows := make([][]any, 0, len(fields))
	for _, n := range sortedKeys(fields) {
		rows = append(rows, []any{provID, n, ""})
	}
	if err := t.execRows(`INSERT INTO base (provenance_id, field, value)`, `ON CONFLICT (provenance_id, field) DO NOTHING`, rows); err != nil {
		return fmt.Errorf("upstream merge base of %s: %w", id, err)
	}
	return nil
}

// OutboxRetry records a failed attempt of record id's entries up to seq:
// one more attempt, not before at, and the error text. An in-flight mark
// stays (the outcome may still be unknown).
func (s *Store) OutboxRetry(ctx context.Context, id string, seq int64, at time.Time, msg string) error {
	return s.Update(ctx, func(t *Tx) error {
		r, err := t.exec(`UPDATE outbox SET attempts = (SELECT MAX(attempts) FROM outbox WHERE record_id = ?1 AND seq <= ?2) + 1,
			not_before = ?3, last_error = ?4 WHERE record_id = ?1 AND seq <= ?2`, id, seq, at.UTC().Format(notBeforeLayout), msg)
		if err != nil {
			return fmt.Errorf("schedule retry of %s: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return fmt.Errorf("no outbox entry of %s up to %d", id, seq)
		}
		return nil
	})
}

// OutboxDead moves record id's entries up to seq to the dead-letter state
// with the server's message; later entries of the record wait behind them.
func (s *Store) OutboxDead(ctx context.Context, id string, seq int64, msg string) error {
	return s.Update(ctx, func(t *Tx) error {
		r, err := t.exec(`UPDATE outbox SET state = 'dead', last_error = ? WHERE record_id = ? AND seq <= ?`, msg, id, seq)
		if err != nil {
			return fmt.Errorf("dead-letter %s: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return fmt.Errorf("no outbox entry of %s up to %d", id, seq)
		}
		return nil
	})
}

// OutboxRetryDead makes every dead entry pending again with no attempts
// (push --retry-dead) and returns how many there were.
func (s *Store) OutboxRetryDead(ctx context.Context) (int, error) {
	var n int64
	err := s.Update(ctx, func(t *Tx) error {
		r, err := t.exec(`UPDATE outbox SET state = 'pending', attempts = 0, not_before = '', last_error = '' WHERE state = 'dead'`)
		if err != nil {
			return fmt.Errorf("retry dead entries: %w", err)
		}
		n, _ = r.RowsAffected()
		return nil
	})
	return int(n), err
}

// DeadLetter is one dead outbox entry.
type DeadLetter struct {
	Seq      int64
	RecordID string
	Entity   Entity
	Op       string
	Error    string
}

// OutboxDeadLetters returns the dead entries in journal order.
func (s *Store) OutboxDeadLetters(ctx context.Context) ([]DeadLetter, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, record_id, entity, op, last_error FROM outbox WHERE state = 'dead' ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var e string
		if err := rows.Scan(&d.Seq, &d.RecordID, &e, &d.Op, &d.Error); err != nil {
			return nil, err
		}
		d.Entity = Entity(e)
		out = append(out, d)
	}
	return out, rows.Err()
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
func (s *Store) OutboxMerge(ctx context.Context, c OutboxChange, server map[string]string, etag string, policy Policy) (MergeResult, error) {
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
		theirs := map[string]string{}
		for k, v := range server {
			if f, ok := LookupField(c.Entity, k); ok && f.Upstream {
				theirs[k] = v
			}
		}
		if err := t.fillUpstreamBase(c.RecordID, theirs); err != nil {
			return err
		}
		res, err := t.Apply(&Incoming{
			Source: SourceRef{Kind: "upstream", Key: c.RecordID, Version: etag},
			Record: Record{ID: c.RecordID, Entity: c.Entity, Fields: theirs},
			Origin: "upstream",
		}, policy)
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
			if f, ok := LookupField(c.Entity, k); ok && f.Upstream && !open[k] {
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
func (s *Store) PullApply(ctx context.Context, e Entity, id string, fields map[string]string, etag string, modifiedOn time.Time, policy Policy) (Result, error) {
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
		theirs := map[string]string{}
		for k, v := range fields {
			if f, ok := LookupField(e, k); ok && f.Upstream {
				theirs[k] = v
			}
		}
		if err := t.fillUpstreamBase(id, theirs); err != nil {
			return err
		}
		res, applyErr = t.Apply(&Incoming{
			Source:     SourceRef{Kind: "upstream", Key: id, Version: etag},
			Record:     Record{ID: id, Entity: e, Fields: theirs},
			ModifiedAt: modifiedOn,
			Origin:     "upstream",
		}, policy)
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
// have is ignored.
func (s *Store) PullDelete(ctx context.Context, e Entity, id string) error {
	return s.Update(ctx, func(t *Tx) error {
		if err := t.Delete(id, "upstream"); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return fmt.Errorf("delete %s %s: %w", e, id, err)
		}
		if _, err := t.exec(`DELETE FROM outbox WHERE record_id = ?`, id); err != nil {
			return err
		}
		_, err := t.exec(`DELETE FROM upstream WHERE record_id = ?`, id)
		return err
	})
}

// PullState returns where the last pull of an entity set ended: its delta
// link, or the newest modifiedon seen.
func (s *Store) PullState(ctx context.Context, entitySet string) (deltaLink string, last time.Time, err error) {
	var l string
	err = s.db.QueryRowContext(ctx, `SELECT deltalink, last FROM pullstate WHERE entityset = ?`, entitySet).Scan(&deltaLink, &l)
	if err == sql.ErrNoRows {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("pull state of %s: %w", entitySet, err)
	}
	if l != "" {
		last, _ = time.Parse(time.RFC3339Nano, l)
	}
	return deltaLink, last, nil
}

// SavePullState records where a pull of an entity set ended.
func (s *Store) SavePullState(ctx context.Context, entitySet, deltaLink string, last time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO pullstate (entityset, deltalink, last) VALUES (?, ?, ?)
		ON CONFLICT (entityset) DO UPDATE SET deltalink = excluded.deltalink, last = excluded.last`, entitySet, deltaLink, fmtTime(last))
	if err != nil {
		return fmt.Errorf("save pull state of %s: %w", entitySet, err)
	}
	return nil
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
func (s *Store) EntityOf(ctx context.Context, id string) (Entity, error) {
	var e string
	err := s.db.QueryRowContext(ctx, `SELECT entity FROM record WHERE id = ?`, id).Scan(&e)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return Entity(e), err
}

// Update runs fn in one write transaction: committed when fn returns nil,
// rolled back otherwise.
func (s *Store) Update(ctx context.Context, fn func(t *Tx) error) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
