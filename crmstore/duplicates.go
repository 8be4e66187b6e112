package crmstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"crmbridge/crm"
)

// duplicate is a record identity matched by a key but did not merge.
type duplicate struct {
	other  string
	reason string
}

// namesAgree reports whether the incoming fields may be merged into
// record id found by key: always, unless the key is an e-mail address of
// a contact or lead and the names disagree (crm.NamesAgree).
func (t *Tx) namesAgree(e crm.Entity, id string, fields map[string]string, key string) (bool, error) {
	if e != crm.Contact && e != crm.Lead || !strings.HasPrefix(key, "email:") {
		return true, nil
	}
	want := map[string]string{"firstname": "", "lastname": "", "fullname": ""}
	if e == crm.Contact {
		want["middlename"] = ""
	}
	cur, err := t.loadFields(e, id, want)
	if err != nil {
		return false, err
	}
	return crm.NamesAgree(crm.NameOf(cur), crm.NameOf(fields)), nil
}

func (t *Tx) addDuplicate(a, b, reason string) error {
	if _, err := t.exec(`INSERT OR IGNORE INTO duplicate (a, b, reason, at) VALUES (?,?,?,?)`, a, b, reason, t.now); err != nil {
		return fmt.Errorf("record possible duplicate: %w", err)
	}
	return nil
}

// Duplicate is a possible duplicate: two records identity kept apart
// (the same e-mail address with names that disagree), for review.
type Duplicate struct {
	A       string `json:"a"` // the newer record
	B       string `json:"b"`
	Reason  string `json:"reason"`
	At      string `json:"at"`
	Settled string `json:"settled"` // "", "merged" or "dismissed"
	NameA   string `json:"name_a"`
	NameB   string `json:"name_b"`
}

// ErrNoDuplicate is returned when two records are not a recorded
// possible duplicate.
var ErrNoDuplicate = errors.New("crmstore: not a recorded possible duplicate")

// Duplicates lists the possible duplicates not yet settled (all of them
// with all).
func (s *Store) Duplicates(ctx context.Context, all bool) ([]Duplicate, error) {
	q := `SELECT d.a, d.b, d.reason, d.at, d.settled,
		COALESCE((SELECT fullname FROM contact WHERE id = d.a), (SELECT fullname FROM lead WHERE id = d.a), ''),
		COALESCE((SELECT fullname FROM contact WHERE id = d.b), (SELECT fullname FROM lead WHERE id = d.b), '')
		FROM duplicate d`
	if !all {
		q += ` WHERE d.settled = ''`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY d.at, d.a`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Duplicate
	for rows.Next() {
		var d Duplicate
		if err := rows.Scan(&d.A, &d.B, &d.Reason, &d.At, &d.Settled, &d.NameA, &d.NameB); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// findDuplicate resolves a and b (ids or unique prefixes) to a recorded
// pair, in either order.
func (t *Tx) findDuplicate(a, b string) (string, string, error) {
	var x, y string
	err := t.queryRow(`SELECT a, b FROM duplicate WHERE settled = '' AND (a LIKE ? || '%' AND b LIKE ? || '%' OR a LIKE ? || '%' AND b LIKE ? || '%') LIMIT 2`,
		strings.ToLower(a), strings.ToLower(b), strings.ToLower(b), strings.ToLower(a)).Scan(&x, &y)
	if err != nil {
		return "", "", fmt.Errorf("%w: %s %s", ErrNoDuplicate, a, b)
	}
	if !strings.HasPrefix(x, strings.ToLower(a)) {
		x, y = y, x
	}
	return x, y, nil
}

// DismissDuplicate records that a and b are two people.
func (t *Tx) DismissDuplicate(a, b string) error {
	x, y, err := t.findDuplicate(a, b)
	if err != nil {
		return err
	}
	_, err = t.exec(`UPDATE duplicate SET settled = 'dismissed', settled_at = ? WHERE a IN (?, ?) AND b IN (?, ?)`, t.now, x, y, x, y)
	return err
}

// MergeDuplicate merges record b into record a: a keeps its values and
// takes b's for the fields it has empty, b's extra values are added to
// a's, b's sources and identity keys point to a from now on (an event
// holds the newer iTIP version of the two, and b's replies), and b is
// deleted (queued upstream as a delete). origin names who did it.
func (t *Tx) MergeDuplicate(a, b, origin string) (string, error) {
	x, y, err := t.findDuplicate(a, b)
	if err != nil {
		return "", err
	}
	e, err := t.entityOf(x)
	if err != nil {
		return "", err
	}
	want := map[string]string{}
	for _, f := range crm.Fields(e) {
		want[f.Name] = ""
	}
	fa, err := t.loadFields(e, x, want)
	if err != nil {
		return "", err
	}
	fb, err := t.loadFields(e, y, want)
	if err != nil {
		return "", err
	}
	fill := map[string]string{}
	for k, v := range fb {
		if v != "" && fa[k] == "" && k != "fullname" {
			fill[k] = v
		}
	}
	if len(fill) > 0 {
		if _, err := t.Set(x, fill, origin); err != nil {
			return "", err
		}
	}
	xa, err := t.loadExtras(x)
	if err != nil {
		return "", err
	}
	xb, err := t.loadExtras(y)
	if err != nil {
		return "", err
	}
	if u := unionExtras(xa, xb); len(u) != len(xa) {
		if err := t.writeExtras(x, u, true); err != nil {
			return "", err
		}
	}
	for _, q := range []string{
		`UPDATE provenance SET record_id = ? WHERE record_id = ?`,
		`UPDATE OR IGNORE recordkey SET record_id = ? WHERE record_id = ?`,
	} {
		if _, err := t.exec(q, x, y); err != nil {
			return "", fmt.Errorf("merge %s into %s: %w", y, x, err)
		}
	}
	// iTIP: a holds the newer of the two versions, and b's replies.
	if err := t.resetSchedule(x); err != nil {
		return "", err
	}
	if err := t.mergeReplies(x, y); err != nil {
		return "", err
	}
	if _, err := t.exec(`DELETE FROM schedule WHERE record_id = ?`, y); err != nil {
		return "", err
	}
	if _, err := t.exec(`UPDATE duplicate SET settled = 'merged', settled_at = ? WHERE a IN (?, ?) AND b IN (?, ?)`, t.now, x, y, x, y); err != nil {
		return "", err
	}
	if err := t.Delete(y, origin); err != nil {
		return "", err
	}
	return x, nil
}

func (t *Tx) entityOf(id string) (crm.Entity, error) {
	var e string
	if err := t.queryRow(`SELECT entity FROM record WHERE id = ?`, id).Scan(&e); err != nil {
		return "", fmt.Errorf("record %s: %w", id, err)
	}
	return crm.Entity(e), nil
}
