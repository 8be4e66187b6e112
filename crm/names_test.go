package crm

import "testing"

func TestNamesAgree(t *testing.T) {
	full := func(s string) PersonName { return PersonName{Full: s} }
	parts := func(f, m, l string) PersonName { return PersonName{First: f, Middle: m, Last: l} }
	for _, tc := range []struct {
		a, b PersonName
		want bool
	}{
		{full("Jeff Smith"), full("Jeff Smith"), true},
		{full("Jeff Smith"), full("jeff  smith"), true},
		{full("Jeff Smith"), PersonName{}, true},
		{PersonName{}, PersonName{}, true},
		{full("J. Smith"), full("Jeff Smith"), true},
		{parts("J", "", "Smith"), parts("Jeff", "", "Smith"), true},
		{parts("Jeff", "A.", "Smith"), parts("Jeff", "", "Smith"), true},
		{full("Smith, Jeff"), parts("Jeff", "", "Smith"), true},
		{full("Jeff"), full("Jeff Smith"), true},
		{full("Smith"), full("Jeff Smith"), true},
		{full("Mr. Michael Angstadt Jr."), parts("Michael", "", "Angstadt"), true},
		{full("Forrest Hoge"), full("boogie"), false},
		{parts("Forrest", "", "Hoge"), parts("", "", "boogie"), false},
		{full("Jeff Smith"), full("John Smith"), false},
		{full("Jeff Smith"), full("Jeff Smyth"), false},
		{full("J. Smith"), full("K. Smith"), false},
		{full("J"), full("Jeff Smith"), false},
		{full("Ann Lee"), full("Lee Ann"), false},
	} {
		if got := NamesAgree(tc.a, tc.b); got != tc.want {
			t.Errorf("NamesAgree(%+v, %+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := NamesAgree(tc.b, tc.a); got != tc.want {
			t.Errorf("NamesAgree(%+v, %+v) = %v, want %v (swapped)", tc.b, tc.a, got, tc.want)
		}
	}
}
