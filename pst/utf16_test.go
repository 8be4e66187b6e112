package pst

import (
	"testing"
	"unicode/utf16"
)

// utf16Cases are UTF-16LE inputs covering each branch of the decoder: ASCII,
// two- and three-byte UTF-8, a surrogate pair, unpaired surrogates (high
// alone, low alone, high at the end, high followed by a non-low unit), an
// odd trailing byte and NULs.
var utf16Cases = [][]byte{
	nil,
	{'A', 0},
	{'A', 0, 'b', 0, 0, 0},
	{0xE9, 0x00, 0x3B, 0x04, 0x2C, 0x20}, // é л € (2 and 3 bytes in UTF-8)
	{0x3D, 0xD8, 0x00, 0xDE},             // U+1F600 as a surrogate pair
	{0x3D, 0xD8, 'x', 0},                 // high surrogate, then not a low one
	{0x00, 0xDE, 'x', 0},                 // low surrogate alone
	{'x', 0, 0x3D, 0xD8},                 // high surrogate at the end
	{0x3D, 0xD8, 0x3D, 0xD8, 0x00, 0xDE}, // high, then a valid pair
	{'a', 0, 'b'},                        // odd trailing byte: dropped
	{0xFF, 0xFE, 'a', 0, 0xFF, 0xFF, 0xFD, 0xFF}, // BOM-like and non-characters pass through
}

// stdDecodeUTF16 is the reference: the standard library's decoder on the
// little-endian units.
func stdDecodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

func TestDecodeUTF16MatchesStdlib(t *testing.T) {
	for _, b := range utf16Cases {
		if got, want := decodeUTF16(b), stdDecodeUTF16(b); got != want {
			t.Errorf("decodeUTF16(% x) = %q, want %q", b, got, want)
		}
	}
}

// TestDecodeUTF16Allocs: the decoder builds the string in one allocation,
// not through []uint16 and []rune copies (PT_UNICODE strings are a fifth
// of the bytes an enron.pst import allocates).
func TestDecodeUTF16Allocs(t *testing.T) {
	var b []byte
	for range 50 { // long enough that no copy fits on the stack
		b = append(b, 'H', 0, 'e', 0, 'l', 0, 'l', 0, 0xE9, 0, 0x3D, 0xD8, 0x00, 0xDE, '!', 0)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = decodeUTF16(b) }); allocs > 1 {
		t.Errorf("decodeUTF16 allocates %v times, want at most 1", allocs)
	}
}

func FuzzDecodeUTF16(f *testing.F) {
	for _, b := range utf16Cases {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := decodeUTF16(b), stdDecodeUTF16(b); got != want {
			t.Errorf("decodeUTF16(% x) = %q, want %q", b, got, want)
		}
	})
}
