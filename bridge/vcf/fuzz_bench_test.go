package vcf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"crmbridge/bridge/item"
	"crmbridge/crm"
	"crmbridge/internal/recovered"
)

// FuzzReader feeds arbitrary bytes to the Reader: it must never panic,
// must stop, and must only return contacts, *item.Error or io.EOF.
func FuzzReader(f *testing.F) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "vcf")
	if files, err := filepath.Glob(filepath.Join(dir, "*")); err == nil {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	if b, err := os.ReadFile("testdata/outlook21.vcf"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"BEGIN:VCARD\nVERSION:2.1\nNOTE;ENCODING=QUOTED-PRINTABLE:a=\n=\nb=\nEND:VCARD\n",
		"BEGIN:VCARD\nPHOTO;ENCODING=BASE64:\n  AAAA\nAAAA\n\nEND:VCARD",
		"BEGIN:VCARD\rN:a\\;b;c\rEND:VCARD\r",
		"x.BEGIN:VCARD\nBEGIN:VCARD\nEND:VCARD\n",
		"BEGIN:VCARD\nTEL;TYPE=\"a,b\";PREF=0:tel:1;ext=\nBDAY:--0230\nEND:VCARD",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recovered.FailOnPanic(t)
		r := NewReader(bytes.NewReader(data), "f.vcf")
		for i := 0; ; i++ {
			if i > len(data)+10 {
				t.Fatalf("more results than input bytes")
			}
			inc, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var ie *item.Error
			if err != nil && !errors.As(err, &ie) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if err == nil {
				checkInvariants(t, "f.vcf", result{incs: []*crm.Incoming{inc}})
			} else {
				checkInvariants(t, "f.vcf", result{errs: []*item.Error{ie}})
			}
		}
	})
}

// syntheticCards is an io.Reader that generates n Outlook-style vCard 2.1
// and 3.0 cards on the fly, so a benchmark does not hold the file.
type syntheticCards struct {
	n, i int
	buf  bytes.Buffer
}

func newSyntheticCards(n int) *syntheticCards { return &syntheticCards{n: n} }

func (s *syntheticCards) Read(p []byte) (int, error) {
	for s.buf.Len() == 0 {
		if s.i == s.n {
			return 0, io.EOF
		}
		writeSyntheticCard(&s.buf, s.i)
		s.i++
	}
	return s.buf.Read(p)
}

// writeSyntheticCard writes contact i: every other card a 2.1 card with
// quoted-printable windows-1252 values, a soft line break and bare types,
// the others 3.0.
func writeSyntheticCard(w io.Writer, i int) {
	if i%2 == 0 {
		fmt.Fprintf(w, "BEGIN:VCARD\r\nVERSION:2.1\r\n"+
			"N;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:M=FCller%d;J=FCrgen;;;\r\n"+
			"FN;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:J=FCrgen M=FCller%d\r\n"+
			"ORG:Example %d;Sales\r\nTITLE:Manager\r\n"+
			"NOTE;ENCODING=QUOTED-PRINTABLE:First line=0D=0ASecond line of a note long enough to need a soft=\r\n"+
			" line break, as Outlook writes it.\r\n"+
			"TEL;WORK;VOICE:+1 555 01%05d\r\nTEL;CELL;VOICE:+1 555 02%05d\r\n"+
			"ADR;WORK;PREF:;;%d Main St;Springfield;IL;62701;United States of America\r\n"+
			"EMAIL;PREF;INTERNET:user%d@example.com\r\nBDAY:19800322\r\nREV:20240115T093000Z\r\nEND:VCARD\r\n",
			i, i, i%1000, i%100000, i%100000, i, i)
		return
	}
	fmt.Fprintf(w, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:uid-%d\r\nN:Doe%d;Jane;;;\r\nFN:Jane Doe%d\r\n"+
		"EMAIL;TYPE=INTERNET,WORK,pref:jane%d@example.org\r\nTEL;TYPE=HOME:+1 555 03%05d\r\n"+
		"ADR;TYPE=HOME:;;1 Elm St\\nApt 2;Shelbyville;IL;62565;USA\r\nCATEGORIES:a,b\r\nEND:VCARD\r\n",
		i, i, i, i, i%100000)
}

// BenchmarkRead100k reads a file of 100,000 generated cards (about 40 MB,
// written once to a temporary file so that B/op counts only the reader)
// and reports the peak heap in use, sampled every 1,000 cards.
func BenchmarkRead100k(b *testing.B) {
	const n = 100_000
	path := filepath.Join(b.TempDir(), "100k.vcf")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	size, err := io.Copy(f, newSyntheticCards(n))
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.SetBytes(size)
	b.ReportAllocs()
	var peak uint64
	var ms runtime.MemStats
	runtime.GC()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r := NewReader(f, "100k.vcf")
		count := 0
		for {
			_, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			count++
			if count%1000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
		f.Close()
		if count != n {
			b.Fatalf("%d contacts, want %d", count, n)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
