package crm

import "testing"

func TestJoinSplitSubject(t *testing.T) {
	for _, tc := range []struct{ subject, desc, joined string }{
		{"S", "", "S"},
		{"S", "body", "S\n\nbody"},
		{"S", "S\n\nbody", "S\n\nbody"}, // already there: not doubled
		{"S", "Sbody", "S\n\nSbody"},
		{"S", "\n\nbody", "S\n\n\n\nbody"},
	} {
		if got := JoinSubject(tc.subject, tc.desc); got != tc.joined {
			t.Errorf("JoinSubject(%q, %q) = %q, want %q", tc.subject, tc.desc, got, tc.joined)
		}
		want := tc.desc
		if tc.desc == "S\n\nbody" {
			want = "body" // the subject placed by an earlier send comes off
		}
		if got := SplitSubject(tc.subject, tc.joined); got != want {
			t.Errorf("SplitSubject(%q, %q) = %q, want %q", tc.subject, tc.joined, got, want)
		}
	}
}
