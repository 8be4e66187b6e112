package pst

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"
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
