package eml

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"crmbridge/crm"
	"crmbridge/internal/recovered"
)

// corpusSeeds returns the files of ../shared/corpus/<sub> (none when the
// corpus is absent; fuzzing then starts from the inline seeds). Files over
// 64 KiB are left out: the fuzzing engine stalls for long stretches
// minimizing large inputs.
func corpusSeeds(sub string) [][]byte {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "corpus", sub, "*"))
	var out [][]byte
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && len(b) <= 64<<10 {
			out = append(out, b)
		}
	}
	return out
}

// checkIncoming asserts the invariants every message must meet.
func checkIncoming(t *testing.T, inc *crm.Incoming, kind string) {
	if inc.Source.Kind != kind || !strings.HasPrefix(inc.Source.Version, "sha256:") || inc.Source.Key == "" || len(inc.Keys) == 0 {
		t.Fatalf("bad source %+v keys %v", inc.Source, inc.Keys)
	}
	if inc.Record.Entity != crm.Email {
		t.Fatalf("entity %q", inc.Record.Entity)
	}
	for k, v := range inc.Record.Fields {
		if !utf8.ValidString(v) {
			t.Fatalf("field %s is not valid UTF-8: %q", k, v)
		}
		if _, ok := crm.LookupField(crm.Email, k); !ok {
			t.Fatalf("field %s is not in the schema", k)
		}
	}
	for _, p := range inc.Record.Parties {
		if !utf8.ValidString(p.Name) || !utf8.ValidString(p.Address) {
			t.Fatalf("party not valid UTF-8: %+v", p)
		}
	}
	for _, a := range inc.Record.Attachments {
		rc, err := a.Open()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		if n != a.Size || !utf8.ValidString(a.Name) || a.Name == "" {
			t.Fatalf("attachment %q: size %d, content %d", a.Name, a.Size, n)
		}
	}
}

func checkErrors(t *testing.T, errs []error) {
	for _, e := range errs {
		if strings.Contains(e.Error(), "recovered panic") {
			t.Fatalf("parser panicked: %v", e)
		}
	}
}

func FuzzEML(f *testing.F) {
	for _, b := range corpusSeeds("eml") {
		f.Add(b)
	}
	f.Add([]byte("Subject: x\r\n\r\nbody"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: in\n\n--b--\n"))
	f.Add([]byte("Subject: =?utf-8?q?caf=C3=A9?= =?bogus?b?AAAA?=\nFrom: \"=?iso-8859-1?q?J=F6rg?=\" <j@x>, broken <\nDate: 31 Feb 99 25:61\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recovered.FailOnPanic(t)
		incs, errs := collectNoFail(NewReader(bytes.NewReader(data), "fuzz.eml"))
		checkErrors(t, errs)
		if len(incs) > 1 {
			t.Fatalf("%d messages from one EML", len(incs))
		}
		if len(incs) == 0 && len(bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))) > 0 && !bytes.HasPrefix(data, []byte("From ")) {
			t.Fatalf("no message and errors %v", errs)
		}
		for _, inc := range incs {
			checkIncoming(t, inc, "eml")
			// Whatever we read, we can write, and read back the same.
			var buf bytes.Buffer
			if err := Write(&buf, inc.Record); err != nil {
				t.Fatalf("Write: %v", err)
			}
			back, errs := collectNoFail(NewReader(bytes.NewReader(buf.Bytes()), "back.eml"))
			checkErrors(t, errs)
			if len(back) != 1 {
				t.Fatalf("read back %d messages", len(back))
			}
			want := inc.Record.Fields["subject"] // byte for byte
			if got := back[0].Record.Fields["subject"]; got != want {
				t.Fatalf("subject %q read back as %q\n%s", want, got, buf.Bytes())
			}
			if len(back[0].Record.Attachments) != len(inc.Record.Attachments) {
				t.Fatalf("%d attachments read back as %d", len(inc.Record.Attachments), len(back[0].Record.Attachments))
			}
		}
	})
}

func FuzzMbox(f *testing.F) {
	for _, b := range corpusSeeds("mbox") {
		f.Add(b)
	}
	f.Add([]byte("From a Mon Jan  1 10:00:00 2024\nSubject: one\nContent-Length: 3\n\nabc\nFrom b Mon Jan  1 10:00:00 2024\nSubject: two\n\n>From x\n"))
	f.Add([]byte("From -\nContent-Length: 99999\n\nx\n\nFrom -\nA: b\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recovered.FailOnPanic(t)
		r := NewMboxReader(bytes.NewReader(data), "fuzz.mbox")
		r.MaxMessageSize = 1 << 20
		incs, errs := collectNoFail(r)
		checkErrors(t, errs)
		if n := bytes.Count(data, []byte("From ")); len(incs) > n {
			t.Fatalf("%d messages from %d From_ lines", len(incs), n)
		}
		for _, inc := range incs {
			checkIncoming(t, inc, "mbox")
		}
	})
}

// collectNoFail is collect for fuzzing: it stops at a fatal error instead
// of failing (a fuzz input may be unreadable only through the reader).
func collectNoFail(r interface {
	Next() (*crm.Incoming, error)
}) ([]*crm.Incoming, []error) {
	var incs []*crm.Incoming
	var errs []error
	for i := 0; i < 1e6; i++ {
		inc, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		incs = append(incs, inc)
	}
	return incs, errs
}
