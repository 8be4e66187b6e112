package textcodec

import (
	"bytes"
	"strings"
	"testing"
)

func TestDecodeQP(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"caf=C3=A9", "café"},
		{"caf=c3=a9", "café"},
		{"a=3Db", "a=b"},
		{"bad=ZZ=4", "bad=ZZ=4"},
		{"soft=", "soft"},
		{"soft=  \t", "soft"},
		{"one=\r\ntwo", "onetwo"},
		{"one=\ntwo", "onetwo"},
		{"one= \t\r\ntwo", "onetwo"},
		{"line\r\nbreak", "line\r\nbreak"},
		{"=\r", "=\r"},
		{"=4", "=4"},
		{"x=4\x80=FF", "x=4\x80\xff"},
	} {
		if got := string(DecodeQP([]byte(tc.in))); got != tc.want {
			t.Errorf("DecodeQP(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAppendQP(t *testing.T) {
	for _, tc := range []struct{ head, in, want string }{
		{"NOTE:", "plain", "NOTE:plain\r\n"},
		{"NOTE:", "a=b", "NOTE:a=3Db\r\n"},
		{"NOTE:", "line 1\nline 2 \n", "NOTE:line 1=0D=0Aline 2=20=0D=0A\r\n"},
		{"NOTE:", "crlf\r\nx", "NOTE:crlf=0D=0Ax\r\n"},
		{"NOTE:", "é\x80", "NOTE:=C3=A9=80\r\n"},
		{"NOTE:", "\uFFFD", "NOTE:=EF=BF=BD\r\n"}, // a valid U+FFFD is three bytes, all written
		{"NOTE:", "end ", "NOTE:end=20\r\n"},
		{"N:", strings.Repeat("a", 72) + " b", "N:" + strings.Repeat("a", 72) + "=\r\n=20b\r\n"},
		{"N:", strings.Repeat("a", 70) + "€", "N:" + strings.Repeat("a", 70) + "=\r\n=E2=82=AC\r\n"},
	} {
		if got := string(AppendQP(nil, tc.head, tc.in)); got != tc.want {
			t.Errorf("AppendQP(%q, %q) =\n%q\nwant\n%q", tc.head, tc.in, got, tc.want)
		}
	}
}

// FuzzQP encodes arbitrary bytes: every physical line is within 75
// octets, no continuation starts with a space, and decoding gives the
// bytes back (newlines as CRLF).
func FuzzQP(f *testing.F) {
	f.Add([]byte("Line 1\nLine 2 = end "))
	f.Add([]byte(strings.Repeat("€\x80 ", 40)))
	f.Add([]byte("=0D=0A\r\n\r"))
	f.Fuzz(func(t *testing.T, v []byte) {
		out := AppendQP(nil, "NOTE;ENCODING=QUOTED-PRINTABLE:", string(v))
		if !bytes.HasSuffix(out, []byte("\r\n")) {
			t.Fatalf("no CRLF at the end: %q", out)
		}
		lines := bytes.Split(bytes.TrimSuffix(out, []byte("\r\n")), []byte("\r\n"))
		for i, l := range lines {
			if len(l) > LineOctets || bytes.ContainsAny(l, "\r\n") || (i > 0 && len(l) > 0 && l[0] == ' ') {
				t.Fatalf("bad line %d %q in %q", i+1, l, out)
			}
			if i < len(lines)-1 && !bytes.HasSuffix(l, []byte("=")) {
				t.Fatalf("line %d lacks its soft break: %q", i+1, l)
			}
		}
		body := bytes.TrimPrefix(bytes.TrimSuffix(out, []byte("\r\n")), []byte("NOTE;ENCODING=QUOTED-PRINTABLE:"))
		want := strings.ReplaceAll(strings.ReplaceAll(string(v), "\r\n", "\n"), "\n", "\r\n")
		if got := string(DecodeQP(body)); got != want {
			t.Fatalf("DecodeQP(AppendQP(%q)) = %q", v, got)
		}
	})
}
