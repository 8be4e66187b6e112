package crmstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrAmbiguous is returned (in an *AmbiguousError) when a short id or
// prefix names more than one record.
var ErrAmbiguous = errors.New("crmstore: ambiguous record id")

// AmbiguousError lists the records an id could name.
type AmbiguousError struct {
	ID         string
	Candidates []string // full ids, at most maxCandidates
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("record id %s is ambiguous; it could be: %s", e.ID, strings.Join(e.Candidates, ", "))
}

// Unwrap lets errors.Is(err, ErrAmbiguous) match.
func (e *AmbiguousError) Unwrap() error { return ErrAmbiguous }

const maxCandidates = 10

// ShortID is the form of a record id people use: its last 12 hex digits.
// Record ids are UUIDv7 (RFC 9562 5.7), whose first 12 digits are a
// millisecond timestamp, so ids made in one run share their beginning;
// the last 12 are random (rand_b), unique in practice.
func ShortID(id string) string {
	if len(id) != 36 {
		return id
	}
	return id[24:]
}

// idQuerier is what resolveID needs of a Tx.
type idQuerier interface {
	query(q string, args ...any) (*sql.Rows, error)
}

// resolveID expands id: a full id, a short id (ShortID, or at least 8 of
// its first digits), or a prefix of at least 8 characters of the full id.
func resolveID(q idQuerier, id string) (string, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) == 36 {
		return id, nil
	}
	if len(id) < 8 {
		return "", fmt.Errorf("record id %q is too short (give at least 8 characters, or the short id list shows)", id)
	}
	// record_tail indexes substr(id, 25): the short form.
	rows, err := q.query(`SELECT id FROM record WHERE id >= ?1 AND id < ?1 || x'ff'
		UNION SELECT id FROM record WHERE substr(id, 25) >= ?1 AND substr(id, 25) < ?1 || x'ff'
		ORDER BY 1 LIMIT ?2`, id, maxCandidates+1)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		ids = append(ids, s)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNotFound, id)
	case 1:
		return ids[0], nil
	}
	return "", &AmbiguousError{ID: id, Candidates: ids[:min(len(ids), maxCandidates)]}
}
