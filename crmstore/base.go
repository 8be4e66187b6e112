package crmstore

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
)

// baseAll is the merge base row that holds, as one canonical JSON object
// ({"field": value, ...}, keys sorted, values digested as every base value
// is), every field a source gave when it first gave a record. A source's
// first version writes this one row instead of one row per field: a new
// record costs one b-tree insert for its merge base, not one per field.
// Rows of single fields, written by later versions (and by push and pull
// for the upstream source), override the field's value in it.
const baseAll = "*"

// encodeBaseAll returns the baseAll value of the merge base m.
func encodeBaseAll(m map[string]string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m) // a map of strings always encodes; keys come out sorted
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// loadBase reads the merge base of provenance provID: the fields of its
// baseAll row, overridden by its rows of single fields.
func (t *Tx) loadBase(provID int64) (map[string]string, error) {
	rows, err := t.query(`SELECT field, value FROM base WHERE provenance_id = ?`, provID)
	if err != nil {
		return nil, fmt.Errorf("load base: %w", err)
	}
	defer rows.Close()
	base := map[string]string{}
	var all string
	hasAll := false
	for rows.Next() {
		var f, v string
		if err := rows.Scan(&f, &v); err != nil {
			return nil, fmt.Errorf("load base: %w", err)
		}
		if f == baseAll {
			all, hasAll = v, true
			continue
		}
		base[f] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load base: %w", err)
	}
	if hasAll {
		var m map[string]string
		if err := json.Unmarshal([]byte(all), &m); err != nil {
			return nil, fmt.Errorf("load base of provenance %d: %w", provID, err)
		}
		for f, v := range m {
			if _, ok := base[f]; !ok {
				base[f] = v
			}
		}
	}
	return base, nil
}

// baseValue returns the merge base of field f under provenance provID; ok
// is false when that source has none for it.
func (t *Tx) baseValue(provID int64, f string) (v string, ok bool, err error) {
	err = t.queryRow(`SELECT value FROM base WHERE provenance_id = ? AND field = ?`, provID, f).Scan(&v)
	switch {
	case err == nil:
		return v, true, nil
	case err != sql.ErrNoRows:
		return "", false, fmt.Errorf("base of %s: %w", f, err)
	}
	var all string
	err = t.queryRow(`SELECT value FROM base WHERE provenance_id = ? AND field = ?`, provID, baseAll).Scan(&all)
	switch {
	case err == sql.ErrNoRows:
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("base of %s: %w", f, err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(all), &m); err != nil {
		return "", false, fmt.Errorf("base of provenance %d: %w", provID, err)
	}
	v, ok = m[f]
	return v, ok, nil
}
