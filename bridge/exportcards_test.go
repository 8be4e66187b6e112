package bridge

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

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

// A contact file written from a store holding bytes that are not UTF-8 (a
// store written before input was validated) is valid UTF-8 in every vCard
// version: each run of invalid bytes is one U+FFFD, and the record is
// named in a warning. The export cleans each view once (cleanView) and the
// encoder does not check again (vcf.Encoder.EncodeValidRev): without the
// cleaning, the invalid bytes would reach the file.
func TestExportVCFInvalidUTF8(t *testing.T) {
	const n = readAheadIDs + 5
	s := contactsStore(t, n)
	db, err := sql.Open("sqlite", "file:"+s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bad := map[string]bool{}
	for _, last := range []string{"0003", "0511", "0515"} {
		var id string
		if err := db.QueryRow(`UPDATE contact SET firstname = CAST(x'41ffff42' AS TEXT), jobtitle = CAST(x'80' AS TEXT) WHERE lastname = ? RETURNING id`, last).Scan(&id); err != nil {
			t.Fatal(err)
		}
		bad[id] = true
	}
	for _, version := range []string{"2.1", "3.0", "4.0"} {
		t.Run(version, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "c.vcf")
			rep := &exportRecorder{}
			if _, err := Export(context.Background(), s, ExportOptions{VCF: out, All: true, VCardVersion: version, Reporter: rep}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.Valid(b) {
				t.Errorf("output is not valid UTF-8")
			}
			// 2.1 writes non-ASCII values quoted-printable (U+FFFD is
			// EF BF BD); 3.0 and 4.0 as they are.
			name, title := "A\uFFFDB", "TITLE:\uFFFD\r\n"
			if version == "2.1" {
				name, title = "A=EF=BF=BDB", "=EF=BF=BD\r\n"
				if bytes.Contains(b, []byte("=FF")) || bytes.Contains(b, []byte("=80")) {
					t.Errorf("output holds an invalid byte quoted-printable")
				}
			}
			if c := bytes.Count(b, []byte(name)); c < 3 {
				t.Errorf("%q found %d times, want at least 3", name, c)
			}
			if c := bytes.Count(b, []byte(title)); c != 3 {
				t.Errorf("%q found %d times, want 3", title, c)
			}
			if c := bytes.Count(b, []byte("BEGIN:VCARD")); c != n {
				t.Errorf("%d cards, want %d", c, n)
			}
			if len(rep.problems) != 0 || len(rep.warnings) != len(bad) {
				t.Fatalf("problems %v, warnings %v; want one warning for each of %d records", rep.problems, rep.warnings, len(bad))
			}
			for _, w := range rep.warnings {
				var re *RecordError
				if !errors.As(w, &re) || !bad[re.ID] || !strings.Contains(w.Error(), "invalid UTF-8") {
					t.Errorf("warning %v names no record with invalid bytes", w)
				}
			}
		})
	}
}
