package crmstore

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDecideField walks the merge decision over base/ours/theirs ×
// policy × timestamps. Expected decisions are written from DESIGN.md
// "Change tracking and merge", not from the code.
func TestDecideField(t *testing.T) {
	local := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	times := map[string]struct{ in, local time.Time }{
		"equal":         {local, local},
		"older":         {local.Add(-time.Hour), local},
		"newer":         {local.Add(time.Hour), local},
		"unknown-in":    {time.Time{}, local},
		"unknown-local": {local, time.Time{}},
		"unknown-both":  {time.Time{}, time.Time{}},
		// the same instant in another zone is a tie, not newer
		"equal-zone": {local.In(time.FixedZone("X", 3600)), local},
	}
	keep := Decision{Action: MergeKeep}
	take := Decision{Action: MergeTake}
	conflict := func(w string) Decision { return Decision{Action: MergeConflict, Winner: w} }
	type row struct {
		name   string
		v      FieldVersions
		policy Policy
		times  string
		want   Decision
	}
	var rows []row
	// add expands one state over policies and times; want gives the
	// expected decision for one combination.
	add := func(name string, v FieldVersions, want func(p Policy, tm string) Decision) {
		for _, p := range []Policy{PolicyNewest, PolicyLocal, PolicyIncoming, PolicyFail} {
			for tm := range times {
				rows = append(rows, row{name, v, p, tm, want(p, tm)})
			}
		}
	}
	always := func(d Decision) func(Policy, string) Decision {
		return func(Policy, string) Decision { return d }
	}
	// Nothing to do whatever the policy: the values agree.
	add("same", FieldVersions{Base: "a", HasBase: true, Ours: "b", Theirs: "b"}, always(keep))
	add("same-nobase", FieldVersions{Ours: "b", Theirs: "b"}, always(keep))
	add("both-empty", FieldVersions{Base: "a", HasBase: true}, always(keep))
	// The source did not change it; the store did: the store's edit stays.
	add("source-unchanged", FieldVersions{Base: "a", HasBase: true, Ours: "b", Theirs: "a"}, always(keep))
	add("source-unchanged-cleared-locally", FieldVersions{Base: "a", HasBase: true, Ours: "", Theirs: "a"}, always(keep))
	// Only the source changed it: taken.
	add("source-only", FieldVersions{Base: "a", HasBase: true, Ours: "a", Theirs: "b"}, always(take))
	add("source-cleared", FieldVersions{Base: "a", HasBase: true, Ours: "a", Theirs: ""}, always(take))
	add("store-empty", FieldVersions{Base: "a", HasBase: true, Ours: "", Theirs: "b"}, always(take))
	add("store-empty-nobase", FieldVersions{Ours: "", Theirs: "b"}, always(take))
	// No base: no conflict; the newer value wins under newest.
	add("nobase", FieldVersions{Ours: "a", Theirs: "b"}, func(p Policy, tm string) Decision {
		switch p {
		case PolicyIncoming:
			return take
		case PolicyNewest:
			if tm == "newer" || tm == "unknown-local" {
				return take
			}
		}
		return keep
	})
	// Both changed: a conflict, won per policy.
	both := func(p Policy, tm string) Decision {
		switch p {
		case PolicyLocal:
			return conflict(WinnerLocal)
		case PolicyIncoming:
			return conflict(WinnerIncoming)
		case PolicyFail:
			return conflict(WinnerNone)
		}
		if tm == "newer" || tm == "unknown-local" {
			return conflict(WinnerIncoming)
		}
		return conflict(WinnerLocal)
	}
	add("both-changed", FieldVersions{Base: "a", HasBase: true, Ours: "b", Theirs: "c"}, both)
	add("both-changed-source-cleared", FieldVersions{Base: "a", HasBase: true, Ours: "b", Theirs: ""}, both)
	add("both-changed-empty-base", FieldVersions{Base: "", HasBase: true, Ours: "b", Theirs: "c"}, both)
	// Long values are compared with their base as a digest.
	long := func(c string) string { return strings.Repeat(c, digestLimit+1) }
	add("long-source-unchanged", FieldVersions{Base: digest(long("a")), HasBase: true, Ours: long("b"), Theirs: long("a")}, always(keep))
	add("long-source-only", FieldVersions{Base: digest(long("a")), HasBase: true, Ours: long("a"), Theirs: long("b")}, always(take))
	add("long-both", FieldVersions{Base: digest(long("a")), HasBase: true, Ours: long("b"), Theirs: long("c")}, both)

	for _, r := range rows {
		tm := times[r.times]
		v := r.v
		v.LocalAt = tm.local
		got := DecideField(v, r.policy, tm.in)
		if got != r.want {
			t.Errorf("%s/%s/%s: got %v %q, want %v %q", r.name, r.policy, r.times, got.Action, got.Winner, r.want.Action, r.want.Winner)
		}
		// needsLocalTime must hold wherever the decision depends on time.
		if !needsLocalTime(v) {
			for tn, tm2 := range times {
				v2 := v
				v2.LocalAt = tm2.local
				if d := DecideField(v2, r.policy, tm2.in); d != got {
					t.Errorf("%s/%s: needsLocalTime false but the decision changes with times (%s: %v)", r.name, r.policy, tn, d)
				}
			}
		}
	}
	if len(rows) < 100 {
		t.Fatal(fmt.Sprint("too few cases: ", len(rows)))
	}
}
