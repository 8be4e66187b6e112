package crmstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"crmbridge/crm"
)

// Conflict is one recorded conflict: a field changed both in the store and
// by a source.
type Conflict struct {
	ID            int64      `json:"id"`
	RecordID      string     `json:"record_id"`
	Entity        crm.Entity `json:"entity"`
	Field         string     `json:"field"`
	LocalValue    string     `json:"local_value"`
	LocalAt       time.Time  `json:"local_at"`
	LocalBy       string     `json:"local_by"`
	IncomingValue string     `json:"incoming_value"`
	IncomingAt    time.Time  `json:"incoming_at"`
	IncomingBy    string     `json:"incoming_by"`
	Policy        string     `json:"policy"`
	Winner        string     `json:"winner"` // local | incoming | none (open)
	At            time.Time  `json:"at"`
	Resolved      bool       `json:"resolved"`
}

// Conflicts lists conflicts, newest first; open ones only unless all.
func (s *Store) Conflicts(ctx context.Context, all bool) ([]Conflict, error) {
	q := `SELECT c.id, c.record_id, r.entity, c.field, c.local_value, c.local_at, c.local_by, c.incoming_value, c.incoming_at, c.incoming_by,
		c.policy, c.winner, c.at, c.resolved_at FROM conflict c JOIN record r ON r.id = c.record_id`
	if !all {
		q += ` WHERE c.resolved_at = ''`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY c.id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var c Conflict
		var ent, la, ia, at, res string
		if err := rows.Scan(&c.ID, &c.RecordID, &ent, &c.Field, &c.LocalValue, &la, &c.LocalBy, &c.IncomingValue, &ia, &c.IncomingBy,
			&c.Policy, &c.Winner, &at, &res); err != nil {
			return nil, err
		}
		c.Entity = crm.Entity(ent)
		c.LocalAt, _ = time.Parse(time.RFC3339Nano, la)
		c.IncomingAt, _ = time.Parse(time.RFC3339Nano, ia)
		c.At, _ = time.Parse(time.RFC3339Nano, at)
		c.Resolved = res != ""
		out = append(out, c)
	}
	return out, rows.Err()
}

// ResolveConflict settles conflict id: take "local" keeps (or restores)
// the store's value at the time of the conflict, "incoming" applies the
// source's value. The change is journaled and queued like a CLI edit.
func (t *Tx) ResolveConflict(id int64, take, origin string) error {
	if take != "local" && take != "incoming" {
		return fmt.Errorf("resolve: take local or incoming, not %q", take)
	}
	var recID, field, local, incoming string
	if err := t.queryRow(`SELECT record_id, field, local_value, incoming_value FROM conflict WHERE id = ?`, id).Scan(&recID, &field, &local, &incoming); err != nil {
		return fmt.Errorf("conflict %d: %w", id, ErrNotFound)
	}
	value := local
	if take == "incoming" {
		value = incoming
	}
	if field == fieldDeleted {
		// Deleted upstream, edited here: local brings it back upstream,
		// incoming deletes it here.
		var ent string
		if err := t.queryRow(`SELECT entity FROM record WHERE id = ?`, recID).Scan(&ent); err != nil {
			return fmt.Errorf("conflict %d: %w", id, err)
		}
		if take == "incoming" {
			if err := t.Delete(recID, "upstream"); err != nil {
				return err
			}
			if _, err := t.exec(`DELETE FROM outbox WHERE record_id = ?`, recID); err != nil {
				return err
			}
		} else {
			if _, err := t.exec(`DELETE FROM outbox WHERE record_id = ?`, recID); err != nil {
				return err
			}
			if err := t.queueRecreate(crm.Entity(ent), recID); err != nil {
				return err
			}
		}
	} else if !strings.HasPrefix(field, "_") {
		if _, err := t.Set(recID, map[string]string{field: value}, origin); err != nil {
			return err
		}
	} else if take == "incoming" {
		return fmt.Errorf("conflict %d is on %s: re-import the source with --conflict incoming to take it", id, strings.TrimPrefix(field, "_"))
	}
	_, err := t.exec(`UPDATE conflict SET winner = ?, resolved_at = ? WHERE id = ?`, take, t.now, id)
	return err
}
