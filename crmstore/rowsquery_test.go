package crmstore

import (
	"testing"
	"unsafe"
)

// TestRowsQuery: the multi-row INSERT of a shape is the expected text, and
// built once per Store: asking again returns the same string without
// allocating.
func TestRowsQuery(t *testing.T) {
	s := &Store{}
	for _, tc := range []struct {
		head, tail string
		rows, cols int
		want       string
	}{
		{"INSERT INTO t (a)", "", 1, 1, "INSERT INTO t (a) VALUES (?) "},
		{"INSERT INTO t (a, b, c)", "ON CONFLICT DO NOTHING", 2, 3, "INSERT INTO t (a, b, c) VALUES (?,?,?),(?,?,?) ON CONFLICT DO NOTHING"},
		{"INSERT INTO u (x, y)", "", 4, 2, "INSERT INTO u (x, y) VALUES (?,?),(?,?),(?,?),(?,?) "},
	} {
		q := s.rowsQuery(tc.head, tc.tail, tc.rows, tc.cols)
		if q != tc.want {
			t.Errorf("rowsQuery(%q, %q, %d, %d) = %q, want %q", tc.head, tc.tail, tc.rows, tc.cols, q, tc.want)
		}
		if again := s.rowsQuery(tc.head, tc.tail, tc.rows, tc.cols); unsafe.StringData(again) != unsafe.StringData(q) {
			t.Errorf("rowsQuery(%q, %d, %d) built the text again", tc.head, tc.rows, tc.cols)
		}
		if allocs := testing.AllocsPerRun(10, func() { s.rowsQuery(tc.head, tc.tail, tc.rows, tc.cols) }); allocs != 0 {
			t.Errorf("rowsQuery(%q, %d, %d) of a known shape allocates %v times", tc.head, tc.rows, tc.cols, allocs)
		}
	}
}
