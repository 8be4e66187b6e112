package crmstore

import (
	"context"
	"maps"
	"reflect"
	"testing"
	"time"

	"crmbridge/crm"
)

// create makes a CLI-side record and returns its id.
func create(t *testing.T, s *Store, e crm.Entity, f map[string]string) string {
	t.Helper()
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id, err := tx.Create(e, f, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return id
}

func pending(t *testing.T, s *Store, limit int) []OutboxChange {
	t.Helper()
	cs, err := s.OutboxPending(context.Background(), limit)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOutboxCoalesce(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := create(t, s, crm.Contact, map[string]string{"firstname": "Ann", "lastname": "Doe", "jobtitle": "clerk"})
	set(t, s, id, map[string]string{"jobtitle": "manager"})
	set(t, s, id, map[string]string{"jobtitle": "director", "telephone1": "+1 555 0100"})
	if n := count(t, s, `SELECT COUNT(*) FROM outbox`); n != 3 {
		t.Fatalf("outbox has %d entries, want 3 (create, two updates)", n)
	}
	cs := pending(t, s, 10)
	if len(cs) != 1 {
		t.Fatalf("%d changes, want one per record", len(cs))
	}
	c := cs[0]
	// Never confirmed upstream: one create with the current values of the
	// union of changed fields; fullname is local (derived), not sent.
	want := map[string]string{"firstname": "Ann", "lastname": "Doe", "jobtitle": "director", "telephone1": "+1 555 0100"}
	if c.Op != OutboxCreate || c.RecordID != id || c.Entity != crm.Contact || !reflect.DeepEqual(c.Fields, want) || c.Parties != nil || c.ETag != "" {
		t.Fatalf("coalesced change: %+v", c)
	}
	var maxSeq int64
	must(t, s.db.QueryRow(`SELECT MAX(seq) FROM outbox`).Scan(&maxSeq))
	if c.Seq != maxSeq {
		t.Errorf("Seq %d, want the last entry %d", c.Seq, maxSeq)
	}

	must(t, s.OutboxDone(ctx, id, c.Seq, `W/"1"`))
	if n := count(t, s, `SELECT COUNT(*) FROM outbox`); n != 0 {
		t.Fatalf("%d entries left after Done", n)
	}
	// Confirmed: the next change is an update of the changed fields only,
	// with the stored ETag.
	set(t, s, id, map[string]string{"lastname": "Smith"})
	c = pending(t, s, 10)[0]
	want = map[string]string{"lastname": "Smith"}
	if c.Op != OutboxUpdate || c.ETag != `W/"1"` || !reflect.DeepEqual(c.Fields, want) {
		t.Fatalf("update: %+v", c)
	}
	// A delete after it: the change is a delete, without fields.
	tx, err := s.Begin(ctx)
	must(t, err)
	must(t, tx.Delete(id, "cli"))
	must(t, tx.Commit())
	c = pending(t, s, 10)[0]
	if c.Op != OutboxDelete || c.Fields != nil {
		t.Fatalf("delete: %+v", c)
	}
}

func TestOutboxLocalOnlyChangeDropped(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := create(t, s, crm.Contact, map[string]string{"lastname": "Doe"})
	must(t, s.OutboxDone(ctx, id, pending(t, s, 1)[0].Seq, `W/"1"`))
	set(t, s, id, map[string]string{"folder": "Contacts/Friends"}) // local field
	if n := count(t, s, `SELECT COUNT(*) FROM outbox`); n != 1 {
		t.Fatalf("the local change was not queued: %d", n)
	}
	if cs := pending(t, s, 10); len(cs) != 0 {
		t.Fatalf("a local-only change is pending: %+v", cs)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM outbox`); n != 0 {
		t.Fatalf("the local-only entry was kept: %d", n)
	}
}

func TestOutboxParties(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ps := []crm.Party{{Role: crm.RoleSender, Address: "Ann@Example.com", Name: "Ann"}, {Role: crm.RoleTo, Address: "bob@example.com"}}
	res := apply(t, s, &crm.Incoming{Source: crm.SourceRef{Kind: "eml", Key: "m1", Version: "1"},
		Record: crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "Hello", "headers": "X-A: 1"}, Parties: ps}}, PolicyNewest)
	c := pending(t, s, 10)[0]
	if c.Op != OutboxCreate || len(c.Parties) != 2 || c.Parties[0].Address != "Ann@Example.com" || c.Parties[1].Role != crm.RoleTo {
		t.Fatalf("create with parties: %+v", c)
	}
	if _, ok := c.Fields["headers"]; ok {
		t.Errorf("local field headers sent: %v", c.Fields)
	}
	must(t, s.OutboxDone(ctx, res.ID, c.Seq, `W/"1"`))
	set(t, s, res.ID, map[string]string{"subject": "Re: Hello"})
	c = pending(t, s, 10)[0]
	if c.Parties != nil {
		t.Errorf("parties sent although unchanged: %+v", c.Parties)
	}
}

// A record whose head entry waits or is dead is skipped with all its later
// entries; other records go on, in journal order.
func TestOutboxHeadOfLineBlocking(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	b := create(t, s, crm.Contact, map[string]string{"lastname": "B"})
	now = now.Add(time.Second)
	a := create(t, s, crm.Contact, map[string]string{"lastname": "A"})
	now = now.Add(time.Second)
	c := create(t, s, crm.Contact, map[string]string{"lastname": "C"})
	cs := pending(t, s, 10)
	if len(cs) != 3 || cs[0].RecordID != b || cs[1].RecordID != a || cs[2].RecordID != c {
		t.Fatalf("journal order: %+v", cs)
	}
	if got := pending(t, s, 2); len(got) != 2 || got[1].RecordID != a {
		t.Fatalf("limit 2: %+v", got)
	}
	must(t, s.OutboxInFlight(ctx, map[string]int64{a: cs[1].Seq}))
	must(t, s.OutboxRetry(ctx, a, cs[1].Seq, now.Add(time.Minute), "503 Service Unavailable"))
	must(t, s.OutboxDead(ctx, b, cs[0].Seq, "400 Bad Request: bad value"))
	set(t, s, a, map[string]string{"lastname": "A2"}) // a later entry of the waiting record
	set(t, s, b, map[string]string{"lastname": "B2"}) // and of the dead one
	got := pending(t, s, 10)
	if len(got) != 1 || got[0].RecordID != c {
		t.Fatalf("want only C, got %+v", got)
	}
	now = now.Add(2 * time.Minute)
	got = pending(t, s, 10)
	if len(got) != 2 || got[0].RecordID != a || got[1].RecordID != c {
		t.Fatalf("after the backoff: %+v", got)
	}
	// A's retried change folds its later entry, keeps the in-flight mark
	// (Retry does not clear it) and counts the attempt.
	if ga := got[0]; !ga.Unknown || ga.Attempts != 1 || ga.Fields["lastname"] != "A2" || ga.Seq <= cs[1].Seq {
		t.Fatalf("retried change: %+v", ga)
	}
	st, err := s.Status(ctx)
	must(t, err)
	// A: one in flight, one pending; B: one dead, one pending; C: pending.
	if st.Outbox.Pending != 3 || st.Outbox.InFlight != 1 || st.Outbox.Dead != 1 || st.Outbox.OldestPending == nil {
		t.Fatalf("status outbox: %+v", st.Outbox)
	}
	// The oldest unconfirmed entry is A's create, in flight and retrying
	// (B's older create is dead: not counted).
	var aCreated string
	must(t, s.db.QueryRow(`SELECT created_at FROM outbox WHERE record_id = ? ORDER BY seq LIMIT 1`, a).Scan(&aCreated))
	if got := st.Outbox.OldestPending.UTC().Format(time.RFC3339Nano); got != aCreated {
		t.Errorf("oldest pending %s, want A's create at %s", got, aCreated)
	}

	// --retry-dead: B is pending again with no attempts.
	n, err := s.OutboxRetryDead(ctx)
	if err != nil || n != 1 {
		t.Fatalf("retry dead: %d %v", n, err)
	}
	got = pending(t, s, 10)
	if len(got) != 3 || got[0].RecordID != b || got[0].Attempts != 0 || got[0].Fields["lastname"] != "B2" {
		t.Fatalf("after retry-dead: %+v", got)
	}
	// Dead clears the in-flight mark.
	must(t, s.OutboxDead(ctx, a, got[1].Seq, "gone"))
	if n := count(t, s, `SELECT COUNT(*) FROM outbox WHERE state = 'inflight'`); n != 0 {
		t.Errorf("%d in flight after Dead", n)
	}
}

// Done removes exactly the entries up to seq and stores the ETag in the
// same transaction: when it fails, neither happens.
func TestOutboxDoneAndETagTogether(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := create(t, s, crm.Contact, map[string]string{"lastname": "Doe"})
	c := pending(t, s, 1)[0]
	must(t, s.OutboxInFlight(ctx, map[string]int64{id: c.Seq}))
	set(t, s, id, map[string]string{"lastname": "Roe"}) // arrives while the create is in flight
	must(t, s.OutboxDone(ctx, id, c.Seq, `W/"7"`))
	if e, _ := s.ETag(ctx, id); e != `W/"7"` {
		t.Fatalf("etag %q", e)
	}
	left := pending(t, s, 10)
	if len(left) != 1 || left[0].Op != OutboxUpdate || left[0].Unknown || left[0].ETag != `W/"7"` || left[0].Fields["lastname"] != "Roe" {
		t.Fatalf("after Done: %+v", left)
	}
	// Done of a seq that has no entry fails and changes nothing.
	if err := s.OutboxDone(ctx, "00000000-0000-4000-8000-000000000000", 1, `W/"9"`); err == nil {
		t.Fatal("Done of a missing entry succeeded")
	}
	// Make the delete fail inside the transaction: the ETag must stay.
	_, err := s.db.Exec(`CREATE TRIGGER nodel BEFORE DELETE ON outbox BEGIN SELECT RAISE(ABORT, 'test: no delete'); END`)
	must(t, err)
	if err := s.OutboxDone(ctx, id, left[0].Seq, `W/"8"`); err == nil {
		t.Fatal("Done succeeded despite the trigger")
	}
	if e, _ := s.ETag(ctx, id); e != `W/"7"` {
		t.Fatalf("etag changed by a failed Done: %q", e)
	}
}

func TestOutboxMergeRewrite(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		policy   Policy
		wantSend map[string]string
		jobtitle string
	}{
		// Both changed jobtitle: local policy keeps and sends ours;
		// telephone1 changed only here is sent; description changed only
		// upstream is taken and not sent back.
		{PolicyLocal, map[string]string{"jobtitle": "local", "telephone1": "555"}, "local"},
		{PolicyIncoming, map[string]string{"telephone1": "555"}, "server"},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			s := openTest(t)
			id := create(t, s, crm.Contact, map[string]string{"lastname": "Doe", "jobtitle": "clerk"})
			must(t, s.OutboxDone(ctx, id, pending(t, s, 1)[0].Seq, `W/"1"`))
			set(t, s, id, map[string]string{"jobtitle": "local"})
			set(t, s, id, map[string]string{"telephone1": "555"})
			c := pending(t, s, 1)[0]
			must(t, s.OutboxInFlight(ctx, map[string]int64{id: c.Seq}))
			journal := count(t, s, `SELECT COUNT(*) FROM outbox`)
			var oldest string
			must(t, s.db.QueryRow(`SELECT MIN(created_at) FROM outbox`).Scan(&oldest))
			server := map[string]string{"lastname": "Doe", "jobtitle": "server", "telephone1": "", "description": "from the server"}
			mr, err := s.OutboxMerge(ctx, c, server, `W/"5"`, time.Time{}, tc.policy)
			must(t, err)
			if !reflect.DeepEqual(mr.Send, tc.wantSend) || mr.Conflicts != 1 {
				t.Fatalf("merge: %+v, want send %v and 1 conflict", mr, tc.wantSend)
			}
			f := fields(t, s, id)
			if f["jobtitle"] != tc.jobtitle || f["description"] != "from the server" || f["telephone1"] != "555" {
				t.Fatalf("store after merge: %v", f)
			}
			if n := count(t, s, `SELECT COUNT(*) FROM conflict WHERE record_id = ? AND field = 'jobtitle'`, id); n != 1 {
				t.Errorf("%d conflicts recorded", n)
			}
			// The entries up to c.Seq are one update of the fields to send,
			// still in flight, and the merge queued nothing new.
			if n := count(t, s, `SELECT COUNT(*) FROM outbox`); n != 1 || journal != 2 {
				t.Fatalf("outbox has %d entries (had %d)", n, journal)
			}
			got := pending(t, s, 1)[0]
			if got.Seq != c.Seq || got.Op != OutboxUpdate || got.ETag != `W/"5"` || !got.Unknown || !maps.Equal(got.Fields, tc.wantSend) {
				t.Fatalf("rewritten change: %+v", got)
			}
			var created string
			must(t, s.db.QueryRow(`SELECT created_at FROM outbox`).Scan(&created))
			if created != oldest {
				t.Errorf("rewritten entry queued at %s, want the oldest replaced %s (status age)", created, oldest)
			}
			must(t, s.OutboxDone(ctx, id, got.Seq, `W/"6"`))
			// What was sent is now the upstream base: the server changing
			// only description again is taken without a conflict.
			server2 := maps.Clone(server)
			maps.Copy(server2, tc.wantSend)
			server2["description"] = "second"
			if _, err := s.PullApply(ctx, crm.Contact, id, server2, `W/"7"`, time.Time{}, PolicyLocal); err != nil {
				t.Fatal(err)
			}
			if f := fields(t, s, id); f["description"] != "second" {
				t.Errorf("pulled description not taken: %v", f)
			}
			if n := count(t, s, `SELECT COUNT(*) FROM conflict`); n != 1 {
				t.Errorf("%d conflicts after the pull, want still 1", n)
			}
		})
	}
}

func TestPullSink(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := "0a0b0c0d-0000-4000-8000-00000000abcd"
	res, err := s.PullApply(ctx, crm.Contact, id, map[string]string{"lastname": "Pulled", "emailaddress1": "p@example.com", "fullname": "ignored"}, `W/"3"`, time.Now(), PolicyNewest)
	if err != nil || res.ID != id || res.Outcome != Created {
		t.Fatalf("pull apply: %+v %v", res, err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM outbox`); n != 0 {
		t.Fatalf("a pulled record was queued upstream (%d entries)", n)
	}
	if e, _ := s.ETag(ctx, id); e != `W/"3"` {
		t.Errorf("etag %q", e)
	}
	res, err = s.PullApply(ctx, crm.Contact, id, map[string]string{"lastname": "Pulled"}, `W/"3"`, time.Now(), PolicyNewest)
	if err != nil || res.Outcome != Unchanged {
		t.Fatalf("same version again: %+v %v", res, err)
	}
	// A local change goes out as an update (the record is known upstream).
	set(t, s, id, map[string]string{"jobtitle": "x"})
	if c := pending(t, s, 1)[0]; c.Op != OutboxUpdate || c.ETag != `W/"3"` {
		t.Fatalf("local change of a pulled record: %+v", c)
	}
	if kept, err := s.PullDelete(ctx, crm.Contact, id, PolicyIncoming); err != nil || kept {
		t.Fatalf("pull delete: kept %v, %v", kept, err)
	}
	v, err := s.Get(ctx, id)
	if err != nil || !v.Deleted {
		t.Fatalf("not deleted: %v %v", v, err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM outbox`); n != 0 {
		t.Errorf("%d outbox entries after the server deleted the record", n)
	}
	if _, err := s.PullDelete(ctx, crm.Contact, "0a0b0c0d-0000-4000-8000-000000000000", PolicyNewest); err != nil { // unknown: ignored
		t.Fatal(err)
	}

	last := time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)
	must(t, s.SavePullState(ctx, "contacts", "https://x/contacts?$deltatoken=1", last, nil))
	dl, l, _, err := s.PullState(ctx, "contacts")
	if err != nil || dl != "https://x/contacts?$deltatoken=1" || !l.Equal(last) {
		t.Fatalf("pull state: %q %v %v", dl, l, err)
	}
	if dl, l, _, err := s.PullState(ctx, "accounts"); dl != "" || !l.IsZero() || err != nil {
		t.Fatalf("no pull state: %q %v %v", dl, l, err)
	}
	seen := []string{"a W/\"1\"", "b W/\"2\""}
	must(t, s.SavePullState(ctx, "tasks", "", last, seen))
	if dl, l, got, err := s.PullState(ctx, "tasks"); dl != "" || !l.Equal(last) || !reflect.DeepEqual(got, seen) || err != nil {
		t.Fatalf("pull state with seen rows: %q %v %q %v", dl, l, got, err)
	}
}

// TestPullDeleteOfEditedRecord: a record deleted upstream while edited
// here is a recorded conflict; the policy decides: incoming deletes it,
// newest and local keep it and queue it to be created upstream again with
// all its fields, fail keeps it, queues nothing and leaves the conflict
// open until it is resolved.
func TestPullDeleteOfEditedRecord(t *testing.T) {
	ctx := context.Background()
	for _, pol := range []Policy{PolicyIncoming, PolicyNewest, PolicyLocal, PolicyFail} {
		s := openTest(t)
		id := create(t, s, crm.Contact, map[string]string{"firstname": "Ann", "lastname": "Doe"})
		c := pending(t, s, 1)[0]
		must(t, s.OutboxDone(ctx, id, c.Seq, `W/"1"`))
		set(t, s, id, map[string]string{"jobtitle": "edited here"})
		kept, err := s.PullDelete(ctx, crm.Contact, id, pol)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := s.Conflicts(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || cs[0].Field != "_deleted" || cs[0].RecordID != id || cs[0].Resolved != (pol != PolicyFail) {
			t.Fatalf("%s: conflicts %+v", pol, cs)
		}
		v, _ := s.Get(ctx, id)
		out := pending(t, s, 10)
		switch pol {
		case PolicyIncoming:
			if kept || !v.Deleted || len(out) != 0 {
				t.Errorf("%s: kept %v, deleted %v, outbox %+v", pol, kept, v.Deleted, out)
			}
		case PolicyFail:
			if !kept || v.Deleted || len(out) != 0 {
				t.Errorf("%s: kept %v, deleted %v, outbox %+v", pol, kept, v.Deleted, out)
			}
			// Resolving for local queues the re-creation.
			tx, err := s.Begin(ctx)
			must(t, err)
			must(t, tx.ResolveConflict(cs[0].ID, "local", "cli"))
			must(t, tx.Commit())
			if out := pending(t, s, 10); len(out) != 1 || out[0].Op != OutboxCreate || out[0].Fields["lastname"] != "Doe" {
				t.Errorf("%s resolved local: outbox %+v", pol, out)
			}
		default:
			want := map[string]string{"firstname": "Ann", "lastname": "Doe", "jobtitle": "edited here"}
			if !kept || v.Deleted || len(out) != 1 || out[0].Op != OutboxCreate {
				t.Fatalf("%s: kept %v, deleted %v, outbox %+v", pol, kept, v.Deleted, out)
			}
			for k, w := range want {
				if out[0].Fields[k] != w {
					t.Errorf("%s: re-create sends %s=%q, want %q", pol, k, out[0].Fields[k], w)
				}
			}
		}
	}
}

// TestOutboxDoneSentIsTheBase: when push sent a value cut to fit a column
// and left out a date the server cannot hold, a pull that reads back the
// cut value and no date changes nothing: the store keeps the full values
// and queues nothing.
func TestOutboxDoneSentIsTheBase(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	long := "Chief Executive Officer of Enron Corporation"
	id := create(t, s, crm.Contact, map[string]string{"lastname": "Skilling", "jobtitle": long, "birthdate": "1604-03-01"})
	c := pending(t, s, 10)[0]
	sent := map[string]string{"lastname": "Skilling", "jobtitle": long[:12]}
	must(t, s.OutboxDoneSent(ctx, id, c.Seq, `W/"1"`, sent))
	// Another user changed the description: a new version, with our cut
	// jobtitle and no birthdate.
	res, err := s.PullApply(ctx, crm.Contact, id, map[string]string{"lastname": "Skilling", "jobtitle": long[:12], "birthdate": "",
		"description": "met in Houston"}, `W/"2"`, time.Now(), PolicyNewest)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if v.Fields["jobtitle"] != long || v.Fields["birthdate"] != "1604-03-01" || v.Fields["description"] != "met in Houston" || res.Conflicts != 0 {
		t.Errorf("after pull: jobtitle %q, birthdate %q, conflicts %d", v.Fields["jobtitle"], v.Fields["birthdate"], res.Conflicts)
	}
	if cs := pending(t, s, 10); len(cs) != 0 {
		t.Errorf("pull queued %+v", cs)
	}
	// A real change upstream still comes through.
	if _, err := s.PullApply(ctx, crm.Contact, id, map[string]string{"jobtitle": "CEO"}, `W/"3"`, time.Now(), PolicyNewest); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get(ctx, id); v.Fields["jobtitle"] != "CEO" {
		t.Errorf("upstream change lost: %q", v.Fields["jobtitle"])
	}
	if _, ok, err := s.CacheGet(ctx, "k"); ok || err != nil {
		t.Errorf("empty cache: %v %v", ok, err)
	}
	must(t, s.CachePut(ctx, "k", "v1"))
	must(t, s.CachePut(ctx, "k", "v2"))
	if v, ok, err := s.CacheGet(ctx, "k"); v != "v2" || !ok || err != nil {
		t.Errorf("cache: %q %v %v", v, ok, err)
	}
}

// TestOutboxMergeNewest: after a 412 the server's version comes with its
// modifiedon, so under PolicyNewest a field changed on both sides goes to
// the newer change: the server's when it changed after our edit, ours
// (and sent) when it changed before.
func TestOutboxMergeNewest(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		offset   time.Duration
		jobtitle string
	}{
		{"server newer", time.Hour, "server"},
		{"local newer", -time.Hour, "local"},
	} {
		s := openTest(t)
		id := create(t, s, crm.Contact, map[string]string{"lastname": "Doe", "jobtitle": "clerk"})
		must(t, s.OutboxDone(ctx, id, pending(t, s, 1)[0].Seq, `W/"1"`))
		set(t, s, id, map[string]string{"jobtitle": "local"})
		c := pending(t, s, 1)[0]
		mr, err := s.OutboxMerge(ctx, c, map[string]string{"lastname": "Doe", "jobtitle": "server"}, `W/"5"`,
			time.Now().Add(tc.offset), PolicyNewest)
		must(t, err)
		v, _ := s.Get(ctx, id)
		if v.Fields["jobtitle"] != tc.jobtitle || mr.Conflicts != 1 || (tc.jobtitle == "local") != (mr.Send["jobtitle"] == "local") {
			t.Errorf("%s: jobtitle %q, merge %+v", tc.name, v.Fields["jobtitle"], mr)
		}
	}
}

// TestOutboxMembers: a list's members go with its change when they
// changed, resolved to the contacts holding their addresses; a change of
// other fields only leaves them out; a change of members only is kept.
func TestOutboxMembers(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ct := create(t, s, crm.Contact, map[string]string{"lastname": "Ann", "emailaddress1": "ann@example.com"})
	for _, c := range pending(t, s, 10) {
		must(t, s.OutboxDone(ctx, c.RecordID, c.Seq, `W/"1"`))
	}
	src := crm.SourceRef{Kind: "msg", Key: "dl1", Version: "1"}
	res := apply(t, s, &crm.Incoming{Source: src, Record: crm.Record{Entity: crm.List, Fields: map[string]string{"listname": "Friends"},
		Members: []crm.Party{{Address: "Ann@Example.com", Name: "Ann"}, {Address: "nobody@example.com"}}}}, PolicyNewest)
	c := pending(t, s, 10)[0]
	if c.RecordID != res.ID || c.Op != OutboxCreate || len(c.Members) != 2 || c.Members[0].ContactID != ct || c.Members[1].ContactID != "" {
		t.Fatalf("create with members: %+v (contact %s)", c, ct)
	}
	must(t, s.OutboxDone(ctx, res.ID, c.Seq, `W/"1"`))
	set(t, s, res.ID, map[string]string{"description": "x"})
	if c = pending(t, s, 10)[0]; c.Members != nil {
		t.Errorf("members sent although unchanged: %+v", c.Members)
	}
	must(t, s.OutboxDone(ctx, res.ID, c.Seq, `W/"2"`))
	src.Version = "2"
	apply(t, s, &crm.Incoming{Source: src, Record: crm.Record{Entity: crm.List, Fields: map[string]string{"listname": "Friends", "description": "x"},
		Members: []crm.Party{{Address: "ann@example.com", Name: "Ann"}}}}, PolicyNewest)
	cs := pending(t, s, 10)
	if len(cs) != 1 || cs[0].Op != OutboxUpdate || len(cs[0].Fields) != 0 || len(cs[0].Members) != 1 || cs[0].Members[0].ContactID != ct {
		t.Fatalf("members-only change: %+v", cs)
	}
}
