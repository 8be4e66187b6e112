package pstwrite

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/pst"
)

func TestWriteValidates(t *testing.T) {
	for _, tc := range []struct {
		name            string
		emails, persons int
		big             bool
	}{
		{"empty", 0, 0, false},
		{"small", 12, 5, false},
		{"multi-level b-trees and row matrices in subnodes", 700, 300, false},
		{"xxblock attachment", 3, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFixture(t, t.TempDir(), fixture(tc.emails, tc.persons, tc.big))
			for _, err := range validate(path, true) {
				t.Error(err)
			}
		})
	}
}

// TestValidatorOnOutlookFiles runs the validator over PSTs Outlook wrote
// (go-pst's samples), so its checks are known to hold for real files.
func TestValidatorOnOutlookFiles(t *testing.T) {
	for _, name := range []string{"support.pst", "enron.pst"} {
		path := goPSTSample(t, name)
		for _, err := range validate(path, false) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestValidatorFindsDamage checks that the validator notices a flipped
// byte in each kind of structure.
func TestValidatorFindsDamage(t *testing.T) {
	path := writeFixture(t, t.TempDir(), fixture(20, 5, false))
	good := readFile(t, path)
	free := -1 // a byte in space the AMap marks free
	for u := pageDataSize*8 - 1; u >= 0; u-- {
		if good[amapFirst+u/8]&(0x80>>(u%8)) == 0 {
			free = amapFirst + u*blockAlign + 7
			break
		}
	}
	for _, off := range []int{
		5,                         // dwCRCPartial
		300,                       // rgbFM, under dwCRCFull
		amapFirst + 3,             // AMap bits
		amapFirst + pageSize + 10, // PMap
		amapFirst + 4*pageSize,    // first block data
		free,                      // nothing there: must stay valid
	} {
		bad := bytes.Clone(good)
		bad[off] ^= 0x01
		p := t.TempDir() + "/bad.pst"
		if err := writeBytes(p, bad); err != nil {
			t.Fatal(err)
		}
		errs := validate(p, true)
		if off == free != (len(errs) == 0) {
			t.Errorf("flip at %#x: %d problems found %v", off, len(errs), errs)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a := readFile(t, writeFixture(t, t.TempDir(), fixture(40, 10, false)))
	b := readFile(t, writeFixture(t, t.TempDir(), fixture(40, 10, false)))
	if !bytes.Equal(a, b) {
		t.Fatal("the same input gave different files")
	}
}

func TestOwned(t *testing.T) {
	path := writeFixture(t, t.TempDir(), fixture(3, 1, false))
	b := readFile(t, path)
	if !Owned(bytes.NewReader(b)) {
		t.Fatal("our own file is not recognised")
	}
	// Outlook rewrites the header when it changes the file: dwUnique,
	// the B-tree roots, bidNextB. Any of them (CRCs fixed up) loses the mark.
	for _, off := range []int{40, 180 + 36, 516} {
		c := bytes.Clone(b)
		c[off]++
		binary.LittleEndian.PutUint32(c[4:], crc(c[8:8+471]))
		binary.LittleEndian.PutUint32(c[524:], crc(c[8:8+516]))
		if Owned(bytes.NewReader(c)) {
			t.Errorf("header changed at %d: still owned", off)
		}
	}
	if Owned(bytes.NewReader(readFile(t, goPSTSample(t, "support.pst")))) {
		t.Error("Outlook's file counted as ours")
	}
}

// TestBeyondFirstFMap writes a file of more than 128 AMap regions (32 MiB),
// so the first FMap page (MS-PST 2.2.2.7.4) is needed, and checks it with
// the validator and a reader.
func TestBeyondFirstFMap(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: writes 36 MiB")
	}
	path := filepath.Join(t.TempDir(), "big.pst")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := w.Folder(IPMSubtree, "Inbox", "IPF.Note")
	const n, size = 4, 9 << 20
	for i := range n {
		data := bytes.Repeat([]byte{byte(i), 1, 2, 3, 4, 5, 6, 7}, size/8)
		m := &Message{
			Props:       []Prop{String(Tag(0x001A), "IPM.Note"), String(Tag(0x0037), fmt.Sprintf("big %d", i))},
			Attachments: []Attachment{{Props: []Prop{Int32(Tag(0x3705), 1), String(Tag(0x3707), "big.bin")}, Data: bytes.NewReader(data)}},
		}
		if err := w.Add(inbox, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := readFile(t, path)
	if len(b) < amapFirst+(fmapFirstSize+1)*amapCover {
		t.Fatalf("only %d bytes: no FMap needed", len(b))
	}
	for _, err := range validate(path, true) {
		t.Error(err)
	}
	f, err := pst.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := 0
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range it.Attachments {
			rc, err := a.Open()
			if err != nil {
				t.Fatal(err)
			}
			k, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil || k != size {
				t.Errorf("%s: attachment %d bytes, %v", it.Subject, k, err)
			}
		}
		got++
	}
	if got != n {
		t.Errorf("%d items read, want %d", got, n)
	}
	// libpff too, on a file whose messages use no named property.
	if exec.Command("/usr/bin/python3", "-c", "import pypff").Run() == nil {
		out, err := exec.Command("/usr/bin/python3", "-c", pypffScript, path).CombinedOutput()
		if err != nil || strings.Count(string(out), "\n") != n {
			t.Errorf("pypff: %v\n%s", err, out)
		}
	}
}

// TestManySubnodes writes a message with more attachments than one
// SLBLOCK holds (340), so its subnode tree needs an SIBLOCK, and reads
// every attachment back.
func TestManySubnodes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "many.pst")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := w.Folder(IPMSubtree, "Inbox", "IPF.Note")
	const n = 400
	m := &Message{Props: []Prop{String(Tag(0x001A), "IPM.Note"), String(Tag(0x0037), "many")}}
	for i := range n {
		m.Attachments = append(m.Attachments, Attachment{
			Props: []Prop{Int32(Tag(0x3705), 1), String(Tag(0x3707), fmt.Sprintf("a%03d.txt", i))},
			Data:  strings.NewReader(strings.Repeat("x", i)),
		})
	}
	if err := w.Add(inbox, m); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, err := range validate(path, true) {
		t.Error(err)
	}
	f, err := pst.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if len(it.Attachments) != n {
			t.Fatalf("%d attachments, want %d", len(it.Attachments), n)
		}
		for i, a := range it.Attachments {
			if a.Name != fmt.Sprintf("a%03d.txt", i) || a.Size != int64(i) {
				t.Errorf("attachment %d: %s, %d bytes", i, a.Name, a.Size)
			}
		}
	}
	// libpff reads SIBLOCKs too. (libpst does not: readpst reports
	// "Unknown constant [0x102] at start of id2 values" for any message
	// with more than 340 subnodes, Outlook's or ours.)
	if exec.Command("/usr/bin/python3", "-c", "import pypff").Run() == nil {
		script := `
import sys, pypff
f = pypff.file()
f.open(sys.argv[1])
print(f.root_folder.get_sub_folder(0).get_sub_folder(1).get_sub_message(0).number_of_attachments)
`
		out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(n) {
			t.Errorf("pypff: %v: %s", err, out)
		}
	}
}
