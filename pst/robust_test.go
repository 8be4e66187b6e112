package pst

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	gopst "github.com/mooijtech/go-pst/v6/pkg"
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

// A hierarchy table that lists a folder's ancestor as its child (a cycle)
// yields one ItemError and the walk ends.
func TestFolderCycle(t *testing.T) {
	data := readFile(t, corpusFile(t, fileChunks))
	f, err := OpenReader(bytes.NewReader(bytes.Clone(data)), int64(len(data)), "x")
	if err != nil {
		t.Fatal(err)
	}
	child := subfolderNID(t, f, "Contacts")
	table := f.ipmNID&^0x1F | nidTypeHierarchyTable
	node, err := f.pst.GetNodeBTreeNode(gopstID(table))
	if err != nil {
		t.Fatal(err)
	}
	blocks := []gopst.Identifier{node.DataIdentifier}
	lds, err := f.localDescriptors(node.LocalDescriptorsIdentifier)
	if err != nil {
		t.Fatal(err)
	}
	for _, ld := range lds {
		blocks = append(blocks, ld.DataIdentifier)
	}
	// Replace the child's NID by the IPM subtree's own in the (permuted)
	// blocks of the hierarchy table: Contacts becomes the IPM subtree again.
	var from, to [4]byte
	binary.LittleEndian.PutUint32(from[:], child)
	binary.LittleEndian.PutUint32(to[:], f.ipmNID)
	enc := permuteEncoder()
	n := 0
	for _, bid := range blocks {
		bn, err := f.pst.GetBlockBTreeNode(bid)
		if err != nil {
			t.Fatal(err)
		}
		dec := (&gopst.HeapOnNodeReader{}).DecodeCompressibleEncryption(bytes.Clone(data[bn.FileOffset : bn.FileOffset+int64(bn.Size)]))
		n += bytes.Count(dec, from[:])
		dec = bytes.ReplaceAll(dec, from[:], to[:])
		for i, b := range dec {
			data[bn.FileOffset+int64(i)] = enc[b]
		}
	}
	if n == 0 {
		t.Fatal("child NID not found in the hierarchy table")
	}
	res := walkBytes(t, data)
	var cycles int
	for _, e := range res.errs {
		if strings.Contains(e.Err.Error(), "appears twice") {
			cycles++
		}
	}
	if cycles != 1 {
		t.Errorf("errors = %v, want one cycle report", res.errs)
	}
	// Contacts is no longer reachable; the other folders still read.
	if want := (kindCounts{"email": 31, "appointment": 9}); !equalCounts(res.counts, want) {
		t.Errorf("counts = %v, want %v", res.counts, want)
	}
}

// Random bit flips and overwrites never panic, and every yield is an item
// or an *ItemError (deterministic companion of FuzzOpenWalk).
func TestBitFlips(t *testing.T) {
	orig := readFile(t, corpusFile(t, fileSubmessage))
	rng := rand.New(rand.NewPCG(7, 11))
	iterations := 300
	if testing.Short() {
		iterations = 50
	}
	for i := 0; i < iterations; i++ {
		data := bytes.Clone(orig)
		for k := 0; k < 1+rng.IntN(16); k++ {
			p := 512 + rng.IntN(len(data)-520)
			if rng.IntN(2) == 0 {
				data[p] ^= byte(1 << rng.IntN(8))
			} else {
				binary.LittleEndian.PutUint32(data[p:], rng.Uint32())
			}
		}
		f, err := OpenReader(bytes.NewReader(data), int64(len(data)), "flipped.pst")
		if err != nil {
			continue
		}
		yields := 0
		for it, err := range f.Items(context.Background()) {
			yields++
			if yields > len(data)/16 {
				t.Fatalf("iteration %d: runaway walk", i)
			}
			var ie *ItemError
			if err != nil && !errors.As(err, &ie) {
				t.Fatalf("iteration %d: %v is not an *ItemError", i, err)
			}
			if it != nil {
				drain(it)
			}
		}
	}
}
