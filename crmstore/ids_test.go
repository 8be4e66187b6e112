package crmstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"crmbridge/crm"
)

// Records made in one transaction share the start of their UUIDv7 ids;
// each is found by its short id, its full id and a unique prefix, and a
// shared prefix is ambiguous with the candidates listed.
func TestShortIDs(t *testing.T) {
	s := openTest(t)
	var ids []string
	if err := s.Update(context.Background(), func(tx *Tx) error {
		for i := range 40 {
			id, err := tx.Create(crm.Contact, map[string]string{"lastname": fmt.Sprintf("L%d", i)}, "cli")
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The most common 8-character start (40 ids made within a second
	// share their timestamp's first 32 bits, but for a 65 s boundary
	// that splits them in two groups at most).
	byStart := map[string]int{}
	shared, sharing := "", 0
	for _, id := range ids {
		if byStart[id[:8]]++; byStart[id[:8]] > sharing {
			shared, sharing = id[:8], byStart[id[:8]]
		}
	}
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, id := range ids {
		short := ShortID(id)
		if len(short) != 12 {
			t.Fatalf("ShortID(%s) = %q", id, short)
		}
		for _, in := range []string{id, short, short[:8], id[:36-1]} {
			got, err := tx.ExpandID(in)
			if err != nil || got != id {
				t.Errorf("ExpandID(%q) = %q, %v; want %s", in, got, err, id)
			}
		}
	}
	_, err = tx.ExpandID(shared)
	var ae *AmbiguousError
	if !errors.As(err, &ae) || !errors.Is(err, ErrAmbiguous) || len(ae.Candidates) < 2 {
		t.Fatalf("ExpandID(%q) shared by %d ids: %v", shared, sharing, err)
	}
	if _, err := s.Get(context.Background(), shared); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("Get(%q): %v, want ambiguous", shared, err)
	}
}
