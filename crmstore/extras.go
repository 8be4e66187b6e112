package crmstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"crmbridge/crm"
)

// fieldExtras is the pseudo-field of a record's extra values.
const fieldExtras = "_extras"

// fieldOnce is a merge-base row of a source (not a field): the extras of
// once-only names (crm.Incoming.Once) this source gave that the record
// still holds, as a JSON list of onceHash, so that its next version
// replaces them (replaceOnce).
const fieldOnce = "_extras_once"

// canonExtras is the canonical form of extra values, compared by the
// merge: JSON in order.
func canonExtras(xs []crm.Extra) string {
	if len(xs) == 0 {
		return ""
	}
	b, _ := json.Marshal(xs)
	return string(b)
}

func parseExtras(s string) []crm.Extra {
	var xs []crm.Extra
	if s != "" {
		_ = json.Unmarshal([]byte(s), &xs)
	}
	return xs
}

// extraKey identifies an extra value for the union: the name
// case-insensitively, the value and the parameters.
func extraKey(x crm.Extra) string {
	p, _ := json.Marshal(x.Params)
	return strings.ToUpper(x.Name) + "\x00" + x.Value + "\x00" + string(p)
}

// unionExtras returns ours followed by the values of theirs not among
// them. Extras merge by union: a source adds the values it gives, and a
// value another source (or an earlier version) gave stays, because a
// value without a column is never lost for want of a place to put it.
func unionExtras(ours, theirs []crm.Extra) []crm.Extra {
	seen := make(map[string]bool, len(ours)+len(theirs))
	out := make([]crm.Extra, 0, len(ours)+len(theirs))
	for _, xs := range [][]crm.Extra{ours, theirs} {
		for _, x := range xs {
			if x.Name == "" {
				continue
			}
			if k := extraKey(x); !seen[k] {
				seen[k] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// onceHash identifies an extra value in a fieldOnce row: 16 hex digits of
// the SHA-256 of its extraKey.
func onceHash(x crm.Extra) string {
	h := sha256.Sum256([]byte(extraKey(x)))
	return hex.EncodeToString(h[:8])
}

// replaceOnce returns ours without the values this source gave earlier
// (prev, its fieldOnce row) whose name the incoming version gives again
// as a once-only name with another value, and the source's new fieldOnce
// row: what is left of prev, and the incoming values of once-only names.
// A value the incoming version gives again stays where it is. Values of
// other sources, and of names that may repeat, are not touched: extras of
// those merge by union.
func replaceOnce(ours, theirs []crm.Extra, once map[string]bool, prev string) ([]crm.Extra, string) {
	var prevHashes []string
	if prev != "" {
		_ = json.Unmarshal([]byte(prev), &prevHashes)
	}
	if len(once) == 0 && len(prevHashes) == 0 {
		return ours, prev
	}
	mine := make(map[string]bool, len(prevHashes))
	for _, h := range prevHashes {
		mine[h] = true
	}
	given := map[string]bool{} // once-only names the incoming version gives
	again := map[string]bool{} // hashes of the values it gives
	for _, x := range theirs {
		h := onceHash(x)
		again[h] = true
		if once[strings.ToUpper(x.Name)] {
			given[strings.ToUpper(x.Name)] = true
		}
	}
	kept := make([]crm.Extra, 0, len(ours))
	var row []string
	seen := map[string]bool{}
	for _, x := range ours {
		h := onceHash(x)
		if mine[h] && given[strings.ToUpper(x.Name)] && !again[h] {
			continue // replaced by this version's value
		}
		kept = append(kept, x)
		if mine[h] && !seen[h] {
			seen[h] = true
			row = append(row, h)
		}
	}
	for _, x := range theirs {
		if h := onceHash(x); once[strings.ToUpper(x.Name)] && !seen[h] {
			seen[h] = true
			row = append(row, h)
		}
	}
	if len(row) == 0 {
		return kept, ""
	}
	b, _ := json.Marshal(row)
	return kept, string(b)
}

// schedulerOnce returns the fieldOnce rows of every source of record id
// that gives iTIP versions (fromScheduler: iCalendar, PST, .msg), joined
// with own (the applying source's row), as one row.
func (t *Tx) schedulerOnce(id, own string) (string, error) {
	rows, err := t.query(`SELECT p.kind, b.value FROM base b JOIN provenance p ON p.id = b.provenance_id WHERE p.record_id = ? AND b.field = ?`, id, fieldOnce)
	if err != nil {
		return "", fmt.Errorf("load once-only extras: %w", err)
	}
	defer rows.Close()
	var all []string
	if own != "" {
		_ = json.Unmarshal([]byte(own), &all)
	}
	for rows.Next() {
		var kind, v string
		if err := rows.Scan(&kind, &v); err != nil {
			return "", fmt.Errorf("load once-only extras: %w", err)
		}
		var hs []string
		if fromScheduler(kind) && json.Unmarshal([]byte(v), &hs) == nil {
			all = append(all, hs...)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("load once-only extras: %w", err)
	}
	if len(all) == 0 {
		return "", nil
	}
	b, _ := json.Marshal(all)
	return string(b), nil
}

func (t *Tx) loadExtras(id string) ([]crm.Extra, error) {
	rows, err := t.query(`SELECT name, value, params FROM extra WHERE record_id = ? ORDER BY ord`, id)
	if err != nil {
		return nil, fmt.Errorf("load extras: %w", err)
	}
	defer rows.Close()
	var xs []crm.Extra
	for rows.Next() {
		var x crm.Extra
		var params string
		if err := rows.Scan(&x.Name, &x.Value, &params); err != nil {
			return nil, fmt.Errorf("load extras: %w", err)
		}
		if params != "" {
			_ = json.Unmarshal([]byte(params), &x.Params)
		}
		xs = append(xs, x)
	}
	return xs, rows.Err()
}

func (t *Tx) writeExtras(id string, xs []crm.Extra, existing bool) error {
	if existing {
		if _, err := t.exec(`DELETE FROM extra WHERE record_id = ?`, id); err != nil {
			return fmt.Errorf("clear extras: %w", err)
		}
	}
	// One statement per record, not per value (execRows): a PST mail
	// brings five or six extras.
	rows := make([][]any, 0, len(xs))
	for i, x := range xs {
		params := ""
		if len(x.Params) > 0 {
			b, _ := json.Marshal(x.Params)
			params = string(b)
		}
		rows = append(rows, []any{id, i, x.Name, x.Value, params})
	}
	if len(rows) == 0 {
		return nil
	}
	if err := t.execRows(`INSERT INTO extra (record_id, ord, name, value, params)`, ``, rows); err != nil {
		return fmt.Errorf("insert extras: %w", err)
	}
	return nil
}
