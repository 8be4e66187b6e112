package bridge

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/fixtures"
)

// The benchmarks below import and export generated files of realistic
// size (100,000 contacts as one vCard file, 10,000 mails as one mbox).
// Setup (generating the file, creating or filling the store) runs with
// the timer stopped. Besides time they report, sampled every 5 ms while
// the timed work runs, the high-water mark of the Go heap in use
// ("peak-heap-MiB") and how much the memory the runtime got from the OS
// grew ("sys-growth-MiB"). They take minutes; run them with
//
//	go test -run '^$' -bench 'VCF100k|Mbox10k' -benchtime 1x -count 5 ./bridge
//
// The whole-process figures (wall time and peak RSS of the crmbridge
// binary) come from bench/bench.sh.

const (
	benchContacts = 100_000
	benchMails    = 10_000
	benchSeed     = 1
)

// peakMem samples runtime.MemStats while the timed code runs and keeps the
// high-water mark of HeapInuse, and how far Sys (memory obtained from the
// OS, which never shrinks within a process) grew above its value at the
// first start: Sys alone would carry over from an earlier benchmark in the
// same process.
type peakMem struct {
	mu         sync.Mutex
	heap, sys  uint64
	sys0       uint64
	stop, done chan struct{}
}

// start begins sampling.
func (p *peakMem) start() {
	if p.sys0 == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		p.sys0 = ms.Sys
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			p.sample()
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (p *peakMem) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.mu.Lock()
	p.heap = max(p.heap, ms.HeapInuse)
	p.sys = max(p.sys, ms.Sys)
	p.mu.Unlock()
}

// end stops sampling after one last sample.
func (p *peakMem) end() {
	close(p.stop)
	<-p.done
	p.sample()
}

// report adds the high-water marks to the benchmark's results:
// peak-heap-MiB (HeapInuse) and sys-growth-MiB.
func (p *peakMem) report(b *testing.B) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b.ReportMetric(float64(p.heap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(p.sys-p.sys0)/(1<<20), "sys-growth-MiB")
}

// benchFile writes n items with write into dir/name.
func benchFile(b *testing.B, dir, name string, n int, write func(w *os.File, n int, seed int64) error) string {
	b.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := write(f, n, benchSeed); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchVCF(b *testing.B, dir string) string {
	return benchFile(b, dir, "big.vcf", benchContacts, func(f *os.File, n int, seed int64) error {
		return fixtures.WriteVCards(f, n, seed)
	})
}

// benchStore opens a fresh store in its own folder under dir.
func benchStore(b *testing.B, dir string) *crmstore.Store {
	b.Helper()
	d, err := os.MkdirTemp(dir, "store")
	if err != nil {
		b.Fatal(err)
	}
	s, err := crmstore.Open(context.Background(), filepath.Join(d, "crm.db"), crmstore.Options{Create: true, Write: true})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchImport imports path and checks that want records of entity e were
// created (or, with want < 0, that nothing failed).
func benchImport(b *testing.B, s *crmstore.Store, path string, opts ImportOptions, e crm.Entity, want int) {
	b.Helper()
	sum, err := Import(context.Background(), s, []string{path}, opts)
	if err != nil {
		b.Fatal(err)
	}
	if sum.Failed() {
		b.Fatalf("import failed: %s", sum)
	}
	if c := sum.Entities[e]; want >= 0 && (c == nil || c.Created != want) {
		b.Fatalf("import: want %d %s created: %s", want, e, sum)
	}
}

// closeStore closes s and removes its files.
func closeStore(b *testing.B, s *crmstore.Store, dir string) {
	b.Helper()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	ents, _ := filepath.Glob(filepath.Join(dir, "store*"))
	for _, e := range ents {
		os.RemoveAll(e)
	}
}

// benchFreshImport times importing path into a fresh store, once per
// iteration.
func benchFreshImport(b *testing.B, dir, path string, e crm.Entity, want int) {
	var p peakMem
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s := benchStore(b, dir)
		runtime.GC()
		p.start()
		b.StartTimer()
		benchImport(b, s, path, ImportOptions{}, e, want)
		b.StopTimer()
		p.end()
		closeStore(b, s, dir)
		b.StartTimer()
	}
	p.report(b)
}

// BenchmarkImportVCF100k imports one vCard file of 100,000 contacts into a
// fresh store.
func BenchmarkImportVCF100k(b *testing.B) {
	dir := b.TempDir()
	path := benchVCF(b, dir)
	benchFreshImport(b, dir, path, crm.Contact, benchContacts)
}

// BenchmarkReimportVCF100k imports the unchanged 100,000-contact file a
// second time: skipped by its fingerprint ("unchanged"), and read again
// item by item with Force ("force"), where every contact is unchanged.
func BenchmarkReimportVCF100k(b *testing.B) {
	dir := b.TempDir()
	path := benchVCF(b, dir)
	s := benchStore(b, dir)
	defer closeStore(b, s, dir)
	benchImport(b, s, path, ImportOptions{}, crm.Contact, benchContacts)
	for _, force := range []bool{false, true} {
		name := "unchanged"
		if force {
			name = "force"
		}
		b.Run(name, func(b *testing.B) {
			var p peakMem
			runtime.GC()
			p.start()
			b.ResetTimer()
			for range b.N {
				sum, err := Import(context.Background(), s, []string{path}, ImportOptions{Force: force})
				if err != nil {
					b.Fatal(err)
				}
				c := sum.Entities[crm.Contact]
				switch {
				case sum.Failed():
					b.Fatalf("re-import failed: %s", sum)
				case !force && sum.FilesUnchanged != 1:
					b.Fatalf("unchanged file was read: %s", sum)
				case force && (c == nil || c.Unchanged != benchContacts || c.Created+c.Updated != 0):
					b.Fatalf("forced re-import changed records: %s", sum)
				}
			}
			b.StopTimer()
			p.end()
			p.report(b)
		})
	}
}

// BenchmarkExportVCF100k writes all 100,000 contacts of a store as one
// vCard file, as `crmbridge export --vcf out.vcf --all` does.
func BenchmarkExportVCF100k(b *testing.B) {
	dir := b.TempDir()
	path := benchVCF(b, dir)
	s := benchStore(b, dir)
	defer closeStore(b, s, dir)
	benchImport(b, s, path, ImportOptions{}, crm.Contact, benchContacts)
	out := filepath.Join(dir, "out.vcf")
	var p peakMem
	runtime.GC()
	p.start()
	b.ResetTimer()
	for range b.N {
		res, err := Export(context.Background(), s, ExportOptions{VCF: out, All: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(res) != 1 || res[0].Records != benchContacts {
			b.Fatalf("export: %+v", res)
		}
	}
	b.StopTimer()
	p.end()
	p.report(b)
}

// BenchmarkImportMbox10k imports one mbox of 10,000 messages (every 4th
// with a small attachment) into a fresh store.
func BenchmarkImportMbox10k(b *testing.B) {
	dir := b.TempDir()
	path := benchFile(b, dir, "big.mbox", benchMails, func(f *os.File, n int, seed int64) error {
		return fixtures.WriteMbox(f, n, seed)
	})
	benchFreshImport(b, dir, path, crm.Email, benchMails)
}
