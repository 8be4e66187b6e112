package bridge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/pst"
)

// TestDraftRoundTrip: a draft (EML "X-Unsent: 1", PST MSGFLAG_UNSENT) stays
// a draft (statecode 0, statuscode 1) through PST export and import, and
// comes back out of --eml as X-Unsent. A PST's draft used to import as a
// sent mail (statecode 1, statuscode 3) and export as one.
func TestDraftRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "draft.eml")
	msg := "X-Unsent: 1\r\nFrom: Ken Boss <ken@example.com>\r\nTo: team@example.com\r\nSubject: Not sent yet\r\n" +
		"Message-ID: <draft@example.com>\r\n\r\nDraft.\r\n"
	if err := os.WriteFile(src, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	state := func(where string, fields map[string]string) {
		t.Helper()
		if fields["statecode"] != "0" || fields["statuscode"] != "1" || fields["directioncode"] != "true" {
			t.Errorf("%s: statecode %q statuscode %q directioncode %q, want a draft (0, 1, true)", where, fields["statecode"], fields["statuscode"], fields["directioncode"])
		}
	}
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, src)
	vs := views(t, s)
	if len(vs) != 1 {
		t.Fatalf("%d records", len(vs))
	}
	state("EML import", vs[0].Fields)

	out := filepath.Join(dir, "out.pst")
	export(t, s, ExportOptions{All: true, PST: out})
	f, err := pst.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if it.Email != nil && !it.Email.Unsent {
			t.Errorf("PST read back: %q is not unsent", it.Subject)
		}
	}
	f.Close()
	s2 := newStore(t)
	importPaths(t, s2, ImportOptions{}, out)
	vs = views(t, s2)
	if len(vs) != 1 {
		t.Fatalf("%d records after the PST", len(vs))
	}
	state("PST import", vs[0].Fields)

	emlDir := filepath.Join(dir, "eml")
	if err := os.Mkdir(emlDir, 0o700); err != nil {
		t.Fatal(err)
	}
	export(t, s2, ExportOptions{All: true, EMLDir: emlDir})
	emls, _ := filepath.Glob(filepath.Join(emlDir, "*.eml"))
	if len(emls) != 1 {
		t.Fatalf("%d .eml files", len(emls))
	}
	b, _ := os.ReadFile(emls[0])
	if head, _, _ := strings.Cut(string(b), "\r\n\r\n"); !strings.Contains(head, "\r\nX-Unsent: 1\r\n") && !strings.HasPrefix(head, "X-Unsent: 1\r\n") {
		t.Errorf("--eml of the PST's draft has no X-Unsent: 1:\n%s", head)
	}
}
