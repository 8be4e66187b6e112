package bridge

import (
	"math/rand/v2"
	"testing"
)

// keyCounter numbers repeats as a map of counts does, across merges, and
// keeps 8 bytes per hash (plus the recent map) however many there are.
func TestKeyCounter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var c keyCounter
	want := map[uint64]uint32{}
	var hashes []uint64
	n := 3*keyCounterMerge + 123
	for i := range n {
		h := r.Uint64()
		switch {
		case i%1000 == 999: // a repeat of an earlier item, often one merged already
			h = hashes[r.IntN(len(hashes))]
		case i%5000 == 4999: // neighbours in the sorted order
			h = hashes[0] + 1
		}
		hashes = append(hashes, h)
		want[h]++
		if got := c.next(h); got != want[h] {
			t.Fatalf("item %d (hash %x): numbered %d, want %d", i, h, got, want[h])
		}
	}
	if len(c.sorted)+len(c.recent) != len(want) {
		t.Errorf("%d hashes kept once, want %d distinct", len(c.sorted)+len(c.recent), len(want))
	}
	if cap(c.sorted) > len(want) {
		t.Errorf("sorted slice capacity %d for %d hashes", cap(c.sorted), len(want))
	}
	if len(c.more) == 0 || len(c.more) > n/1000+n/5000+1 {
		t.Errorf("%d hashes counted as repeats", len(c.more))
	}
}
