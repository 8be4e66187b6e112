package textcodec

import (
	"reflect"
	"testing"
)

func TestUnescape(t *testing.T) {
	for _, tc := range []struct{ in, extra, want string }{
		{`plain`, "", `plain`},
		{`a\nb\Nc`, "", "a\nb\nc"},
		{`x\;y\,z\:w\\v`, "", `x;y,z:w\v`},
		{`q\"`, `"`, `q"`},
		{`q\"`, "", `q\"`},
		{`unknown\q`, "", `unknown\q`},
		{`trailing\`, "", `trailing\`},
	} {
		if got := Unescape(tc.in, tc.extra); got != tc.want {
			t.Errorf("Unescape(%q, %q) = %q, want %q", tc.in, tc.extra, got, tc.want)
		}
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`a;b;c`, []string{"a", "b", "c"}},
		{`a\;b;c`, []string{`a\;b`, "c"}},
		{`;;`, []string{"", "", ""}},
		{`a\\;b`, []string{`a\\`, "b"}},
	} {
		if got := Split(tc.in, ';'); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUnhex(t *testing.T) {
	for c, want := range map[byte]byte{'0': 0, '9': 9, 'a': 10, 'F': 15} {
		if got, ok := Unhex(c); !ok || got != want {
			t.Errorf("Unhex(%q) = %d %v", c, got, ok)
		}
	}
	if _, ok := Unhex('g'); ok {
		t.Error("Unhex('g') ok")
	}
}
