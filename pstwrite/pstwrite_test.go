package pstwrite

import (
	"bytes"
	"encoding/binary"
	"testing"
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
