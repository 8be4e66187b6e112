package bridge

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

// writeCards encodes on several goroutines and writes in the order of the
// selection, across chunks: every record is written once, or reported by
// id (one that cannot be read, one the encoder refuses), each warning
// names its record, and progress counts up by one, whatever the number of
// workers.
func TestWriteCardsOrderAndProblems(t *testing.T) {
	const n = 3*readAheadIDs + 41
	s := contactsStore(t, n)
	db, err := sql.Open("sqlite", "file:"+s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := func(last string) string {
		var id string
		if err := db.QueryRow(`SELECT id FROM contact WHERE lastname = ?`, last).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	unreadable, invalid, refused := id("0100"), id("0600"), id("1500")
	// No contact row: the record cannot be read. Invalid UTF-8: written
	// with U+FFFD and a warning.
	for q, id := range map[string]string{`DELETE FROM contact WHERE id = ?`: unreadable, `UPDATE contact SET firstname = CAST(x'41ff42' AS TEXT) WHERE id = ?`: invalid} {
		if _, err := db.Exec(q, id); err != nil {
			t.Fatal(err)
		}
	}
	refuse := errors.New("refused")
	cards := func(w io.Writer) func(v *crmstore.View) error {
		return func(v *crmstore.View) error {
			if v.ID == refused {
				return refuse
			}
			_, err := fmt.Fprintf(w, "%s %s\n", v.Fields["lastname"], v.Fields["firstname"])
			return err
		}
	}
	for _, workers := range []int{1, 2, 5} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			sn, err := s.Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer sn.Close()
			last := 0
			rep := &exportRecorder{progress: func(_ string, done, total int) {
				if done != last+1 || total != n {
					t.Errorf("progress %d/%d after %d", done, total, last)
				}
				last = done
			}}
			x := &exporter{ctx: context.Background(), store: s, sn: sn, rep: rep, workers: workers}
			tg := &target{kind: "vcf", path: "/x.vcf", ents: []crm.Entity{crm.Contact}, cards: cards}
			var out bytes.Buffer
			var res ExportResult
			written, storeErr, err := x.writeCards(&out, tg, n, &res)
			if err != nil || storeErr != nil {
				t.Fatalf("writeCards: %v, %v", storeErr, err)
			}
			var want strings.Builder
			for i := range n {
				switch last := fmt.Sprintf("%04d", i); last {
				case "0100", "1500":
				case "0600":
					fmt.Fprintf(&want, "%s A\uFFFDB\n", last)
				default:
					fmt.Fprintf(&want, "%s Contact\n", last)
				}
			}
			if out.String() != want.String() {
				t.Errorf("written:\n%.300s...\nwant\n%.300s...", out.String(), want.String())
			}
			if written != n-2 || res.Omitted != 2 || last != n {
				t.Errorf("written %d, omitted %d, progress %d; want %d, 2, %d", written, res.Omitted, last, n-2, n)
			}
			var ids []string
			for _, p := range rep.problems {
				var re *RecordError
				if !errors.As(p, &re) {
					t.Fatalf("problem %v is not a RecordError", p)
				}
				ids = append(ids, re.ID)
			}
			if len(ids) != 2 || ids[0] != unreadable || ids[1] != refused || !errors.Is(rep.problems[1], refuse) {
				t.Errorf("problems %v, want %s then %s refused", rep.problems, unreadable, refused)
			}
			var re *RecordError
			if len(rep.warnings) != 1 || !errors.As(rep.warnings[0], &re) || re.ID != invalid {
				t.Errorf("warnings %v, want one for %s", rep.warnings, invalid)
			}
		})
	}
}

// A writer that fails ends writeCards with its error (the target fails),
// and the reading and encoding goroutines end with it (the race detector
// and the snapshot's next use see any left).
func TestWriteCardsWriterFails(t *testing.T) {
	s := contactsStore(t, 2*readAheadIDs)
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	x := &exporter{ctx: context.Background(), store: s, sn: sn, rep: &exportRecorder{}, workers: 2}
	tg := &target{kind: "vcf", path: "/x.vcf", ents: []crm.Entity{crm.Contact}, cards: func(w io.Writer) func(v *crmstore.View) error {
		return func(v *crmstore.View) error { _, err := io.WriteString(w, v.ID); return err }
	}}
	full := errors.New("disk full")
	_, storeErr, err := x.writeCards(failingWriter{full}, tg, 2*readAheadIDs, &ExportResult{})
	if !errors.Is(err, full) || storeErr != nil {
		t.Fatalf("writeCards: %v, %v; want %v", storeErr, err, full)
	}
	if n, err := sn.Count([]crm.Entity{crm.Contact}); err != nil || n != 2*readAheadIDs {
		t.Fatalf("snapshot after: %d, %v", n, err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }
