package crmstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"unicode/utf8"
)

// baseAll is the merge base row that holds, as one canonical JSON object
// ({"field": value, ...}, keys sorted, values digested as every base value
// is), every field a source gave when it first gave a record. A source's
// first version writes this one row instead of one row per field: a new
// record costs one b-tree insert for its merge base, not one per field.
// Rows of single fields, written by later versions (and by push and pull
// for the upstream source), override the field's value in it.
const baseAll = "*"

// encodeBaseAll returns the baseAll value of the merge base m: the JSON
// object encoding/json writes for it (keys sorted, HTML characters not
// escaped), built without reflection: it is written for every new record.
func encodeBaseAll(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = m[k]
	}
	return encodeBaseSorted(keys, vals)
}

// encodeBaseSorted is encodeBaseAll of the map keys[i] -> vals[i], keys
// sorted and distinct.
func encodeBaseSorted(keys, vals []string) string {
	n := 2
	for i, k := range keys {
		n += len(k) + len(vals[i]) + 6
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, vals[i])
	}
	b = append(b, '}')
	return string(b)
}

// appendJSONString appends s as a JSON string (RFC 8259 7), escaped as
// encoding/json escapes it with SetEscapeHTML(false): quote, backslash and
// control characters escaped (\b \f \n \r \t by name), invalid UTF-8 as U+FFFD, U+2028 and U+2029
// escaped (JavaScript line terminators).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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
