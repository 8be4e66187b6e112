package pstwrite

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	gopst "github.com/mooijtech/go-pst/v6/pkg"
)

// writeMany writes n small messages into one folder of a new PST at path:
// every message adds a node, blocks and a contents-table row. When sample
// is not nil it is called every 500 messages and before Close.
func writeMany(path string, n int, sample func()) error {
	w, err := Create(path, Options{})
	if err != nil {
		return err
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
			return err
		}
		if sample != nil && i%500 == 499 {
			sample()
		}
	}
	if sample != nil {
		sample()
	}
	return w.Close()
}

// TestMemoryBounded writes 4,000 and 40,000 messages into one folder, each
// in a fresh process of this test binary, and compares the largest live
// heap (after a collection, every 500 messages and before Close): memory
// must not grow with the number of messages. Live heap after a collection
// does not depend on when the collector ran, so the figure is the same
// under -race and on a loaded machine (the heap the runtime obtained,
// HeapSys, was not: 3.6 against 7.5 MiB under -race at load 25). Before the
// contents table's heap, its row index and the B-tree entries were
// streamed, 40,000 messages held several times the heap of 4,000.
func TestMemoryBounded(t *testing.T) {
	if s := os.Getenv("PSTW_MEM_N"); s != "" {
		n, _ := strconv.Atoi(s)
		var peak uint64
		sample := func() {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		if err := writeMany(filepath.Join(t.TempDir(), "many.pst"), n, sample); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("LIVEHEAP %d\n", peak)
		return
	}
	if testing.Short() {
		t.Skip("writes 44,000 messages")
	}
	heap := func(n int) uint64 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryBounded$", "-test.count=1")
		cmd.Env = append(os.Environ(), "PSTW_MEM_N="+strconv.Itoa(n))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%d messages: %v\n%s", n, err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "LIVEHEAP "); ok {
				h, _ := strconv.ParseUint(v, 10, 64)
				return h
			}
		}
		t.Fatalf("%d messages: no figure in\n%s", n, out)
		return 0
	}
	small, large := heap(4000), heap(40000)
	t.Logf("largest live heap: 4,000 messages %.2f MiB, 40,000 messages %.2f MiB", float64(small)/(1<<20), float64(large)/(1<<20))
	// Ten times the messages may cost at most 256 KiB more live heap: a
	// per-message cost of even 8 bytes would add 288 KB.
	if large > small+256<<10 {
		t.Errorf("heap grows with the number of messages: %d bytes for 4,000, %d for 40,000", small, large)
	}
}

// TestLargeContentsTable writes a folder whose contents table's heap has
// more than 136 blocks (block 0's HNHDR, HNBITMAPHDRs in blocks 8 and 136,
// written after the blocks they describe) and a row index BTH of two
// levels: the validator checks the heap and the index against the rows,
// go-pst reads the table's rows, pypff counts the folder's messages.
func TestLargeContentsTable(t *testing.T) {
	const n = 12000
	path := filepath.Join(t.TempDir(), "large.pst")
	if err := writeMany(path, n, nil); err != nil {
		t.Fatal(err)
	}
	for _, err := range validate(path, true) {
		t.Error(err)
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	p, err := gopst.New(fh)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	err = p.WalkFolders(func(fo *gopst.Folder) error {
		if fo.Name != "Inbox" {
			return nil
		}
		it, err := fo.GetMessageIterator()
		if err != nil {
			return err
		}
		for it.Next() {
			got++
		}
		return it.Err()
	})
	if err != nil || got != n {
		t.Errorf("go-pst: %d messages in Inbox (%v), want %d", got, err, n)
	}
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import pypff").Run() != nil {
		t.Skip("python3-pypff not installed")
	}
	out, err := exec.Command(py, "-c", `
import sys, pypff
f = pypff.file(); f.open(sys.argv[1])
top = f.root_folder.get_sub_folder(0)
for i in range(top.number_of_sub_folders):
    s = top.get_sub_folder(i)
    if s.name == "Inbox":
        print(s.number_of_sub_messages, s.get_sub_message(s.number_of_sub_messages - 1).subject)
`, path).CombinedOutput()
	if want := fmt.Sprintf("%d message number %d about the quarterly figures", n, n-1); err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("pypff: %q (%v), want %q", out, err, want)
	}
}
