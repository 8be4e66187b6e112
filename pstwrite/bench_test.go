package pstwrite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkManyMessages writes PSTW_N (default 20,000) small messages
// into one folder: the contents table grows with every message. Run it
// under /usr/bin/time to see the peak RSS (bench/pstwrite.sh rows).
func BenchmarkManyMessages(b *testing.B) {
	n := 20000
	if s := getenv("PSTW_N"); s != "" {
		fmt.Sscan(s, &n)
	}
	for range b.N {
		path := filepath.Join(b.TempDir(), "many.pst")
		w, err := Create(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		inbox, _ := w.Folder(IPMSubtree, "Inbox", "IPF.Note")
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range n {
			m := &Message{Props: []Prop{
				String(Tag(0x001A), "IPM.Note"),
				String(Tag(0x0037), fmt.Sprintf("message number %d about the quarterly figures", i)),
				String(Tag(0x0042), "Sender Name"), String(Tag(0x0E04), "Some Recipient; Another One"),
				Time(Tag(0x0E06), t0.Add(time.Duration(i)*time.Minute)),
				String(Tag(0x1000), "short body"),
			}}
			if err := w.Add(inbox, m); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
