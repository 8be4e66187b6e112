package pst

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// corruptNode overwrites the data block of node nid in data with garbage.
func corruptNode(t *testing.T, data []byte, nid uint32) {
	t.Helper()
	f, err := OpenReader(bytes.NewReader(data), int64(len(data)), "x")
	if err != nil {
		t.Fatal(err)
	}
	bn, err := f.pst.GetDataBTreeNode(gopstID(nid))
	if err != nil {
		t.Fatalf("node %#x: %v", nid, err)
	}
	for i := bn.FileOffset; i < bn.FileOffset+int64(bn.Size); i++ {
		data[i] = byte(i*131 + 7)
	}
}

// subfolderNID finds the NID of a top-level folder of the IPM subtree.
func subfolderNID(t *testing.T, f *File, name string) uint32 {
	t.Helper()
	_, subs, err := f.folderTables(f.ipmNID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if n, _ := f.folderName(s); n == name {
			return s
		}
	}
	t.Fatalf("no folder %q", name)
	return 0
}

type walkResult struct {
	counts kindCounts
	errs   []*ItemError
}

func walkBytes(t *testing.T, data []byte) walkResult {
	t.Helper()
	f, err := OpenReader(bytes.NewReader(data), int64(len(data)), "damaged.pst")
	if err != nil {
		t.Fatal(err)
	}
	res := walkResult{counts: kindCounts{}}
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			var ie *ItemError
			if !errors.As(err, &ie) {
				t.Fatalf("error is not an *ItemError: %v", err)
			}
			res.errs = append(res.errs, ie)
			continue
		}
		res.counts[it.Kind.String()]++
	}
	return res
}

// One bad message yields one ItemError naming its folder and index; the
// rest of its folder and of the file still read.
func TestBadMessageDoesNotStopFolder(t *testing.T) {
	data := readFile(t, corpusFile(t, fileChunks))
	items := readAll(t, corpusFile(t, fileChunks))
	var victim *Item
	for _, it := range items {
		if it.Folder == "Sent Items" && it.Index == 3 {
			victim = it
		}
	}
	if victim == nil {
		t.Fatal("no Sent Items item 3")
	}
	corruptNode(t, data, victim.NodeID)
	res := walkBytes(t, data)
	if len(res.errs) != 1 || res.errs[0].Folder != "Sent Items" || res.errs[0].Index != 3 {
		t.Fatalf("errors = %v, want one for Sent Items item 3", res.errs)
	}
	if msg := res.errs[0].Error(); msg[:len("damaged.pst: Sent Items: item 3: ")] != "damaged.pst: Sent Items: item 3: " {
		t.Errorf("Error() = %q", msg)
	}
	want := kindCounts{"email": 30, "contact": 21, "appointment": 9}
	if !equalCounts(res.counts, want) {
		t.Errorf("counts = %v, want %v", res.counts, want)
	}
}

// One bad folder (its contents table damaged) yields one ItemError for the
// folder; the other folders still read.
func TestBadFolderDoesNotStopWalk(t *testing.T) {
	data := readFile(t, corpusFile(t, fileChunks))
	f, err := OpenReader(bytes.NewReader(bytes.Clone(data)), int64(len(data)), "x")
	if err != nil {
		t.Fatal(err)
	}
	contacts := subfolderNID(t, f, "Contacts")
	corruptNode(t, data, contacts&^0x1F|nidTypeContentsTable)
	res := walkBytes(t, data)
	if len(res.errs) != 1 || res.errs[0].Folder != "Contacts" || res.errs[0].Index != 0 {
		t.Fatalf("errors = %v, want one for folder Contacts", res.errs)
	}
	want := kindCounts{"email": 31, "appointment": 9}
	if !equalCounts(res.counts, want) {
		t.Errorf("counts = %v, want %v", res.counts, want)
	}
}

// Truncated files give a clear error at open or ItemErrors, never a panic.
func TestTruncated(t *testing.T) {
	data := readFile(t, corpusFile(t, fileDuckDB))
	for _, n := range []int{0, 100, 511, 600, 4096, 20000, len(data) / 2, len(data) - 1} {
		f, err := OpenReader(bytes.NewReader(data[:n]), int64(n), "trunc.pst")
		if err != nil {
			continue
		}
		for _, err := range f.Items(context.Background()) {
			var ie *ItemError
			if err != nil && !errors.As(err, &ie) {
				t.Errorf("truncated at %d: %v is not an *ItemError", n, err)
			}
		}
	}
}
