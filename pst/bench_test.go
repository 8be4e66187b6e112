package pst

import (
	"context"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"crmbridge/fixtures"
)

// BenchmarkWalkEnron reads every item of go-pst's enron.pst with bodies,
// headers and attachment contents, through the block cache. It reports
// items and attachment bytes per walk and the peak heap in use (sampled).
func BenchmarkWalkEnron(b *testing.B) {
	path := filepath.Join(fixtures.GoPSTData(b), "enron.pst")
	if _, err := os.Stat(path); err != nil {
		b.Skip(err)
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		// runtime/metrics does not stop the world (ReadMemStats does).
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				metrics.Read(sample)
				if v := sample[0].Value.Uint64(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	b.ReportAllocs()
	var items, attBytes int64
	var reads, hits int64
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		items, attBytes = 0, 0
		for it, err := range f.Items(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			items++
			_ = len(it.Body) + len(it.BodyHTML)
			attBytes += drain(it)
		}
		reads, hits = f.cache.reads, f.cache.hits
		f.Close()
	}
	close(stop)
	b.ReportMetric(float64(items), "items/op")
	b.ReportMetric(float64(attBytes), "attbytes/op")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	if reads > 0 {
		b.ReportMetric(float64(hits)/float64(reads)*100, "cache-hit-%")
		b.ReportMetric(float64(reads-hits)*cacheBlockSize/(1<<20), "read-MiB")
	}
}

// BenchmarkWalkEnronNoCache is the same walk with go-pst reading the
// *os.File directly, for comparison.
func BenchmarkWalkEnronNoCache(b *testing.B) {
	path := filepath.Join(fixtures.GoPSTData(b), "enron.pst")
	fh, err := os.Open(path)
	if err != nil {
		b.Skip(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	b.ReportAllocs()
	for b.Loop() {
		f, err := openReaderCache(fh, st.Size(), "enron.pst", false)
		if err != nil {
			b.Fatal(err)
		}
		for it, err := range f.Items(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			drain(it)
		}
	}
}
