package pst

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"crmbridge/fixtures"
)

// TestStrReadAllocs: reading a long string property stored
// outside the property context (a body) allocates about the decoded
// string, not the raw UTF-16 bytes too: those are read into a reused
// buffer. Measured on enron.pst's longest body read through a property
// reader, as bytes allocated per read (runtime.MemStats.TotalAlloc, with
// the collector off so that the buffer is not dropped between reads).
func TestStrReadAllocs(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	path := filepath.Join(fixtures.GoPSTData(t), "enron.pst")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("go-pst's sample enron.pst not found: %v", err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var best *bag
	var bestSize int64
	n := 0
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if it.NodeID == 0 || len(it.Body) < 8<<10 {
			continue
		}
		if n++; n > 300 {
			break
		}
		b, err := f.nodeBag(it.NodeID)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := b.find(tagBody)
		if !ok || len(p.Data) > 0 || p.Type != ptUnicode {
			continue
		}
		if _, size, err := b.reader(p); err == nil && size > bestSize {
			best, bestSize = b, size
		}
	}
	if best == nil || bestSize < 16<<10 {
		t.Fatalf("no body of 16 KiB or more read through a property reader in enron.pst's first items (largest %d bytes)", bestSize)
	}
	s := best.str(tagBody) // the first read may allocate the buffer
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const reads = 10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range reads {
		s = best.str(tagBody)
	}
	runtime.ReadMemStats(&after)
	per := int64(after.TotalAlloc-before.TotalAlloc) / reads
	// The string (len(s) bytes) plus the property reader's own state;
	// reading the raw bytes too would add bestSize (about 2 x len(s)).
	if bound := int64(len(s)) + 8<<10; per > bound {
		t.Errorf("str of a %d-byte UTF-16 body (%d bytes decoded) allocates %d bytes per read, want <= %d", bestSize, len(s), per, bound)
	}
}
