package crmstore

import (
	"encoding/json"
	"fmt"
	"strings"

	"crmbridge/crm"
)

// fieldExtras is the pseudo-field of a record's extra values.
const fieldExtras = "_extras"

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
