package eml

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// mboxGen produces an mbox of n messages on the fly, each with a
// base64 attachment of about 8 KiB, without holding the file in memory.
type mboxGen struct {
	n, i int
	buf  bytes.Buffer
}

func (g *mboxGen) Read(p []byte) (int, error) {
	for g.buf.Len() < len(p) && g.i < g.n {
		g.i++
		fmt.Fprintf(&g.buf, "From sender%d@example.com Mon Jan  1 10:00:00 2024\n", g.i)
		fmt.Fprintf(&g.buf, "From: Sender %d <sender%d@example.com>\nTo: a@example.com\nSubject: message %d\n", g.i, g.i, g.i)
		fmt.Fprintf(&g.buf, "Message-ID: <%d@example.com>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n", g.i)
		g.buf.WriteString("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n")
		g.buf.WriteString("Body line\n>From quoted\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
		for j := 0; j < 150; j++ {
			g.buf.WriteString("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\n")
		}
		g.buf.WriteString("--b--\n\n")
	}
	if g.buf.Len() == 0 {
		return 0, io.EOF
	}
	return g.buf.Read(p)
}

// TestMboxStreamsInBoundedMemory reads a generated 12 MB mbox and checks
// that the heap stays small: messages are read one at a time.
func TestMboxStreamsInBoundedMemory(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	r := NewMboxReader(&mboxGen{n: n}, "gen.mbox")
	var peak uint64
	var ms runtime.MemStats
	count := 0
	for {
		inc, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("message %d: %v", count+1, err)
		}
		count++
		if want := fmt.Sprintf("message %d", count); inc.Record.Fields["subject"] != want || len(inc.Record.Attachments) != 1 {
			t.Fatalf("message %d: subject %q, %d attachments", count, inc.Record.Fields["subject"], len(inc.Record.Attachments))
		}
		if !strings.Contains(inc.Record.Fields["description"], "\nFrom quoted") {
			t.Fatalf("message %d: body %q", count, inc.Record.Fields["description"])
		}
		if count%100 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if count != n {
		t.Fatalf("%d messages, want %d", count, n)
	}
	if peak > 8<<20 {
		t.Errorf("heap reached %d MiB reading a streamed mbox", peak>>20)
	}
	t.Logf("%d messages, peak live heap %.1f MiB", count, float64(peak)/(1<<20))
}

func BenchmarkMbox(b *testing.B) {
	var raw bytes.Buffer
	io.Copy(&raw, &mboxGen{n: 500})
	b.SetBytes(int64(raw.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r := NewMboxReader(bytes.NewReader(raw.Bytes()), "bench.mbox")
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// readMessage starts each message in a buffer of the last one's size: on
// an mbox of alike messages it allocates about one message's bytes per
// message, not the 2-4 times that growing from nothing costs.
func TestMboxReadBufferAllocs(t *testing.T) {
	if raceDetector {
		// The separator check's regexp keeps its matcher state in a
		// sync.Pool, which the race detector empties at random: 1.8 MB
		// more for these 199 messages, none of it the reader's buffers.
		t.Skip("allocation bound not meaningful under the race detector (sync.Pool drops objects at random); make test runs it without")
	}
	var raw bytes.Buffer
	io.Copy(&raw, &mboxGen{n: 200})
	r := NewMboxReader(bytes.NewReader(raw.Bytes()), "alike.mbox")
	if _, err := r.Next(); err != nil { // the first message, and the second's separator
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, size := 0, 0
	for r.from != nil {
		m, err := r.readMessage()
		if err != nil {
			t.Fatal(err)
		}
		n, size = n+1, size+len(m)
	}
	runtime.ReadMemStats(&after)
	if n != 199 {
		t.Fatalf("%d messages, want 199", n)
	}
	// The separators (one small slice each) and the slack of a
	// buffer an eighth larger than the message.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(size)*3/2; got > limit {
		t.Errorf("reading %d bytes of messages allocated %d bytes, want at most %d", size, got, limit)
	}
}
