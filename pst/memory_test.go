package pst

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"crmbridge/fixtures"
)

// liveHeap returns the bytes of live Go heap objects after a full
// collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// The memory a walk holds grows with the PST's node and block counts (the
// b-trees go-pst keeps in memory), not with its size in bytes: apart from
// the b-trees it is the block cache and the one item being read. Measured
// as live heap after a collection (deterministic, unlike a peak), after
// Open and every 100 items of enron.pst's walk. With the old 64 × 64 KiB
// block cache the heap after Open was 5 MiB for 10,705 b-tree entries;
// the bound below is 1 MiB of cache plus 160 bytes per entry (go-pst's
// tidwall b-trees take about 80) plus 512 KiB for the open file's own
// state, and during the walk the largest item's attachments on top.
func TestWalkMemoryFollowsNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("collects garbage 25 times")
	}
	path := filepath.Join(fixtures.GoPSTData(t), "enron.pst")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("go-pst's sample enron.pst not found: %v", err)
	}
	base := liveHeap()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := int64(f.pst.NodeBTree.Len() + f.pst.BlockBTree.Len())
	bound := int64(cacheBlocks*cacheBlockSize) + 160*entries + 512<<10
	if got := liveHeap() - base; got > bound {
		t.Errorf("live heap after Open: %d KiB, want <= %d KiB (%d b-tree entries)", got>>10, bound>>10, entries)
	}
	var items, largest int64
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, drain(it))
		if items++; items%100 == 0 {
			// The item's content was read and dropped: only the
			// largest attachment read so far may still be in a buffer
			// the cache reuses.
			if got := liveHeap() - base; got > bound+largest {
				t.Errorf("item %d: live heap %d KiB, want <= %d KiB", items, got>>10, (bound+largest)>>10)
			}
		}
	}
	if items < 2000 {
		t.Fatalf("walked %d items, want enron's 2,178", items)
	}
	runtime.KeepAlive(f)
}
