package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"crmbridge/crmstore"
)

// Bounds of the Go runtime's soft memory limit (memoryLimit), and the
// allowance for what the runtime maps besides the live heap's objects.
const (
	minMemoryLimit  = 15 << 20
	maxMemoryLimit  = 28 << 20
	runtimeOverhead = 6 << 20
)

// memoryLimit is the Go runtime's soft memory limit (debug.SetMemoryLimit)
// for a live heap of live bytes: twice the live heap plus runtimeOverhead,
// between minMemoryLimit and maxMemoryLimit.
//
// The limit counts all the memory the runtime maps (heap, free spans not
// yet returned, GC metadata, stacks: 8 to 9 MiB besides the live heap in an
// import), so near it the GC runs before GOGC's goal (twice the live heap)
// and returns freed pages at once. That trades GC cycles for resident
// memory, and pays where the live heap is small: enron.pst, live heap 3 to
// 6 MiB, runs 119 GC cycles instead of 55 (+0.15 s of GC CPU) and peaks
// 3.7 MiB lower; a 100,000-contact VCF import is not slower and peaks 3 MiB
// lower. The floor keeps a tiny heap from collecting every few
// allocations. It is 15 MiB, not 16, since PST strings are decoded
// without intermediate copies (a fifth fewer bytes allocated): enron.pst
// peaks 1 MiB lower for 3 % more CPU (about what 16 MiB cost before), a
// 100,000-contact VCF import 0.5 MiB lower for 2 % more CPU (its live heap
// averages 5.5 MB, where 2 x live + 6 MiB is above the floor). A floor
// that follows the GC's share of CPU would not tell the two apart: at
// 16 MiB the share is 7 to 12 % for enron.pst, 6 to 9 % for the VCF
// imports (runtime/metrics /cpu/classes/gc). The limit grows with the
// live heap, so that an import whose live heap grows is not held at the
// floor, up to the fixed limit this process had before (28 MiB), which
// bounds a large import's peak.
//
// held is the part of the live heap a bulk import keeps to find keys while
// their indexes are deferred (crmstore.BulkKeyBytes): pointer-free arrays
// the GC neither scans nor can free before the run's end. The limit allows
// one and a half times held on top: the arrays grow (each growth frees the
// array it replaces) and fragment the heap's spans. Counted as heap to
// collect they pushed a 1M-contact import's live heap above the ceiling
// and the GC ran without pause; allowed once, the GC still ran 65 times a
// second at the limit (26,698 cycles, 317 s of CPU, peak RSS 78 MiB);
// twice, 3,743 cycles, 182 s, 95 MiB; one and a half, 7,037 cycles, 193 s,
// 83 MiB.
func memoryLimit(live, held uint64) int64 {
	held = min(held, live)
	return min(max(2*int64(live-held)+runtimeOverhead, minMemoryLimit), maxMemoryLimit) + 3*int64(held)/2
}

// memoryFloor is a floor a command puts under memoryLimit's
// (raiseMemoryFloor), 0 for none; following says followLiveHeap sets the
// limit (the user did not, with GOMEMLIMIT).
var (
	memoryFloor atomic.Int64
	following   atomic.Bool
)

// raiseMemoryFloor keeps the soft memory limit at b or above from now on,
// when followLiveHeap sets it. It is for a command whose live heap its own
// design bounds, small and steady, where a limit that follows it only
// makes the GC run more often: export (see exportCommand).
func raiseMemoryFloor(b int64) {
	memoryFloor.Store(b)
	if following.Load() {
		debug.SetMemoryLimit(max(debug.SetMemoryLimit(-1), b))
	}
}

// followedLimit is the limit followLiveHeap sets: memoryLimit, or the
// floor a command raised when that is higher.
func followedLimit(live, held uint64) int64 {
	return max(memoryLimit(live, held), memoryFloor.Load())
}

// followLiveHeap sets the runtime's soft memory limit from the live heap
// and the bulk keys held (followedLimit), again after every GC cycle (checked every 50 ms), until ctx
// ends.
func followLiveHeap(ctx context.Context) {
	following.Store(true)
	debug.SetMemoryLimit(followedLimit(0, 0))
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				debug.SetMemoryLimit(followedLimit(sample[0].Value.Uint64(), uint64(max(crmstore.BulkKeyBytes(), 0))))
			}
		}
	}()
}
