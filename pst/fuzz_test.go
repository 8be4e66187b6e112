package pst

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"crmbridge/internal/recovered"
)

// FuzzOpenWalk opens arbitrary bytes as a PST and walks every item and
// attachment: it must return errors, never panic or hang, and yield only
// well-formed items or *ItemError.
func FuzzOpenWalk(f *testing.F) {
	for _, p := range fuzzSeeds(f) {
		data, err := os.ReadFile(p)
		if err == nil {
			f.Add(data)
		}
	}
	// Our own small seeds: an empty file, a bare header of each format.
	f.Add([]byte{})
	for _, v := range []uint16{versionANSI1, versionUnicode2, versionUnicode4k} {
		h := make([]byte, 1024)
		copy(h, "!BDN")
		copy(h[8:], "SM")
		binary.LittleEndian.PutUint16(h[hdrVersionOffset:], v)
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recovered.FailOnPanic(t)
		pf, err := OpenReader(bytes.NewReader(data), int64(len(data)), "fuzz.pst")
		if err != nil {
			if pf != nil {
				t.Fatal("File and error both returned")
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// Every yield reads at least a node from the file, and folders and
		// messages are NIDs of distinct nodes: more yields than the file
		// could hold nodes means a loop.
		limit := len(data)/16 + 64
		n := 0
		for it, err := range pf.Items(ctx) {
			n++
			if n > limit {
				t.Fatalf("more than %d yields from %d bytes", limit, len(data))
			}
			if err != nil {
				var ie *ItemError
				if !errors.As(err, &ie) {
					t.Fatalf("error %v is not an *ItemError", err)
				}
				continue
			}
			if it == nil || it.Kind < KindEmail || it.Kind > KindNote || it.Index < 1 {
				t.Fatalf("bad item %+v", it)
			}
			if got := drain(it); got > int64(len(data))*int64(len(it.Attachments)+1) {
				t.Fatalf("read %d attachment bytes from a %d-byte file", got, len(data))
			}
		}
	})
}

// fuzzSeeds returns the small corpus PSTs (the large ones slow fuzzing).
func fuzzSeeds(tb testing.TB) []string {
	var out []string
	for _, name := range []string{file32bit, fileJapanese, fileSubmessage} { // 64–265 KiB; the larger files make fuzzing crawl
		if p, ok := corpusPSTsNoSkip(tb)[name]; ok {
			out = append(out, p)
		}
	}
	return out
}

// FuzzRTF runs the compressed-RTF decoder and the RTF-to-text converter on
// arbitrary bytes: no panic, output bounded by the declared raw size.
func FuzzRTF(f *testing.F) {
	f.Add([]byte{
		0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7,
		0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20,
		0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f,
		0xa0,
	})
	f.Add([]byte(`{\rtf1\ansi\ansicpg1252\fromhtml1 {\*\htmltag64 <html>}\htmlrtf {\htmlrtf0 Hi \'e9\u233?}}`))
	f.Add([]byte("\x10\x00\x00\x00\x04\x00\x00\x00MELA\x00\x00\x00\x00{\\rtf1 x}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recovered.FailOnPanic(t)
		if out, err := decompressRTF(data); err == nil {
			raw := int(binary.LittleEndian.Uint32(data[4:]))
			if len(out) > raw {
				t.Fatalf("%d bytes out, raw size %d", len(out), raw)
			}
		}
		text, _ := rtfText(data)
		if len(text) > 4*len(data)+16 {
			t.Fatalf("%d bytes of text from %d bytes of RTF", len(text), len(data))
		}
	})
}
