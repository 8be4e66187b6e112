package crmstore

import (
	"context"
	"reflect"
	"testing"
	"time"

	"crmbridge/crm"
)

// Extras are stored, read back, and merged by union: a new version or
// another source adds values, none is lost; an unchanged version changes
// nothing.
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
	if got, want := get(), []crm.Extra{x("EMAIL", "a@x"), tel, x("X-SKYPE", "lee")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a new version %+v, want %+v", got, want)
	}
	apply(t, s, card("pst", "1", x("TITLE", "Author")), PolicyNewest)
	if got, want := get(), []crm.Extra{x("EMAIL", "a@x"), tel, x("X-SKYPE", "lee"), x("TITLE", "Author")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after another source %+v, want %+v", got, want)
	}
	// A version that says nothing of extras (nil) leaves them alone.
	apply(t, s, card("vcf", "4"), PolicyNewest)
	if got := get(); len(got) != 4 {
		t.Fatalf("after a version without extras: %+v", got)
	}
}

// An extra that its source's format holds once (Incoming.Once: an
// iCalendar STATUS, a vCard GENDER) is that source's value: a new version
// of the same source replaces the value it gave before, as a field's new
// value does. Other sources' values of that name stay, and so do extras
// that may repeat (union).
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
	if got, want := get(), []crm.Extra{x("X-TAG", "a"), x("URL", "http://a.example/"), x("STATUS", "TENTATIVE"), x("X-TAG", "b")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a second version of the source\n got %+v\nwant %+v", got, want)
	}
	// Another source's value of a once-only name is its own: it stays
	// beside this one, and this source's next version replaces only its
	// own.
	other := event("pst", "1", x("STATUS", "CANCELLED"))
	apply(t, s, other, PolicyNewest)
	apply(t, s, event("ics", "3", x("STATUS", "CONFIRMED")), PolicyNewest)
	if got, want := get(), []crm.Extra{x("X-TAG", "a"), x("URL", "http://a.example/"), x("X-TAG", "b"), x("STATUS", "CANCELLED"), x("STATUS", "CONFIRMED")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after another source and a third version\n got %+v\nwant %+v", got, want)
	}
	// A version that does not give the name again leaves the value (as a
	// field a source no longer gives keeps its value).
	apply(t, s, event("ics", "4", x("X-TAG", "c")), PolicyNewest)
	if got := get(); len(got) != 6 {
		t.Fatalf("after a version without STATUS: %+v", got)
	}
}
