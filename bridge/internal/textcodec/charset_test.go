package textcodec

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestToUTF8(t *testing.T) {
	for _, tc := range []struct {
		name, in, charset, want string
		unknown                 bool
	}{
		{"ascii", "plain", "", "plain", false},
		{"valid UTF-8 kept", "2005年日本", "", "2005年日本", false},
		{"one stray byte in UTF-8 text", "2005年\x80日本", "", "2005年\uFFFD日本", false},
		{"truncated last character", "日本\xe8\xaa", "", "日本\uFFFD\uFFFD", false},
		{"Windows-1252 text", "M\xfcller \x93x\x94", "", "Müller “x”", false},
		{"Windows-1252 with declared UTF-8", "M\xfcller", "UTF-8", "Müller", false},
		{"declared Latin-1 is read as Windows-1252", "caf\xe9 \x80", "iso-8859-1", "café €", false},
		{"declared charset applies only when not UTF-8 at all", "café", "ISO-8859-1", "café", false},
		{"declared Latin-2", "\xb1", "iso-8859-2", "ą", false},
		{"declared Shift_JIS", "\x93\xfa\x96\x7b", "Shift_JIS", "日本", false},
		{"legacy bytes beside a valid sequence stay UTF-8", "Ã© and \xe9", "", "Ã© and \uFFFD", false},
		{"declared EUC-KR with a UTF-8 sequence by chance", "\xc7\xd1\xb1\xb9\xb8\xbb\xb7\xce", "EUC-KR", "한국말로", false},
		{"declared Latin-1 wins over a broken UTF-8 reading", "Ã© \xe9", "latin1", "ÃƒÂ© é", false},
		{"UTF-8 under another label", "2005年\x80", "unicode-1-1-utf-8", "2005年\uFFFD", false},
		{"RFC 2231 language suffix", "caf\xe9", "iso-8859-1*fr", "café", false},
		{"quoted label", "\xe9", `"windows-1252"`, "é", false},
		{"unknown charset falls back", "caf\xe9", "x-no-such", "café", true},
		{"unknown charset keeps UTF-8", "café", "x-no-such", "café", true},
		{"UTF-16 is always decoded", "\x00h\x00i", "utf-16be", "hi", false},
		{"ISO-2022-JP is always decoded", "\x1b$BF|K\\\x1b(B", "iso-2022-jp", "日本", false},
		{"UTF-7", "Hi +ZeVnLA-!", "utf-7", "Hi 日本!", false},
		{"UTF-7 literal plus", "1 +- 1", "UTF-7", "1 + 1", false},
		{"surrogate bytes are invalid", "\xed\xa0\x80", "", "\u00ed\u00a0\u20ac", false},
		{"empty", "", "", "", false},
	} {
		got, err := ToUTF8([]byte(tc.in), tc.charset)
		if got != tc.want {
			t.Errorf("%s: ToUTF8(%q, %q) = %q, want %q", tc.name, tc.in, tc.charset, got, tc.want)
		}
		if errors.Is(err, ErrUnknownCharset) != tc.unknown || (err != nil && !tc.unknown) {
			t.Errorf("%s: error %v", tc.name, err)
		}
	}
}

func TestNotUTF8(t *testing.T) {
	for in, want := range map[string]bool{
		"":            false,
		"ascii":       false,
		"\x80":        true,
		"M\xfcller":   true,
		"é\x80":       false,
		"2005年日本\xff": false,
	} {
		if got := NotUTF8([]byte(in)); got != want {
			t.Errorf("NotUTF8(%q) = %v", in, got)
		}
	}
}

// FuzzToUTF8 converts arbitrary bytes under a few declared charsets: the
// result is valid UTF-8, valid UTF-8 input comes back unchanged, and
// input with a valid multi-byte sequence keeps every valid character.
func FuzzToUTF8(f *testing.F) {
	f.Add([]byte("2005年\x80日本"), "")
	f.Add([]byte("M\xfcller"), "iso-8859-1")
	f.Add([]byte("+ZeVnLA-"), "utf-7")
	f.Add([]byte("\x1b$B"), "iso-2022-jp")
	f.Fuzz(func(t *testing.T, b []byte, charset string) {
		got, _ := ToUTF8(b, charset)
		if !utf8.ValidString(got) {
			t.Fatalf("ToUTF8(%q, %q) = %q, not UTF-8", b, charset, got)
		}
		label := normalizeLabel(charset)
		if _, stateful := lookupCharset(label); (stateful && !isUTF8(label)) || isUTF7(label) {
			return
		}
		if utf8.Valid(b) && got != string(b) {
			t.Fatalf("ToUTF8(%q, %q) = %q changed valid UTF-8", b, charset, got)
		}
		if !NotUTF8(b) {
			if want := strings.ToValidUTF8(string(b), "\uFFFD"); strings.ReplaceAll(got, "\uFFFD", "") != strings.ReplaceAll(want, "\uFFFD", "") {
				t.Fatalf("ToUTF8(%q, %q) = %q, lost valid characters", b, charset, got)
			}
		}
	})
}
