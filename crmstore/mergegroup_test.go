package crmstore

import (
	"testing"
	"time"
)

// TestDecideGroups checks that the span fields are decided as one value:
// whatever DecideField would say of each alone, they are all kept or all
// taken (a field equal on both sides is kept, which changes nothing).
func TestDecideGroups(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	older, newer := t0.Add(-time.Hour), t0.Add(time.Hour)
	names := []string{"isalldayevent", "scheduledend", "scheduledstart", "subject"}
	for _, c := range []struct {
		name   string
		fields []FieldVersions
		inAt   time.Time
		want   []Action // for the group fields given, in names order
	}{
		{"no base, one span field edited after the source: all kept",
			[]FieldVersions{
				{Ours: "true", Theirs: "false", LocalAt: older},
				{Ours: "2026-01-06T00:00:00Z", Theirs: "2026-01-05T11:00:00Z", LocalAt: newer},
				{Ours: "2026-01-05T00:00:00Z", Theirs: "2026-01-05T10:00:00Z", LocalAt: older},
				{Ours: "a", Theirs: "b", LocalAt: older},
			}, t0, []Action{MergeKeep, MergeKeep, MergeKeep}},
		{"no base, every local change older: all taken",
			[]FieldVersions{
				{Ours: "true", Theirs: "false", LocalAt: older},
				{Ours: "2026-01-06T00:00:00Z", Theirs: "2026-01-05T11:00:00Z", LocalAt: older},
				{Ours: "2026-01-05T00:00:00Z", Theirs: "2026-01-05T10:00:00Z", LocalAt: older},
				{Ours: "a", Theirs: "b", LocalAt: older},
			}, t0, []Action{MergeTake, MergeTake, MergeTake}},
		{"with base: source changed the start only, store the end: conflict for the group",
			[]FieldVersions{
				{Base: "false", HasBase: true, Ours: "false", Theirs: "false"},
				{Base: "2026-01-05T11:00:00Z", HasBase: true, Ours: "2026-01-05T12:00:00Z", Theirs: "2026-01-05T11:00:00Z", LocalAt: newer},
				{Base: "2026-01-05T10:00:00Z", HasBase: true, Ours: "2026-01-05T10:00:00Z", Theirs: "2026-01-05T09:00:00Z"},
				{Ours: "a", Theirs: "a"},
			}, t0, []Action{MergeKeep, MergeConflict, MergeConflict}},
		{"the source's whole span unchanged since its base: kept",
			[]FieldVersions{
				{Base: "true", HasBase: true, Ours: "false", Theirs: "true"},
				{Base: "2026-01-06T00:00:00Z", HasBase: true, Ours: "2026-01-05T11:00:00Z", Theirs: "2026-01-06T00:00:00Z"},
				{Base: "2026-01-05T00:00:00Z", HasBase: true, Ours: "2026-01-05T10:00:00Z", Theirs: "2026-01-05T00:00:00Z"},
				{Ours: "a", Theirs: "a"},
			}, t0, []Action{MergeKeep, MergeKeep, MergeKeep}},
	} {
		got, _ := decideGroups(names, c.fields, PolicyNewest, c.inAt)
		for i, n := range names[:3] {
			if got[n].Action != c.want[i] {
				t.Errorf("%s: %s %v, want %v", c.name, n, got[n].Action, c.want[i])
			}
		}
		if _, ok := got["subject"]; ok {
			t.Errorf("%s: subject is no group field", c.name)
		}
		if c.want[2] == MergeConflict && got["scheduledstart"].Winner != WinnerLocal {
			t.Errorf("%s: conflict won by %q, want local (its newest change is newer)", c.name, got["scheduledstart"].Winner)
		}
	}
	// A source that gives only the start decides the start alone.
	got, _ := decideGroups([]string{"scheduledstart"}, []FieldVersions{{Ours: "x", Theirs: "y", LocalAt: older}}, PolicyNewest, t0)
	if len(got) != 1 || got["scheduledstart"].Action != MergeTake {
		t.Errorf("start alone: %v", got)
	}
}
