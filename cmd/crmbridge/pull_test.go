package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/internal/fakeserver"
)

// TestPullMissesNothing: another user creates, updates (several times
// within one second) and deletes contacts, tasks and lists; one pull
// brings the store to the server's state, a second changes nothing, the
// next push sends nothing. With change tracking and without (modifiedon).
// A set the server refuses is named, the others are pulled (exit 1); a
// record deleted upstream while edited here is a recorded conflict.
func TestPullMissesNothing(t *testing.T) {
	for _, tracking := range []bool{true, false} {
		t.Run(fmt.Sprintf("tracking=%v", tracking), func(t *testing.T) {
			now := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
			srv, url, inj := newFakeUpstream(t, func(s *fakeserver.Server) {
				s.ChangeTracking = tracking
				s.Clock = func() time.Time { return now }
				s.PageSize = 4
			})
			configure(t, url)
			db := filepath.Join(t.TempDir(), "crm.db")
			if r := runCLI(t, false, "--db", db, "import", writeCards(t, t.TempDir(), 6)); r.code != 0 {
				t.Fatal(r.stderr)
			}
			if r := runCLI(t, false, "--db", db, "sync"); r.code != 0 {
				t.Fatalf("sync: %d %s %s", r.code, r.stdout, r.stderr)
			}
			live, _ := storeRecords(t, db)
			var ids []string
			for id := range live {
				ids = append(ids, id)
			}
			// Another user, all within the same second as the sync.
			for i := 0; i < 5; i++ {
				srv.Put(crm.Contact, fmt.Sprintf("6f1e2d3c-0000-4000-8000-%012d", i), map[string]string{"lastname": fmt.Sprintf("New %d", i)})
				srv.Put(crm.Task, fmt.Sprintf("7a1e2d3c-0000-4000-8000-%012d", i), map[string]string{"subject": fmt.Sprintf("Task %d", i), "statecode": "0", "statuscode": "2"})
			}
			srv.Put(crm.List, "8b1e2d3c-0000-4000-8000-000000000001", map[string]string{"listname": "Customers"})
			srv.SetListType("8b1e2d3c-0000-4000-8000-000000000001", "2") // of contacts
			srv.AddMember("8b1e2d3c-0000-4000-8000-000000000001", ids[0])
			srv.AddMember("8b1e2d3c-0000-4000-8000-000000000001", "6f1e2d3c-0000-4000-8000-000000000001")
			for v := 1; v <= 3; v++ {
				srv.Touch("contacts", ids[0], "jobtitle", fmt.Sprintf("title %d", v))
				srv.Touch("contacts", ids[1], "telephone1", fmt.Sprintf("+1 555 010%d", v))
				srv.Touch("tasks", "7a1e2d3c-0000-4000-8000-000000000002", "subject", fmt.Sprintf("Task 2 v%d", v))
				srv.Touch("lists", "8b1e2d3c-0000-4000-8000-000000000001", "listname", fmt.Sprintf("Customers v%d", v))
			}
			srv.Remove("tasks", "7a1e2d3c-0000-4000-8000-000000000004")
			// Deletes reach the store with change tracking (deltas) and
			// without (a keys-only listing).
			srv.Remove("contacts", ids[2])
			// Deleted upstream while edited here: a conflict.
			if r := runCLI(t, false, "--db", db, "set", ids[3], "jobtitle=Edited here"); r.code != 0 {
				t.Fatal(r.stderr)
			}
			srv.Remove("contacts", ids[3])
			// appointments: the user may not read them.
			inj.set(func(c fakeserver.Call) fakeserver.Fault {
				if c.Method == "GET" && c.Set == "appointments" {
					return fakeserver.Forbidden
				}
				return fakeserver.None
			})
			r := runCLI(t, false, "--db", db, "pull")
			if r.code != exitPartial || !strings.Contains(r.stdout, "appointments") || !strings.Contains(r.stderr, "appointments") {
				t.Fatalf("pull with a refused set: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			inj.set(nil)
			wantKept := map[string]bool{ids[3]: true}
			cs := runCLI(t, false, "--db", db, "conflicts")
			if !strings.Contains(cs.stdout, ids[3][:8]) || !strings.Contains(cs.stdout, "deleted upstream") {
				t.Errorf("conflicts:\n%s", cs.stdout)
			}
			checkStoreEqualsServer(t, db, srv, wantKept)
			if r := runCLI(t, false, "--db", db, "pull"); r.code != 0 || !strings.Contains(r.stdout, "(0 new, 0 updated), 0 deleted") {
				t.Errorf("second pull: %d %s %s", r.code, r.stdout, r.stderr)
			}
			before := srv.Requests()
			r = runCLI(t, false, "--db", db, "push")
			// Only the kept record goes up again.
			if r.code != 0 || !strings.Contains(r.stdout, "sent 1,") {
				t.Errorf("push after pull: %d %s %s (%d requests)", r.code, r.stdout, r.stderr, srv.Requests()-before)
			}
			if got, ok := srv.Record("contacts", ids[3]); !ok || got.Fields["jobtitle"] != "Edited here" {
				t.Errorf("kept record not created upstream again: %+v", got)
			}
		})
	}
}

// checkStoreEqualsServer asserts that the store's live contacts, tasks
// and lists are the server's (ids per entity set and upstream field
// values), except the ids in kept (deleted upstream, kept here).
func checkStoreEqualsServer(t *testing.T, db string, srv *fakeserver.Server, kept map[string]bool) {
	t.Helper()
	ctx := context.Background()
	s, err := crmstore.Open(ctx, db, crmstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, e := range []crm.Entity{crm.Contact, crm.Task, crm.List} {
		set := upstream.EntitySet(e)
		recs := srv.Records(set)
		list, err := s.List(ctx, crmstore.ListFilter{Entities: []crm.Entity{e}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, sm := range list {
			if kept[sm.ID] {
				continue
			}
			n++
			r, ok := recs[sm.ID]
			if !ok {
				t.Errorf("%s(%s) in the store, not on the server", set, sm.ID)
				continue
			}
			v, err := s.Get(ctx, sm.ID)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range r.Fields {
				if fd, ok := crm.LookupField(e, k); ok && fd.Upstream && v.Fields[k] != want {
					t.Errorf("%s(%s).%s: store %q, server %q", set, sm.ID, k, v.Fields[k], want)
				}
			}
		}
		if n != len(recs) {
			t.Errorf("%s: store %d, server %d", set, n, len(recs))
		}
		if e != crm.List {
			continue
		}
		for id := range recs {
			v, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range v.Members {
				if m.ContactID != "" {
					got = append(got, m.ContactID)
				}
			}
			slices.Sort(got)
			if want := srv.Members(id); !slices.Equal(got, want) {
				t.Errorf("lists(%s) members: store %v, server %v", id, got, want)
			}
		}
	}
}

// TestPushPullJSON: push --json and pull --json print one summary object
// (snake_case) with the dead entries by reason and the failed sets; on a
// terminal push and pull draw a progress line on stderr, never with --json.
func TestPushPullJSON(t *testing.T) {
	_, url, inj := newFakeUpstream(t, func(s *fakeserver.Server) {
		s.NoMetadata = true // a customised column push cannot know of
		s.MaxLength = fakeserver.DefaultMaxLength()
		s.MaxLength[crm.Account]["name"] = 10
	})
	configure(t, url)
	db := filepath.Join(t.TempDir(), "crm.db")
	if r := runCLI(t, false, "--db", db, "import", writeCards(t, t.TempDir(), 3)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := runCLI(t, false, "--db", db, "new", "account", "name=Arthur Andersen LLP"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCLI(t, true, "--db", db, "push", "--json")
	var push pushJSON
	if err := json.Unmarshal([]byte(r.stdout), &push); err != nil || r.code != exitPartial {
		t.Fatalf("push --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if push.Confirmed != 3 || push.Dead != 1 || push.DeadByReason["400 Bad Request 0x80044331"] != 1 || push.DeadInOutbox != 1 {
		t.Errorf("push --json: %+v", push)
	}
	if strings.Contains(r.stderr, "\r\x1b[K") {
		t.Errorf("progress drawn with --json: %q", r.stderr)
	}
	for _, key := range []string{`"sent"`, `"confirmed"`, `"merged"`, `"dead_by_reason"`} {
		if !strings.Contains(r.stdout, key) {
			t.Errorf("push --json lacks %s", key)
		}
	}
	inj.set(func(c fakeserver.Call) fakeserver.Fault {
		if c.Method == "GET" && c.Set == "lists" {
			return fakeserver.Forbidden
		}
		return fakeserver.None
	})
	r = runCLI(t, false, "--db", db, "pull", "--json")
	var pull pullJSON
	if err := json.Unmarshal([]byte(r.stdout), &pull); err != nil || r.code != exitPartial {
		t.Fatalf("pull --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if _, ok := pull.FailedSets["lists"]; !ok || len(pull.FailedSets) != 1 || pull.Read < 3 {
		t.Errorf("pull --json: %+v", pull)
	}
	inj.set(nil)
	if r := runCLI(t, false, "--db", db, "set", firstContact(t, db), "jobtitle=Progress"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r = runCLI(t, true, "--db", db, "sync")
	if !strings.Contains(r.stderr, "\r\x1b[Kpush: sent") || !strings.Contains(r.stderr, "\r\x1b[Kpull: ") {
		t.Errorf("no progress line on a terminal: %q", r.stderr)
	}
}

func firstContact(t *testing.T, db string) string {
	t.Helper()
	live, _ := storeRecords(t, db)
	for id := range live {
		return id
	}
	t.Fatal("no contact")
	return ""
}
