package recovered

import (
	"bytes"
	"strings"
	"testing"
)

// recoverFrom runs f and notes its panic as the readers do.
func recoverFrom(f func(), knownIn ...string) {
	defer func() {
		if r := recover(); r != nil {
			Note(r, knownIn...)
		}
	}()
	f()
}

func boom() { panic("boom") }

func TestCheckMain(t *testing.T) {
	defer count.Store(0) // this test's own panics are expected
	defer known.Store(0)
	var buf bytes.Buffer
	if code := CheckMain(0, &buf); code != 0 || buf.Len() != 0 {
		t.Fatalf("no panic: code %d, %q", code, buf.String())
	}
	// A panic raised in a package named as known counts apart.
	recoverFrom(boom, "crmbridge/internal/recovered.boom")
	if Count() != 0 || Known() != 1 {
		t.Fatalf("known panic: Count %d, Known %d", Count(), Known())
	}
	if code := CheckMain(0, &buf); code != 0 || !strings.Contains(buf.String(), "1 panic(s) recovered inside dependencies") {
		t.Fatalf("known panic: code %d, %q", code, buf.String())
	}
	// A runtime error in our code is not excused by a name that does not match.
	recoverFrom(func() {
		var s []int
		_ = s[len(s)+1:]
	}, "github.com/mooijtech/go-pst/")
	if Count() != 1 {
		t.Fatalf("Count = %d", Count())
	}
	buf.Reset()
	if code := CheckMain(0, &buf); code != 1 || !strings.Contains(buf.String(), "1 panic(s) recovered during the tests") || !strings.Contains(buf.String(), "slice bounds out of range") {
		t.Fatalf("after a panic: code %d, %q", code, buf.String())
	}
	if code := CheckMain(3, &buf); code != 3 {
		t.Fatalf("a failing run keeps its code: %d", code)
	}
}
