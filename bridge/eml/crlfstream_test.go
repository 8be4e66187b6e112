package eml

import (
	"bytes"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"crmbridge/crm"
)

// crlfWriter writes content with CRLF line ends, whichever way the content
// is cut into writes; longestCRLFLine measures the lines as written.
func TestCRLFWriter(t *testing.T) {
	for _, c := range []struct {
		in, out string
		longest int
	}{
		{"", "", 0},
		{"abc", "abc", 3},
		{"a\nbc", "a\r\nbc", 2},
		{"a\r\nbc\r\n", "a\r\nbc\r\n", 3},
		{"\n\n", "\r\n\r\n", 1},
		{"a\r\r\nb", "a\r\r\nb", 3},
		{"a\rb\n", "a\rb\r\n", 4},
		{"x\r", "x\r", 2},
		{"mixed\r\nbare\nend", "mixed\r\nbare\r\nend", 6},
	} {
		for _, oneByte := range []bool{false, true} {
			var out bytes.Buffer
			var r io.Reader = strings.NewReader(c.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			if _, err := io.Copy(&crlfWriter{w: &out}, r); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.out {
				t.Errorf("%q (one byte at a time %v): wrote %q, want %q", c.in, oneByte, out.String(), c.out)
			}
		}
		if got, err := longestCRLFLine(iotest.HalfReader(strings.NewReader(c.in))); err != nil || got != c.longest {
			t.Errorf("%q: longest line %d (%v), want %d", c.in, got, err, c.longest)
		}
	}
}

// The streamed forms agree with crlf and longestLine, which the other
// parts still use, on random mixes of CR, LF and text.
func TestCRLFWriterAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 0))
	for range 2000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = "a\r\n"[r.IntN(3)]
		}
		var out bytes.Buffer
		if _, err := io.Copy(&crlfWriter{w: &out}, iotest.HalfReader(bytes.NewReader(b))); err != nil {
			t.Fatal(err)
		}
		want := crlf(bytes.Clone(b))
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("%q: wrote %q, crlf gives %q", b, out.Bytes(), want)
		}
		if got, _ := longestCRLFLine(bytes.NewReader(b)); got != longestLine(want) {
			t.Fatalf("%q: longest line %d, longestLine of crlf %d", b, got, longestLine(want))
		}
	}
}

// An attached message is written a buffer at a time, not read whole: a
// record with an 8 MiB message attachment is written allocating far less
// than that (before: the message read whole, then its CRLF copy), and the
// part holds the message with CRLF line ends.
func TestWriteMessageAttachmentAllocs(t *testing.T) {
	if raceDetector {
		// 4.6 MB against the 2 MiB bound under the race detector,
		// which drops sync.Pool objects at random.
		t.Skip("allocation bound not meaningful under the race detector (sync.Pool drops objects at random); make test runs it without")
	}
	var msg bytes.Buffer
	msg.WriteString("From: a@example.com\nSubject: inner\n\n")
	for msg.Len() < 8<<20 {
		msg.WriteString(strings.Repeat("line of the attached message ", 3) + "\n")
	}
	data := msg.Bytes()
	rec := crm.Record{Entity: crm.Email, Fields: map[string]string{"subject": "outer", "description": "see attached"},
		Attachments: []crm.Attachment{{Name: "inner.eml", MimeType: "message/rfc822", Size: int64(len(data)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := io.Copy(io.Discard, writerTo(rec))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(len(data))/4; got > limit {
		t.Errorf("writing a %d-byte attached message allocated %d bytes, want at most %d", len(data), got, limit)
	}
	var out bytes.Buffer
	if err := Write(&out, rec); err != nil {
		t.Fatal(err)
	}
	if want := crlf(bytes.Clone(data)); !bytes.Contains(out.Bytes(), want) || int64(out.Len()) != n {
		t.Errorf("the part does not hold the message with CRLF line ends (%d bytes written)", out.Len())
	}
	if !bytes.Contains(out.Bytes(), []byte("Content-Transfer-Encoding: 8bit")) {
		t.Error("message part not 8bit")
	}
}

// writerTo returns a reader of what Write writes for rec.
func writerTo(rec crm.Record) io.Reader {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Write(pw, rec)) }()
	return pr
}
