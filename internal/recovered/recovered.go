// Package recovered counts the panics that crmbridge's readers and store
// turn into errors (one bad item must not stop a file), so that a test run
// can fail on any of them: a recovered panic is still a bug, and it would
// otherwise pass as an ordinary item error. Every recover() in the module
// calls Note; each package with such a recover has a TestMain that calls
// CheckMain, as mox's tests do with its panic counter.
//
// One exception is explicit: a panic raised inside a dependency the caller
// names as known to panic on corrupt input (go-pst on a damaged b-tree),
// which our code guards at that boundary. It is counted apart (Known) and
// reported, not failed, since our code cannot fix it.
package recovered

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
)

var (
	count, known atomic.Int64
	mu           sync.Mutex
	first        string // the first recovered value and its stack, for the report
)

// Note records the recovered value v (non-nil) and returns it. Call it
// directly in the deferred function that recovered, which still runs on
// the panicking goroutine's stack:
//
//	if r := recover(); r != nil { recovered.Note(r); ... }
//
// When the panic was raised in a package whose import path starts with one
// of knownIn, it counts as Known instead. Note is safe for concurrent use.
func Note(v any, knownIn ...string) any {
	if len(knownIn) > 0 {
		if fn := panicSite(); fn != "" {
			for _, k := range knownIn {
				if strings.HasPrefix(fn, k) {
					known.Add(1)
					return v
				}
			}
		}
	}
	if count.Add(1) == 1 {
		mu.Lock()
		first = fmt.Sprintf("%v\n%s", v, debug.Stack())
		mu.Unlock()
	}
	return v
}

// panicSite returns the function that raised the panic being recovered:
// the first frame outside package runtime below runtime.gopanic.
func panicSite() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	seenPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			seenPanic = true
		case seenPanic && !strings.HasPrefix(f.Function, "runtime."):
			return f.Function
		}
		if !more {
			return ""
		}
	}
}

// Count returns the number of panics recovered so far in this process,
// Known ones excluded. A fuzz target compares it before and after each
// input.
func Count() int64 { return count.Load() }

// Known returns the number of recovered panics raised in a dependency
// named as known to panic (see Note).
func Known() int64 { return known.Load() }

// CheckMain turns the exit code of testing.M.Run into a failure when any
// panic other than a Known one was recovered during the run, writing the
// first one with its stack to w. Known panics are reported on w without
// failing. Use it in TestMain: os.Exit(recovered.CheckMain(m.Run(), os.Stderr)).
func CheckMain(code int, w io.Writer) int {
	if k := known.Load(); k > 0 {
		fmt.Fprintf(w, "note: %d panic(s) recovered inside dependencies known to panic on corrupt input\n", k)
	}
	n := count.Load()
	if n == 0 {
		return code
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(w, "FAIL: %d panic(s) recovered during the tests (a recovered panic is a bug); the first: %s\n", n, first)
	if code == 0 {
		code = 1
	}
	return code
}

// TB is the part of testing.TB that FailOnPanic needs (this package does
// not import testing: production code calls Note).
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
}

// FailOnPanic fails t, a test or one fuzz input, when a panic is recovered
// while it runs: the readers turn panics into item errors, which would
// otherwise pass as the expected outcome of bad input.
func FailOnPanic(t TB) {
	t.Helper()
	before := Count()
	t.Cleanup(func() {
		if n := Count() - before; n > 0 {
			t.Errorf("%d panic(s) recovered into errors", n)
		}
	})
}
