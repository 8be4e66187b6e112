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
