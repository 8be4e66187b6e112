package main

import (
	"path/filepath"
	"runtime/metrics"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		live, held uint64
		want       int64
	}{
		{0, 0, 15 * mib},         // the floor
		{4 * mib, 0, 15 * mib},   // 2 × 4 + 6 = 14: the floor
		{5 * mib, 0, 16 * mib},   // 2 × 5 + 6 = 16
		{6 * mib, 0, 18 * mib},   // twice the live heap plus the runtime's overhead
		{10 * mib, 0, 26 * mib},  //
		{11 * mib, 0, 28 * mib},  // the ceiling reached
		{100 * mib, 0, 28 * mib}, // and kept
		// A bulk run's keys: allowed on top, one and a half times.
		{30 * mib, 20 * mib, 56 * mib},     // 2 × 10 + 6 + 1.5 × 20
		{21 * mib, 20 * mib, 45 * mib},     // the floor, + 1.5 × 20
		{60 * mib, 40 * mib, 88 * mib},     // the ceiling, + 1.5 × 40
		{5 * mib, 8 * mib, 22*mib + mib/2}, // held counted up to the live heap only: 15 + 1.5 × 5
	}
	for _, tc := range tests {
		if got := memoryLimit(tc.live, tc.held); got != tc.want {
			t.Errorf("memoryLimit(%d MiB, %d MiB) = %d MiB, want %d MiB", tc.live/mib, tc.held/mib, got/mib, tc.want/mib)
		}
	}
}

// TestLiveHeapMetric checks that the runtime still publishes the metric
// followLiveHeap reads, with the kind it expects: without it the limit would
// stay at the floor whatever the live heap.
func TestLiveHeapMetric(t *testing.T) {
	for _, d := range metrics.All() {
		if d.Name == "/gc/heap/live:bytes" {
			if d.Kind != metrics.KindUint64 {
				t.Fatalf("%s: kind %v, want uint64", d.Name, d.Kind)
			}
			s := []metrics.Sample{{Name: d.Name}}
			metrics.Read(s)
			if s[0].Value.Kind() != metrics.KindUint64 {
				t.Fatalf("%s read as kind %v", d.Name, s[0].Value.Kind())
			}
			return
		}
	}
	t.Fatal("runtime/metrics has no /gc/heap/live:bytes")
}

// The export command puts the memory limit's floor at the ceiling (its
// live heap is small and bounded: a limit following it only made the GC
// run more often): the limit followLiveHeap sets is then the ceiling
// whatever the live heap below it, and above it still grows with a bulk
// run's keys. Other commands keep memoryLimit's floor.
func TestExportRaisesMemoryFloor(t *testing.T) {
	const mib = 1 << 20
	t.Cleanup(func() { memoryFloor.Store(0) })
	memoryFloor.Store(0)
	if got := followedLimit(4*mib, 0); got != minMemoryLimit {
		t.Fatalf("before export: limit %d MiB, want the floor %d MiB", got/mib, minMemoryLimit/mib)
	}
	db := filepath.Join(t.TempDir(), "crm.db")
	if r := runCLI(t, false, "--db", db, "new", "contact", "firstname=Ann", "lastname=Lee"); r.code != 0 {
		t.Fatalf("new: %d %s", r.code, r.stderr)
	}
	if got := followedLimit(4*mib, 0); got != minMemoryLimit {
		t.Fatalf("after new: limit %d MiB, want the floor %d MiB", got/mib, minMemoryLimit/mib)
	}
	if r := runCLI(t, false, "--db", db, "export", "--vcf", filepath.Join(t.TempDir(), "c.vcf")); r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	for _, tc := range []struct {
		live, held uint64
		want       int64
	}{
		{0, 0, maxMemoryLimit},
		{4 * mib, 0, maxMemoryLimit},
		{100 * mib, 0, maxMemoryLimit},
		{30 * mib, 20 * mib, 56 * mib}, // memoryLimit's, above the floor
	} {
		if got := followedLimit(tc.live, tc.held); got != tc.want {
			t.Errorf("after export: followedLimit(%d MiB, %d MiB) = %d MiB, want %d MiB", tc.live/mib, tc.held/mib, got/mib, tc.want/mib)
		}
	}
}
