package bridge

import (
	"bytes"
	"testing"
)

// FuzzDetect feeds raw bytes to Detect: it must not panic, and a UTF-8
// byte order mark never changes what a text file is taken for.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{
		"BEGIN:VCARD\r\nVERSION:3.0\r\n", "BEGIN:VCALENDAR\r\n", "From a@b Mon Jan  1 10:00:00 2024\nSubject: x\n",
		"  Subject: x\nFrom: a@b\n\nbody", "\n\nFrom 1844347792267117879@xxx\nX-GM-THRID: 1\n", "!BDN\x00", "\xff\xfeB\x00E\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := Detect(data)
		if bytes.HasPrefix(data, []byte("!BDN")) || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) ||
			bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
			return
		}
		if withBOM := Detect(append([]byte("\xef\xbb\xbf"), data...)); withBOM != got {
			t.Fatalf("Detect(%q) = %q, with a BOM %q", data, got, withBOM)
		}
	})
}
