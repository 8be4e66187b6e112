package pst

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// countingReader counts ReadAt calls.
type countingReader struct {
	r     io.ReaderAt
	mu    sync.Mutex
	calls int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.r.ReadAt(p, off)
}

func TestBlockCacheMatchesSource(t *testing.T) {
	data := make([]byte, 1<<20+123)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	src := &countingReader{r: bytes.NewReader(data)}
	c := newBlockCache(src, int64(len(data)), 4096, 8)
	for i := 0; i < 5000; i++ {
		off := rng.Int64N(int64(len(data)) + 100)
		n := rng.IntN(20000)
		got := make([]byte, n)
		m, err := c.ReadAt(got, off)
		want := make([]byte, n)
		wm, werr := bytes.NewReader(data).ReadAt(want, off)
		if m != wm || !bytes.Equal(got[:m], want[:wm]) {
			t.Fatalf("ReadAt(%d, %d) = %d bytes, want %d", n, off, m, wm)
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("ReadAt(%d, %d) error %v, want %v", n, off, err, werr)
		}
	}
	if c.lru.Len() > 8 || len(c.blocks) > 8 {
		t.Errorf("cache holds %d blocks, bound is 8", c.lru.Len())
	}
	if c.hits == 0 {
		t.Error("no cache hits")
	}
}

func TestBlockCacheFewerReads(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB
	src := &countingReader{r: bytes.NewReader(data)}
	c := newBlockCache(src, int64(len(data)), 64<<10, 4)
	buf := make([]byte, 8)
	for off := int64(0); off+8 <= int64(len(data)); off += 64 {
		if _, err := c.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	if src.calls != 4 {
		t.Errorf("%d reads of the source for a sequential scan of 4 blocks, want 4", src.calls)
	}
}

func TestBlockCacheConcurrent(t *testing.T) {
	data := make([]byte, 300000)
	for i := range data {
		data[i] = byte(i % 251)
	}
	c := newBlockCache(bytes.NewReader(data), int64(len(data)), 1024, 4)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 9))
			buf := make([]byte, 3000)
			for i := 0; i < 500; i++ {
				off := rng.Int64N(int64(len(data) - len(buf)))
				if _, err := c.ReadAt(buf, off); err != nil {
					t.Error(err)
					return
				}
				for k, b := range buf {
					if b != byte((off+int64(k))%251) {
						t.Errorf("byte %d wrong", off+int64(k))
						return
					}
				}
			}
		}(uint64(g))
	}
	wg.Wait()
}

func mvBytes(values ...[]byte) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(values)))
	off := 4 + 4*len(values)
	for _, v := range values {
		b = binary.LittleEndian.AppendUint32(b, uint32(off))
		off += len(v)
	}
	for _, v := range values {
		b = append(b, v...)
	}
	return b
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func TestMultiValues(t *testing.T) {
	good := mvBytes([]byte("ab"), nil, []byte("cde"))
	got := multiValues(good)
	if len(got) != 3 || string(got[0]) != "ab" || len(got[1]) != 0 || string(got[2]) != "cde" {
		t.Errorf("multiValues = %q", got)
	}
	bad := [][]byte{
		nil,
		{1, 0},
		{0xFF, 0xFF, 0xFF, 0x7F}, // count far beyond the value
		append(binary.LittleEndian.AppendUint32(nil, 1), 0xFF, 0xFF, 0, 0), // offset outside
	}
	for _, b := range bad {
		if v := multiValues(b); len(v) != 0 {
			t.Errorf("multiValues(%x) = %q, want none", b, v)
		}
	}
}

func TestFiletime(t *testing.T) {
	tests := []struct {
		ft   uint64
		want time.Time
	}{
		{0, time.Time{}},
		{116444736000000000, time.Unix(0, 0).UTC()},
		{130000000000000000, time.Date(2012, 12, 14, 23, 6, 40, 0, time.UTC)}, // date -u -d @1355526400
		{0x0CA8A4E2A3E3D800, time.Time{}},                                     // "none" (4501-01-01)
	}
	for _, tt := range tests {
		if got := filetime(tt.ft); !got.Equal(tt.want) {
			t.Errorf("filetime(%d) = %v, want %v", tt.ft, got, tt.want)
		}
	}
}

func TestLocalDate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1980-05-02T22:00:00Z", "1980-05-03T00:00:00Z"}, // UTC+2 midnight
		{"1980-05-03T05:00:00Z", "1980-05-03T00:00:00Z"}, // UTC-5 midnight
		{"1980-05-03T00:00:00Z", "1980-05-03T00:00:00Z"},
	}
	for _, tt := range tests {
		if got := localDate(mustTime(tt.in)); !got.Equal(mustTime(tt.want)) {
			t.Errorf("localDate(%s) = %v, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseOneOff(t *testing.T) {
	uni := append(append([]byte{0, 0, 0, 0}, oneOffProviderUID...), 0, 0, 0x01, 0x90)
	for _, s := range []string{"Hopper Cat", "SMTP", "hopper@example.com"} {
		uni = append(append(uni, utf16le(s)...), 0, 0)
	}
	r, ok := parseOneOff(uni)
	if !ok || r.Name != "Hopper Cat" || r.AddressType != "SMTP" || r.Address != "hopper@example.com" {
		t.Errorf("unicode one-off = %+v, %v", r, ok)
	}
	ansi := append(append([]byte{0, 0, 0, 0}, oneOffProviderUID...), 0, 0, 0x00, 0x00)
	ansi = append(ansi, "Linus\x00SMTP\x00linus@example.com\x00"...)
	if r, ok := parseOneOff(ansi); !ok || r.Address != "linus@example.com" {
		t.Errorf("8-bit one-off = %+v, %v", r, ok)
	}
	if _, ok := parseOneOff(ansi[:len(ansi)-3]); ok {
		t.Error("truncated one-off accepted")
	}
	wrapped := append(append([]byte{0, 0, 0, 0}, wrappedProviderUID...), 0x00)
	if r, ok := parseWrappedOneOff(append(wrapped, ansi...)); !ok || r.Name != "Linus" {
		t.Errorf("wrapped one-off = %+v, %v", r, ok)
	}
}

func TestGoidUID(t *testing.T) {
	// MS-OXCICAL 2.1.3.1.1.20.26: a GOID whose data is "vCal-Uid", version
	// 1, then the UID; otherwise the hex of the id.
	hdr := make([]byte, 40)
	copy(hdr, []byte{0x04, 0, 0, 0, 0x82, 0, 0xE0, 0, 0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08})
	vcal := append(append(bytes.Clone(hdr), "vCal-Uid\x01\x00\x00\x00"...), "040000008200E000-uid@example.com\x00"...)
	if got := goidUID(vcal); got != "040000008200E000-uid@example.com" {
		t.Errorf("vCal-Uid GOID → %q", got)
	}
	plain := append(bytes.Clone(hdr), 0xAB, 0xCD)
	if got := goidUID(plain); got != "040000008200E00074C5B7101A82E008000000000000000000000000000000000000000000000000ABCD" {
		t.Errorf("plain GOID → %q", got)
	}
	if goidUID(nil) != "" {
		t.Error("empty GOID gave a UID")
	}
}

func TestCodepages(t *testing.T) {
	tests := []struct {
		in   []byte
		cp   int
		want string
	}{
		{[]byte{0x93, 0xfa, 0x96, 0x7b}, 932, "日本"},
		{[]byte("caf\xe9"), 1252, "café"},
		{[]byte("\xcf\xf0\xe8\xe2\xe5\xf2"), 1251, "Привет"},
		{[]byte("plain"), 932, "plain"},
		{[]byte("caf\xc3\xa9"), 65001, "café"},
		// A UTF-8 claim (often only PidTagInternetCodepage, the HTML
		// body's charset) over bytes that are not UTF-8: Windows-1252.
		{[]byte("Sch\xf6ne Gr\xfcsse"), 65001, "Schöne Grüsse"},
		{[]byte("caf\xe9"), 99999, "café"}, // unknown: not UTF-8, read as 1252
	}
	for _, tt := range tests {
		if got := decodeCodepage(tt.in, tt.cp); got != tt.want {
			t.Errorf("decodeCodepage(%q, %d) = %q, want %q", tt.in, tt.cp, got, tt.want)
		}
	}
	for lcid, want := range map[int]int{0x0411: 932, 0x0409: 1252, 0x0419: 1251, 0x0804: 936, 0x0404: 950, 0x0415: 1250, 0x0C1A: 1251} {
		if got := lcidCodepage(lcid); got != want {
			t.Errorf("lcidCodepage(%#x) = %d, want %d", lcid, got, want)
		}
	}
	if ansiCodepage(50220) != 932 || ansiCodepage(28591) != 1252 || ansiCodepage(65001) != 65001 {
		t.Error("ansiCodepage mapping")
	}
}

func TestHeaderAddress(t *testing.T) {
	h := "Received: x\r\nFrom: \"Doe, Jane\" <jane@example.com>\r\nTo: a@b\r\n"
	if got := headerAddress(h, "From"); got != "jane@example.com" {
		t.Errorf("headerAddress = %q", got)
	}
	if got := headerAddress("From: bob@example.com\n", "From"); got != "bob@example.com" {
		t.Errorf("bare address = %q", got)
	}
	if got := headerAddress("Subject: x\n", "From"); got != "" {
		t.Errorf("missing From = %q", got)
	}
}

func TestRTFText(t *testing.T) {
	tests := []struct {
		name, rtf, want string
		html            bool
	}{
		{"plain", `{\rtf1\ansi\ansicpg1252{\fonttbl{\f0\fswiss Calibri;}}{\colortbl ;\red0\green0\blue0;}{\*\generator Riched20;}\pard\f0\fs22 Hello, world.\par Second\tab line\par}`, "Hello, world.\r\nSecond\tline\r\n", false},
		{"8-bit in ansicpg", `{\rtf1\ansi\ansicpg1251 \'cf\'f0\'e8\'e2\'e5\'f2}`, "Привет", false},
		{"unicode with fallback", `{\rtf1\ansi\uc1 caf\u233?\u-3913?}`, "café\uf0b7", false},
		{"escapes", `{\rtf1 a\{b\}c\\d}`, "a{b}c\\d", false},
		{"skipped destinations", `{\rtf1{\*\unknown hidden}{\info{\title T}}shown{\pict 0123}}`, "shown", false},
		// MS-OXRTFEX 3.1 (shortened): encapsulated HTML.
		{"fromhtml", `{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}{\*\htmltag64 <html>}{\*\htmltag72 <body>}\htmlrtf {\htmlrtf0 Hi \'e9\htmlrtf }\htmlrtf0{\*\htmltag88 <br>}\htmlrtf \par\htmlrtf0{\*\htmltag80 </body>}}`, "<html><body>Hi é<br></body>", true},
	}
	for _, tt := range tests {
		got, html := rtfText([]byte(tt.rtf))
		if got != tt.want || html != tt.html {
			t.Errorf("%s: rtfText = %q (html %v), want %q (html %v)", tt.name, got, html, tt.want, tt.html)
		}
	}
}

func TestDecompressRTF(t *testing.T) {
	// MS-OXRTFCP 3.1.1: compressing "{\rtf1\ansi\ansicpg1252\pard hello world}\r\n".
	comp := []byte{
		0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7,
		0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20,
		0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f,
		0xa0,
	}
	got, err := decompressRTF(comp)
	if want := "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"; err != nil || string(got) != want {
		t.Errorf("decompressRTF = %q, %v; want %q", got, err, want)
	}
	for _, bad := range [][]byte{nil, comp[:10], append(append([]byte{}, comp[:4]...), 0xff, 0xff, 0xff, 0x7f)} {
		if _, err := decompressRTF(bad); err == nil {
			t.Errorf("decompressRTF(%x) accepted", bad)
		}
	}
}
