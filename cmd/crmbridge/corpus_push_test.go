package main

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/fixtures"
	"crmbridge/internal/fakeserver"
)

// TestPushCorpusAccepted: after importing the shared vCard and iCalendar
// samples and go-pst's support.pst, push under faults ends with no dead
// entry, and the server (which enforces Dataverse's rules: organizer,
// task parties, column lengths, date range, binds to existing rows) holds
// exactly the store's live records, entity set by entity set, with every
// party the store resolved bound to its record.
func TestPushCorpusAccepted(t *testing.T) {
	vcf := fixtures.CorpusDir(t, "vcf")
	ics := fixtures.CorpusDir(t, "ics")
	pst := filepath.Join(fixtures.GoPSTData(t), "support.pst")
	srv, url, inj := newFakeUpstream(t, func(s *fakeserver.Server) { s.UserEmail = "me@example.com" })
	configure(t, url)
	db := filepath.Join(t.TempDir(), "crm.db")
	for _, src := range []string{vcf, ics, pst} {
		// Some samples are broken on purpose: exit 1, the rest imported.
		if r := runCLI(t, false, "--db", db, "import", src); r.code != 0 && r.code != 1 {
			t.Fatalf("import %s: exit %d\n%s", src, r.code, r.stderr)
		}
	}
	// A contact for one of support.pst's correspondents: its parties
	// resolve to it and must go out bound (partyid_contact).
	addr := ""
	func() {
		s, err := crmstore.Open(context.Background(), db, crmstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		list, err := s.List(context.Background(), crmstore.ListFilter{Entities: []crm.Entity{crm.Email}})
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range list {
			v, err := s.Get(context.Background(), sm.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range v.Parties {
				if addr == "" && strings.Contains(p.Address, "@") && p.ContactID == "" {
					addr = p.Address
				}
			}
		}
	}()
	if addr == "" {
		t.Fatal("no e-mail party address in support.pst")
	}
	if r := runCLI(t, false, "--db", db, "new", "contact", "lastname=Correspondent", "emailaddress1="+addr); r.code != 0 {
		t.Fatalf("new contact: %d %s", r.code, r.stderr)
	}
	queued := statusJSON(t, db).Outbox.Pending
	if queued < 500 {
		t.Fatalf("only %d outbox entries after the imports", queued)
	}
	f := &faults{rng: rand.New(rand.NewPCG(13, 13)), left: 40, p: 0.15,
		kinds: []fakeserver.Fault{fakeserver.DropAfter, fakeserver.DropBefore, fakeserver.Throttle, fakeserver.Unavailable,
			fakeserver.ServerError, fakeserver.GatewayError, fakeserver.ConcurrentWrite}}
	inj.set(f.inject)
	var st crmstore.Status
	for run := 0; run < 8; run++ {
		r := runCLI(t, false, "--db", db, "push", "--batch", "50")
		st = statusJSON(t, db)
		if r.code != 0 || st.Outbox.Dead > 0 {
			t.Fatalf("push %d: exit %d, outbox %+v\n%s\n%s", run, r.code, st.Outbox, r.stdout, lastLines(r.stderr, 30))
		}
		if st.Outbox.Pending+st.Outbox.InFlight == 0 {
			break
		}
	}
	if st.Outbox.Pending+st.Outbox.InFlight+st.Outbox.Dead != 0 {
		t.Fatalf("outbox not empty: %+v", st.Outbox)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("protocol violations: %q", v[:min(len(v), 5)])
	}

	ctx := context.Background()
	s, err := crmstore.Open(ctx, db, crmstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bound := 0
	for _, set := range upstream.EntitySets() {
		e, _ := upstream.EntityOfSet(set)
		list, err := s.List(ctx, crmstore.ListFilter{Entities: []crm.Entity{e}})
		if err != nil {
			t.Fatal(err)
		}
		recs := srv.Records(set)
		if len(recs) != len(list) {
			t.Errorf("%s: server has %d, store %d", set, len(recs), len(list))
		}
		for _, sm := range list {
			r, ok := recs[sm.ID]
			if !ok {
				t.Errorf("%s(%s) not on the server", set, sm.ID)
				continue
			}
			if n := srv.Creates(sm.ID); n != 1 {
				t.Errorf("%s(%s) created %d times", set, sm.ID, n)
			}
			v, err := s.Get(ctx, sm.ID)
			if err != nil {
				t.Fatal(err)
			}
			onServer := map[string]bool{}
			for _, p := range r.Parties {
				if p.ContactID != "" {
					onServer[p.ContactID] = true
				}
			}
			for _, p := range v.Parties {
				if p.ContactID == "" || e == crm.Task {
					continue
				}
				bound++
				if !onServer[p.ContactID] {
					t.Errorf("%s(%s): party %s (contact %s) not bound on the server", set, sm.ID, p.Address, p.ContactID)
				}
			}
		}
	}
	if bound == 0 {
		t.Errorf("no party resolved to a contact (%s) was checked", addr)
	}
	t.Logf("%d outbox entries pushed; %d resolved parties bound; %d faults left unused", queued, bound, f.left)
}

func lastLines(s string, n int) string {
	lines := splitLines(s)
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
