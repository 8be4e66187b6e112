package bridge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

// contactsStore is a store of n contacts named "Contact 0000".. in
// creation order.
func contactsStore(t *testing.T, n int) *crmstore.Store {
	t.Helper()
	s := newStore(t)
	edit(t, s, func(tx *crmstore.Tx) error {
		for i := range n {
			if _, err := tx.Create(crm.Contact, map[string]string{"firstname": "Contact", "lastname": fmt.Sprintf("%04d", i)}, "cli"); err != nil {
				return err
			}
		}
		return nil
	})
	return s
}

// A single-file export reads its records a chunk ahead on another
// goroutine: every record is written once, in the order of the selection,
// across chunk boundaries, and progress counts up by one.
func TestExportReadAheadOrder(t *testing.T) {
	const n = 2*readAheadIDs + 77
	s := contactsStore(t, n)
	out := filepath.Join(t.TempDir(), "c.vcf")
	last := 0
	rep := &exportRecorder{progress: func(_ string, done, total int) {
		if done != last+1 || total != n {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
	}}
	res, err := Export(context.Background(), s, ExportOptions{VCF: out, All: true, Reporter: rep})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Records != n || res[0].Omitted != 0 || len(rep.problems) != 0 || last != n {
		t.Fatalf("result %+v, problems %v, progress %d", res, rep.problems, last)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(b), "\r\n") {
		if name, ok := strings.CutPrefix(l, "FN:"); ok {
			names = append(names, name)
		}
	}
	if len(names) != n {
		t.Fatalf("%d cards, want %d", len(names), n)
	}
	for i, name := range names {
		if want := fmt.Sprintf("Contact %04d", i); name != want {
			t.Fatalf("card %d is %q, want %q", i, name, want)
		}
	}
}

// Cancelled in the middle of a chunk, an export stops with the context's
// error, leaves the file it was replacing as it was, and gives the snapshot
// back (the reading goroutine has ended: the race detector sees any use
// after).
func TestExportReadAheadCancel(t *testing.T) {
	s := contactsStore(t, 3*readAheadIDs)
	out := filepath.Join(t.TempDir(), "c.vcf")
	if _, err := Export(context.Background(), s, ExportOptions{VCF: out, Reporter: &exportRecorder{}}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(out)
	edit(t, s, func(tx *crmstore.Tx) error {
		_, err := tx.Create(crm.Contact, map[string]string{"fullname": "New one"}, "cli")
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep := &exportRecorder{progress: func(_ string, done, _ int) {
		if done == readAheadIDs+10 {
			cancel()
		}
	}}
	_, err := Export(ctx, s, ExportOptions{VCF: out, All: true, Reporter: rep})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("export: %v, want context.Canceled", err)
	}
	after, _ := os.ReadFile(out)
	if string(after) != string(before) {
		t.Fatal("a cancelled export changed the file")
	}
	// The store is still usable for the next export.
	if res, err := Export(context.Background(), s, ExportOptions{VCF: out, All: true, Reporter: &exportRecorder{}}); err != nil || res[0].Records != 3*readAheadIDs+1 {
		t.Fatalf("export after cancel: %+v, %v", res, err)
	}
}
