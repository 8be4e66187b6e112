package textcodec

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkFolded asserts the folding rules on out, the folding of line: CRLF
// line ends, at most 75 octets per physical line, continuations starting
// with a space, no valid UTF-8 sequence of line split across two physical
// lines, and unfolding giving back line.
func checkFolded(t *testing.T, line string, out []byte) {
	t.Helper()
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatalf("Fold(%q) does not end in CRLF: %q", line, out)
	}
	phys := strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n")
	for i, l := range phys {
		if len(l) > LineOctets {
			t.Fatalf("Fold(%q): line %d is %d octets", line, i+1, len(l))
		}
		if i > 0 && (l == "" || l[0] != ' ') {
			t.Fatalf("Fold(%q): continuation %d does not start with a space: %q", line, i+1, l)
		}
		if i > 0 {
			l = l[1:]
		}
		if strings.ContainsAny(l, "\r\n") && !strings.ContainsAny(line, "\r\n") {
			t.Fatalf("Fold(%q): line %d holds a line break", line, i+1)
		}
		// A valid sequence is split when a line starts with continuation
		// bytes that the previous line's tail completes.
		if i > 0 && l != "" && !utf8.RuneStart(l[0]) {
			prev := phys[i-1]
			for k := 1; k <= 3 && k <= len(prev); k++ {
				if r, n := utf8.DecodeRuneInString(prev[len(prev)-k:] + l); r != utf8.RuneError && n > k {
					t.Fatalf("Fold(%q): UTF-8 sequence split between lines %d and %d", line, i, i+1)
				}
			}
		}
	}
	if got := strings.ReplaceAll(string(out), "\r\n ", ""); got != line+"\r\n" {
		t.Fatalf("unfold(Fold(%q)) = %q", line, got)
	}
}

func TestFold(t *testing.T) {
	for _, tc := range []struct {
		line  string
		lines int // physical lines
	}{
		{"", 1},
		{"SUMMARY:short", 1},
		{"SUMMARY:" + strings.Repeat("a", 67), 1}, // exactly 75
		{"SUMMARY:" + strings.Repeat("a", 68), 2}, // 76
		{"SUMMARY:" + strings.Repeat("é", 200), 6},
		{"SUMMARY:" + strings.Repeat("€", 100), 5},
		{"SUMMARY:" + strings.Repeat("😀x", 50), 4},
		// Runs of bytes that are not UTF-8: each byte is a unit. The old
		// vCard copy looked for a rune start and never found one.
		{"TITLE:" + strings.Repeat("\x80", 100), 2},
		{strings.Repeat("\xff", 1000), 14},
		{strings.Repeat("\xe2\x82", 60), 2}, // truncated 3-octet sequences
		{"X:" + strings.Repeat("a", 72) + "日本", 2},
	} {
		out := Fold(nil, tc.line)
		checkFolded(t, tc.line, out)
		if n := bytes.Count(out, []byte("\r\n")); n != tc.lines {
			t.Errorf("Fold(%q) gave %d lines, want %d:\n%s", tc.line, n, tc.lines, out)
		}
	}
	// The character that would cross octet 75 moves whole to the next line.
	if got := string(Fold(nil, "X:"+strings.Repeat("a", 72)+"日本")); got != "X:"+strings.Repeat("a", 72)+"\r\n 日本\r\n" {
		t.Errorf("Fold moved %q", got)
	}
}

func TestFoldWriter(t *testing.T) {
	in := "BEGIN:VCALENDAR\r\nSUMMARY:" + strings.Repeat("€\x80", 60) + "\r\nEND:VCALENDAR\r\n"
	var buf bytes.Buffer
	fw := NewFoldWriter(&buf)
	// Written in pieces, as a streaming writer may be.
	for s := in; len(s) > 0; {
		n := min(7, len(s))
		if k, err := fw.Write([]byte(s[:n])); k != n || err != nil {
			t.Fatalf("Write = %d, %v", k, err)
		}
		s = s[n:]
	}
	want := Fold(Fold(Fold(nil, "BEGIN:VCALENDAR"), "SUMMARY:"+strings.Repeat("€\x80", 60)), "END:VCALENDAR")
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("FoldWriter wrote\n%q\nwant\n%q", buf.Bytes(), want)
	}
}

// FuzzFold folds arbitrary bytes, invalid UTF-8 included: it must
// terminate and meet every folding rule.
func FuzzFold(f *testing.F) {
	f.Add([]byte("SUMMARY:" + strings.Repeat("é", 100)))
	f.Add([]byte(strings.Repeat("\x80", 100)))
	f.Add([]byte("X:\xf0\x9f\x98\x80\xf0\x9f\x98\xe2\x82\xac\xc3"))
	f.Fuzz(func(t *testing.T, line []byte) {
		s := strings.NewReplacer("\r", "", "\n", "").Replace(string(line))
		checkFolded(t, s, Fold(nil, s))
	})
}
