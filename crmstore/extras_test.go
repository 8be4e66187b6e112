package crmstore

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"crmbridge/crm"
)

// Extras are stored, read back, and merged by union across sources: a new
// version adds values and withdraws those its source no longer gives
// (TestExtrasWithdrawnBySource), another source adds its own; an
// unchanged version changes nothing.
func TestExtrasMerge(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	x := func(n, v string) crm.Extra { return crm.Extra{Name: n, Value: v} }
	card := func(kind, version string, xs ...crm.Extra) *crm.Incoming {
		return &crm.Incoming{
			Source:     crm.SourceRef{Kind: kind, Key: "k", Version: version},
			Record:     crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Lee", "emailaddress1": "lee@example.com"}, Extras: xs},
			Keys:       []string{"email:lee@example.com"},
			ModifiedAt: t0,
		}
	}
	tel := crm.Extra{Name: "TEL", Value: "+1 555", Params: map[string]string{"TYPE": "home"}}
	r := apply(t, s, card("vcf", "1", x("EMAIL", "a@x"), tel), PolicyNewest)
	get := func() []crm.Extra {
		v, err := s.Get(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return v.Extras
	}
	if got, want := get(), []crm.Extra{x("EMAIL", "a@x"), tel}; !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %+v, want %+v", got, want)
	}
	if r2 := apply(t, s, card("vcf", "2", x("EMAIL", "a@x"), tel), PolicyNewest); r2.Outcome != Unchanged {
		t.Fatalf("same extras, new version: %v %v", r2.Outcome, r2.Changed)
	}
	if r3 := apply(t, s, card("vcf", "3", tel, x("X-SKYPE", "lee")), PolicyNewest); r3.Outcome != Updated {
		t.Fatalf("new extra: %v", r3.Outcome)
	}
	if got, want := get(), []crm.Extra{tel, x("X-SKYPE", "lee")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a new version %+v, want %+v", got, want)
	}
	apply(t, s, card("pst", "1", x("TITLE", "Author")), PolicyNewest)
	if got, want := get(), []crm.Extra{tel, x("X-SKYPE", "lee"), x("TITLE", "Author")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after another source %+v, want %+v", got, want)
	}
	// A version that says nothing of extras (nil) leaves them alone.
	apply(t, s, card("vcf", "4"), PolicyNewest)
	if got := get(); len(got) != 3 {
		t.Fatalf("after a version without extras: %+v", got)
	}
}

// An extra that its source's format holds once (Incoming.Once: an
// iCalendar STATUS, a vCard GENDER) is that source's value: a new version
// of the same source replaces the value it gave before, as a field's new
// value does (and so does any value it no longer gives). Other sources'
// values of that name stay, and this source's next version replaces only
// its own.
func TestExtrasOnceReplaced(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	x := func(n, v string) crm.Extra { return crm.Extra{Name: n, Value: v} }
	event := func(kind, version string, xs ...crm.Extra) *crm.Incoming {
		return &crm.Incoming{
			Source: crm.SourceRef{Kind: kind, Key: "uid-1", Version: version},
			Record: crm.Record{Entity: crm.Appointment, Fields: map[string]string{"subject": "Review",
				"scheduledstart": "2026-03-02T09:00:00Z", "scheduledend": "2026-03-02T10:00:00Z"}, Extras: xs},
			Keys:       []string{"uid:uid-1"},
			ModifiedAt: t0,
			Once:       map[string]bool{"STATUS": true, "URL": true},
		}
	}
	r := apply(t, s, event("ics", "1", x("STATUS", "CONFIRMED"), x("X-TAG", "a"), x("URL", "http://a.example/")), PolicyNewest)
	get := func() []crm.Extra {
		v, err := s.Get(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return v.Extras
	}
	apply(t, s, event("ics", "2", x("STATUS", "TENTATIVE"), x("X-TAG", "b"), x("URL", "http://a.example/")), PolicyNewest)
	if got, want := get(), []crm.Extra{x("URL", "http://a.example/"), x("STATUS", "TENTATIVE"), x("X-TAG", "b")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a second version of the source\n got %+v\nwant %+v", got, want)
	}
	// Another source's value of a once-only name is its own: it stays
	// beside this one, and this source's next version replaces only its
	// own.
	other := event("pst", "1", x("STATUS", "CANCELLED"))
	apply(t, s, other, PolicyNewest)
	apply(t, s, event("ics", "3", x("STATUS", "CONFIRMED"), x("X-TAG", "b"), x("URL", "http://a.example/")), PolicyNewest)
	if got, want := get(), []crm.Extra{x("URL", "http://a.example/"), x("X-TAG", "b"), x("STATUS", "CANCELLED"), x("STATUS", "CONFIRMED")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after another source and a third version\n got %+v\nwant %+v", got, want)
	}
	// A version that does not give the name again withdraws the value.
	apply(t, s, event("ics", "4", x("X-TAG", "b"), x("URL", "http://a.example/")), PolicyNewest)
	if got, want := get(), []crm.Extra{x("URL", "http://a.example/"), x("X-TAG", "b"), x("STATUS", "CANCELLED")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a version without STATUS\n got %+v\nwant %+v", got, want)
	}
}

// claimsTestCard is a contact version of source (kind, key) at time at
// with extras xs; GENDER is once-only, as in a vCard.
func claimsTestCard(kind, key string, at time.Time, xs ...crm.Extra) *crm.Incoming {
	if xs == nil {
		xs = []crm.Extra{} // gives none
	}
	return &crm.Incoming{
		Source:     crm.SourceRef{Kind: kind, Key: key, Version: at.Format(time.RFC3339Nano)},
		Record:     crm.Record{Entity: crm.Contact, Fields: map[string]string{"lastname": "Lee", "emailaddress1": "lee@example.com"}, Extras: xs},
		Keys:       []string{"email:lee@example.com"},
		ModifiedAt: at,
		Origin:     kind + ":" + key,
		Once:       map[string]bool{"GENDER": true},
	}
}

func extraStrings(xs []crm.Extra) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, x.String())
	}
	return out
}

// Every extra value knows the sources that give it: a newer version of a
// source withdraws what it no longer gives (once-only or repeatable), and
// the value leaves the record only when no other source still gives it;
// an older version withdraws nothing and does not replace the source's
// newer value of a once-only name. Each change is journaled.
func TestExtrasWithdrawnBySource(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	x := func(n, v string) crm.Extra { return crm.Extra{Name: n, Value: v} }
	email4, tel2 := x("EMAIL", "lee4@example.com"), crm.Extra{Name: "TEL", Value: "+1 555 2", Params: map[string]string{"TYPE": "home"}}
	r := apply(t, s, claimsTestCard("vcf", "/a.vcf#lee", t0, email4, tel2, x("GENDER", "M")), PolicyNewest)
	apply(t, s, claimsTestCard("pst", "entry-1", t0, email4, x("TITLE", "Author")), PolicyNewest)
	get := func() []string {
		t.Helper()
		v, err := s.Get(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return extraStrings(v.Extras)
	}
	steps := []struct {
		what string
		in   *crm.Incoming
		want []string
	}{
		{"a.vcf newer, without the shared EMAIL, the second TEL and GENDER",
			claimsTestCard("vcf", "/a.vcf#lee", t0.Add(time.Hour)),
			[]string{"EMAIL: lee4@example.com", "TITLE: Author"}},
		{"a.vcf older again: adds back, withdraws nothing",
			claimsTestCard("vcf", "/a.vcf#lee", t0.Add(-time.Hour), tel2, x("GENDER", "M")),
			[]string{"EMAIL: lee4@example.com", "TITLE: Author", "TEL;TYPE=home: +1 555 2", "GENDER: M"}},
		{"a.vcf newest: GENDER F replaces M, TEL withdrawn again",
			claimsTestCard("vcf", "/a.vcf#lee", t0.Add(2*time.Hour), x("GENDER", "F")),
			[]string{"EMAIL: lee4@example.com", "TITLE: Author", "GENDER: F"}},
		{"a.vcf older: its GENDER M does not replace the newer F",
			claimsTestCard("vcf", "/a.vcf#lee", t0.Add(90*time.Minute), x("GENDER", "M"), x("NOTE", "n")),
			[]string{"EMAIL: lee4@example.com", "TITLE: Author", "GENDER: F", "NOTE: n"}},
		{"entry-1 newer without the EMAIL: nobody gives it now",
			claimsTestCard("pst", "entry-1", t0.Add(time.Hour), x("TITLE", "Author")),
			[]string{"TITLE: Author", "GENDER: F", "NOTE: n"}},
		{"a version that says nothing of extras withdraws nothing",
			claimsTestCard("vcf", "/a.vcf#lee", t0.Add(3*time.Hour)),
			[]string{"TITLE: Author", "GENDER: F", "NOTE: n"}},
	}
	steps[len(steps)-1].in.Record.Extras = nil
	for _, st := range steps {
		apply(t, s, st.in, PolicyNewest)
		if got := get(); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("%s:\n got %q\nwant %q", st.what, got, st.want)
		}
	}
	// The withdrawals are changes like any other: journaled with the
	// source that made them (entry-1: its TITLE added, its EMAIL gone).
	if n := count(t, s, `SELECT COUNT(*) FROM journal WHERE record_id = ? AND field = '_extras' AND origin = 'pst:entry-1'
		AND old LIKE '%lee4@%' AND new NOT LIKE '%lee4@%'`, r.ID); n != 1 {
		t.Errorf("journal entries of entry-1's withdrawal: %d, want 1", n)
	}
}

// forget drops the extra values only the forgotten file gave; a value
// another source also gives stays, and so does one no source is known to
// give.
func TestForgetExtras(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	x := func(n, v string) crm.Extra { return crm.Extra{Name: n, Value: v} }
	card := func(path string, xs ...crm.Extra) *crm.Incoming {
		in := fromFile(path, "lee", map[string]string{"lastname": "Lee", "emailaddress1": "lee@example.com"}, t0)
		in.Record.Extras = xs
		return in
	}
	r := apply(t, s, card("/a.vcf", x("EMAIL", "shared@example.com"), x("NOTE", "only a")), PolicyNewest)
	imported(t, s, "/a.vcf")
	apply(t, s, card("/b.vcf", x("EMAIL", "shared@example.com"), x("NOTE", "only b")), PolicyNewest)
	imported(t, s, "/b.vcf")
	// A value nobody is known to give (as a store from before sources
	// of extras were kept may hold).
	if err := s.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO extra (record_id, ord, name, value) VALUES (?, 99, 'X-OLD', 'kept')`, r.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rep := forget(t, s, "/a.vcf")
	if len(rep.Reverted) != 1 || !slices.Contains(rep.Reverted[0].Fields, "_extras") {
		t.Errorf("report %+v: want the record reverted, _extras among its fields", rep)
	}
	v, err := s.Get(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := extraStrings(v.Extras), []string{"EMAIL: shared@example.com", "NOTE: only b", "X-OLD: kept"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after forget a.vcf:\n got %q\nwant %q", got, want)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM journal WHERE record_id = ? AND field = '_extras' AND origin = 'forget:vcf:/a.vcf'`, r.ID); n != 1 {
		t.Errorf("journal entries of the forget: %d, want 1", n)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM outbox WHERE record_id = ? AND fields LIKE '%_extras%'`, r.ID); n == 0 {
		t.Error("the change is not queued")
	}
	checkTally(t, s)
}

// A store from before the sources of extra values were kept (schema 15):
// its sources that gave extras are taken to give every value of their
// record, so that a newer version of one withdraws only what no other
// source may still give; once each has said what it gives, values go.
func TestExtrasClaimsMigrated(t *testing.T) {
	s, id := legacyExtrasStore(t)
	if n := count(t, s, `SELECT COUNT(*) FROM base WHERE field = '_extras_given' AND value = '*'`); n != 2 {
		t.Errorf("%d sources taken to give every value, want 2 (the vCard and the PST item, not upstream)", n)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM base WHERE field = '_extras_once'`); n != 0 {
		t.Errorf("%d rows of the old form left", n)
	}
	get := func() []string {
		t.Helper()
		v, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return extraStrings(v.Extras)
	}
	t1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a := claimsTestCard("vcf", "/a.vcf#lee", t1, crm.Extra{Name: "NOTE", Value: "a"})
	a.Origin = "vcf:/a.vcf"
	apply(t, s, a, PolicyNewest)
	if got, want := get(), []string{"EMAIL: shared@example.com", "NOTE: a", "GENDER: M"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after a.vcf's newer version (the PST item may still give the rest):\n got %q\nwant %q", got, want)
	}
	b := claimsTestCard("pst", "entry-1", t1, crm.Extra{Name: "EMAIL", Value: "shared@example.com"})
	b.Origin = "pst:/b.pst"
	apply(t, s, b, PolicyNewest)
	if got, want := get(), []string{"EMAIL: shared@example.com", "NOTE: a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after both sources said what they give:\n got %q\nwant %q", got, want)
	}
}

// The same version of a source read again (import --force of a store
// from before the sources of extras were kept) records what it gives,
// removing nothing: the next forget or newer version is exact.
func TestExtrasClaimsRecordedOnSameVersion(t *testing.T) {
	s, id := legacyExtrasStore(t)
	b := claimsTestCard("pst", "entry-1", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), crm.Extra{Name: "EMAIL", Value: "shared@example.com"})
	b.Source.Version, b.Origin = "v1", "pst:/b.pst"
	if r := apply(t, s, b, PolicyNewest); r.Outcome != Unchanged {
		t.Fatalf("same version: %v", r.Outcome)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM base WHERE field = '_extras_given' AND value = '*'`); n != 1 {
		t.Errorf("%d sources still taken to give every value, want 1 (the vCard)", n)
	}
	rep, err := s.Forget(context.Background(), "/a.vcf", false)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := extraStrings(v.Extras), []string{"EMAIL: shared@example.com"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after forgetting a.vcf (report %+v):\n got %q\nwant %q", rep, got, want)
	}
}

// legacyExtrasStore is a store made at schema 15 and opened (migrated):
// one contact with three extra values, given by a vCard (its first
// version in the base row, an _extras_once row) and a PST item (a single
// _extras base row), and pulled from upstream.
func legacyExtrasStore(t *testing.T) (*Store, string) {
	t.Helper()
	const id = "11111111-1111-1111-1111-111111111111"
	path := storeAt(t, 15, `INSERT INTO record (id, entity, created_at, modified_at) VALUES ('`+id+`', 'contact', 'x', 'x');
		INSERT INTO contact (id, lastname, emailaddress1) VALUES ('`+id+`', 'Lee', 'lee@example.com');
		INSERT INTO recordkey (entity, key, record_id) VALUES ('contact', 'email:lee@example.com', '`+id+`');
		INSERT INTO extra (record_id, ord, name, value) VALUES ('`+id+`', 0, 'EMAIL', 'shared@example.com'), ('`+id+`', 1, 'NOTE', 'a'), ('`+id+`', 2, 'GENDER', 'M');
		INSERT INTO provenance (id, record_id, kind, key, version, origin, seen_at) VALUES
			(1, '`+id+`', 'vcf', '/a.vcf#lee', 'v1', 'vcf:/a.vcf', 'x'), (2, '`+id+`', 'pst', 'entry-1', 'v1', 'pst:/b.pst', 'x'),
			(3, '`+id+`', 'upstream', 'contact/`+id+`', 'e1', 'upstream', 'x');
		INSERT INTO base (provenance_id, field, value) VALUES (1, '*', '{"_extras":"x","lastname":"Lee"}'), (1, '_extras_once', '["0123456789abcdef"]'),
			(2, '_extras', 'y'), (3, '*', '{"lastname":"Lee"}');`)
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, id
}

// A newer iTIP version supersedes the older versions of the event that
// sources of its own format gave (an .ics file's, or a PST item's and a
// .msg file's, which hold the same properties), not the values another
// format keeps that this one cannot give (a PST item's MAPI properties
// stay when a newer .ics REQUEST arrives).
func TestExtrasSupersededBySameFormat(t *testing.T) {
	s := openTest(t)
	x := func(n, v string) crm.Extra { return crm.Extra{Name: n, Value: v} }
	event := func(kind, key string, seq int, xs ...crm.Extra) *crm.Incoming {
		return &crm.Incoming{
			Source: crm.SourceRef{Kind: kind, Key: key, Version: key},
			Origin: kind + ":" + key,
			Record: crm.Record{Entity: crm.Appointment, Fields: map[string]string{"uid": "u1", "subject": "Plan",
				"scheduledstart": "2026-03-02T09:00:00Z", "scheduledend": "2026-03-02T10:00:00Z"}, Extras: xs},
			Keys:     []string{"uid:u1"},
			Schedule: &crm.Schedule{Method: "REQUEST", Sequence: seq},
		}
	}
	r := apply(t, s, event("pst", "entry-1", 0, x("X-MS-CUSTOMER", "K-7")), PolicyNewest)
	apply(t, s, event("ics", "/a.ics#u1", 1, x("X-TAG", "one")), PolicyNewest)
	apply(t, s, event("ics", "/b.ics#u1", 2, x("X-TAG", "two")), PolicyNewest)
	v, err := s.Get(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := extraStrings(v.Extras), []string{"X-MS-CUSTOMER: K-7", "X-TAG: two"}; !reflect.DeepEqual(got, want) {
		t.Errorf("extras\n got %q\nwant %q", got, want)
	}
}
