package crmstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"crmbridge/crm"
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
	Entity   crm.Entity        // record type
	Op       string            // OutboxCreate, OutboxUpdate or OutboxDelete
	Fields   map[string]string // current values of the changed upstream fields (nil for a delete)
	Parties  []crm.Party       // activities: the current parties when they changed (nil = unchanged)
	Members  []crm.Party       // lists: the current members when they changed (nil = unchanged)
	// MemberBase is, with Members, the contact ids the server held when
	// the list was last synced (nil = not known: make the server's
	// members exactly Members).
	MemberBase []string
	ETag       string // last ETag seen for the record ("" = none)
	Attempts   int    // failed attempts so far
	Unknown    bool   // an entry is in flight: its outcome is unknown
}

// OutboxPending returns up to limit changes ready to go upstream, one per
// record, in journal order of each record's oldest entry. A record whose
// oldest entry is dead or waiting for its backoff time is skipped with all
// its later entries. The op is delete when the last entry deletes the
// record, create when the record was never confirmed upstream, else
// update; Fields hold the record's current values of every changed field
// that is a Dataverse attribute (Field.Upstream), and Parties the current
// party list when "_parties" changed (Members the list's members when
// "_members" changed). Entries that change no upstream
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
			c, keep, err := tx.coalesce(h.id, crm.Entity(h.entity))
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
func (t *Tx) coalesce(id string, e crm.Entity) (c OutboxChange, keep bool, err error) {
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
	var set map[string]string // with outboxAll: the record's values, read once
	if names[outboxAll] {
		delete(names, outboxAll)
		if set, err = t.valuesSet(id, e); err != nil {
			return c, false, err
		}
		for n := range set {
			names[n] = true
		}
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
		if f, ok := crm.LookupField(e, n); ok && f.Upstream {
			want[n] = ""
		}
	}
	if names[fieldParties] && e.IsActivity() {
		want[fieldParties] = ""
	}
	load := want
	if set != nil {
		load = map[string]string{}
		for n := range want {
			if _, ok := set[n]; !ok {
				load[n] = "" // named by a later entry, and empty now
			}
		}
	}
	cur, err := t.loadFields(e, id, load)
	if err != nil {
		return c, false, err
	}
	for n, v := range set {
		cur[n] = v
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
			ps = []crm.Party{} // changed to none: send the empty list
		}
		c.Parties = ps
	}
	if names[fieldMembers] && e == crm.List {
		ms, err := t.loadParties(`SELECT 0, address, name, '', COALESCE(contact_id, '') FROM listmember WHERE list_id = ? ORDER BY ord`, id)
		if err != nil {
			return c, false, err
		}
		if ms == nil {
			ms = []crm.Party{} // changed to none: the server's members go
		}
		c.Members = ms
		if base, ok, err := t.memberBase(id); err != nil {
			return c, false, err
		} else if ok {
			c.MemberBase = base
		}
	}
	if c.Op == OutboxUpdate && len(c.Fields) == 0 && c.Parties == nil && c.Members == nil {
		if _, err := t.exec(`DELETE FROM outbox WHERE record_id = ? AND seq <= ?`, id, c.Seq); err != nil {
			return c, false, fmt.Errorf("drop local-only changes of %s: %w", id, err)
		}
		return c, false, nil
	}
	return c, true, nil
}

// outboxAll, as the one name of an outbox entry's fields, stands for every
// field the record has a value for (a new record's entry: the list of its
// fields would repeat, in every entry, what the record holds).
const outboxAll = "*"

// valuesSet returns every field of record id that has a value, with its
// value, the child collections (parties, members) included.
func (t *Tx) valuesSet(id string, e crm.Entity) (map[string]string, error) {
	want := map[string]string{}
	for _, f := range crm.Fields(e) {
		want[f.Name] = ""
	}
	if e.IsActivity() {
		want[fieldParties] = ""
	}
	if e == crm.List {
		want[fieldMembers] = ""
	}
	cur, err := t.loadFields(e, id, want)
	if err != nil {
		return nil, err
	}
	for n, v := range cur {
		if v == "" {
			delete(cur, n)
		}
	}
	return cur, nil
}

// collectionsSet returns the child collections (parties of an activity,
// members of a list) record id has, without reading its fields.
func (t *Tx) collectionsSet(id string, e crm.Entity) ([]string, error) {
	var q, name string
	switch {
	case e.IsActivity():
		q, name = `SELECT EXISTS (SELECT 1 FROM activityparty WHERE activity_id = ?)`, fieldParties
	case e == crm.List:
		q, name = `SELECT EXISTS (SELECT 1 FROM listmember WHERE list_id = ?)`, fieldMembers
	default:
		return nil, nil
	}
	var has bool
	if err := t.queryRow(q, id).Scan(&has); err != nil {
		return nil, fmt.Errorf("%s of %s: %w", name, id, err)
	}
	if !has {
		return nil, nil
	}
	return []string{name}, nil
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
	return s.OutboxDoneSent(ctx, id, seq, etag, nil)
}

// OutboxDoneSent is OutboxDone when push knows the values the server now
// holds: sent (the values of the request's body, which may differ from the
// store's: a value cut to the column's length, a date Dataverse cannot hold
// left out; for a list, "_members" holds the JSON array of the member
// contact ids the server was given, its member merge base). They become the upstream merge base, so that a later pull
// reading the cut value back, or null for a field never sent, is not taken
// for a change made upstream. A changed field missing from sent keeps its
// base. nil sent means the store's current values were sent.
func (s *Store) OutboxDoneSent(ctx context.Context, id string, seq int64, etag string, sent map[string]string) error {
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
		if _, ok := names[outboxAll]; ok && lastOp != OutboxDelete {
			delete(names, outboxAll)
			if sent == nil {
				set, err := t.valuesSet(id, crm.Entity(ent))
				if err != nil {
					return err
				}
				for n := range set {
					names[n] = ""
				}
			} else {
				// Only the fields sent become the base (below), and
				// each of them is named by sent itself: of the record's
				// fields, only its child collections matter here.
				set, err := t.collectionsSet(id, crm.Entity(ent))
				if err != nil {
					return err
				}
				for _, n := range set {
					names[n] = ""
				}
			}
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
		e := crm.Entity(ent)
		if _, ok := names[fieldMembers]; ok && e == crm.List {
			// The members the server now holds from this change: the
			// member merge base.
			var ids []string
			if js, ok := sent[fieldMembers]; ok {
				if err := json.Unmarshal([]byte(js), &ids); err != nil {
					return fmt.Errorf("members sent for %s: %w", id, err)
				}
			} else if sent == nil {
				cs, err := t.memberContacts(id)
				if err != nil {
					return err
				}
				ids = sortedSet(cs)
			}
			if ids != nil || sent == nil {
				if err := t.setMemberBase(id, etag, ids); err != nil {
					return err
				}
			}
		}
		for n := range sent {
			// Sent though unchanged here (an activity's description
			// carrying its long subject): the server holds it now.
			if f, ok := crm.LookupField(e, n); ok && f.Upstream {
				names[n] = ""
			}
		}
		for n := range names {
			if f, ok := crm.LookupField(e, n); (!ok || !f.Upstream) && !(n == fieldParties && e.IsActivity()) {
				delete(names, n)
				continue
			}
			if sent != nil && n != fieldParties {
				if _, ok := sent[n]; !ok {
					delete(names, n) // not sent: the server's value is still the base
				}
			}
		}
		return t.setUpstreamBase(e, id, etag, names, sent)
	})
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

// Dependency states OutboxDependency returns.
const (
	DepConfirmed = "confirmed" // the server confirmed the record: a bind to it holds
	DepPending   = "pending"   // its create or changes wait in the outbox
	DepDead      = "dead"      // its entries are dead: it will not reach the server
	DepDeleted   = "deleted"   // deleted here (its delete may be on its way)
	DepLocal     = "local"     // a record never queued for the server
	DepUnknown   = "unknown"   // not a record of this store (may exist upstream)
)

// OutboxDependency tells whether record id, which another record binds
// to, is on the server: one of the Dep* states, and for DepDead the
// server's message.
func (s *Store) OutboxDependency(ctx context.Context, id string) (state, msg string, err error) {
	var deleted bool
	err = s.db.QueryRowContext(ctx, `SELECT deleted FROM record WHERE id = ?`, id).Scan(&deleted)
	if err == sql.ErrNoRows {
		return DepUnknown, "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("dependency %s: %w", id, err)
	}
	if deleted {
		return DepDeleted, "", nil
	}
	var dead, queued int
	var last string
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(state = 'dead'), 0), COUNT(*), COALESCE(MAX(CASE WHEN state = 'dead' THEN last_error END), '')
		FROM outbox WHERE record_id = ?`, id).Scan(&dead, &queued, &last); err != nil {
		return "", "", fmt.Errorf("dependency %s: %w", id, err)
	}
	var etag string
	confirmed := true
	switch err := s.db.QueryRowContext(ctx, `SELECT etag FROM upstream WHERE record_id = ?`, id).Scan(&etag); {
	case err == sql.ErrNoRows:
		confirmed = false
	case err != nil:
		return "", "", fmt.Errorf("dependency %s: %w", id, err)
	}
	switch {
	case confirmed:
		return DepConfirmed, "", nil // later changes do not undo the row's existence
	case dead > 0:
		return DepDead, last, nil
	case queued > 0:
		return DepPending, "", nil
	}
	return DepLocal, "", nil
}

// OutboxDefer makes record id's entries up to seq wait until at without
// counting an attempt: the record binds to one the server has not
// confirmed yet.
func (s *Store) OutboxDefer(ctx context.Context, id string, seq int64, at time.Time, msg string) error {
	return s.Update(ctx, func(t *Tx) error {
		_, err := t.exec(`UPDATE outbox SET not_before = ?, last_error = ? WHERE record_id = ? AND seq <= ?`,
			at.UTC().Format(notBeforeLayout), msg, id, seq)
		if err != nil {
			return fmt.Errorf("defer %s: %w", id, err)
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
	Entity   crm.Entity
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
		d.Entity = crm.Entity(e)
		out = append(out, d)
	}
	return out, rows.Err()
}
