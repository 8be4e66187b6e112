package vcf

import (
	"io"
	"strings"
	"testing"
)

// TestByteOrderMark checks that a UTF-8 byte order mark before the first
// card, or before a later one where files were concatenated, loses no card.
func TestByteOrderMark(t *testing.T) {
	card := func(fn string) string { return "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + fn + "\r\nEND:VCARD\r\n" }
	for _, tc := range []struct{ name, in string }{
		{"start", "\ufeff" + card("One") + card("Two")},
		{"concatenated", "\ufeff" + card("One") + "\ufeff" + card("Two")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readString(t, tc.in)
			checkInvariants(t, "t.vcf", res)
			if len(res.incs) != 2 || len(res.errs) != 0 {
				t.Fatalf("%d contacts, errors %v", len(res.incs), res.errs)
			}
			if a, b := res.incs[0].Record.Fields["fullname"], res.incs[1].Record.Fields["fullname"]; a != "One" || b != "Two" {
				t.Errorf("names %q, %q", a, b)
			}
		})
	}
}

// TestOversizedValue checks the per-value limit: a value longer than
// maxValue, folded (RFC 6350 3.2) or on one line, is skipped with a
// warning naming its line and property, and the contact keeps the rest.
func TestOversizedValue(t *testing.T) {
	if testing.Short() {
		t.Skip("reads ~20 MB")
	}
	folded := func(n int) io.Reader {
		// 75-octet lines, as RFC 6350 writers fold.
		line := " " + strings.Repeat("QUFB", 18) + "QU\r\n"
		return strings.NewReader(strings.Repeat(line, n/(len(line)-3)+1))
	}
	for _, tc := range []struct {
		name string
		in   io.Reader
	}{
		{"folded photo", io.MultiReader(strings.NewReader("BEGIN:VCARD\r\nVERSION:3.0\r\nPHOTO;ENCODING=b;TYPE=JPEG:QUFB\r\n"),
			folded(maxValue+1000), strings.NewReader("FN:Big Photo\r\nEMAIL:big@example.com\r\nEND:VCARD\r\n"))},
		{"one-line photo", io.MultiReader(strings.NewReader("BEGIN:VCARD\r\nVERSION:3.0\r\nPHOTO;ENCODING=b;TYPE=JPEG:"),
			strings.NewReader(strings.Repeat("QUFB", maxValue/4+10)), strings.NewReader("\r\nFN:Big Photo\r\nEMAIL:big@example.com\r\nEND:VCARD\r\n"))},
		{"2.1 base64 without fold spaces", io.MultiReader(strings.NewReader("BEGIN:VCARD\r\nVERSION:2.1\r\nPHOTO;ENCODING=BASE64;TYPE=JPEG:\r\n"),
			strings.NewReader(strings.Repeat(strings.Repeat("QUFB", 19)+"\r\n", maxValue/76+10)), strings.NewReader("\r\nFN:Big Photo\r\nEMAIL:big@example.com\r\nEND:VCARD\r\n"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readAll(t, tc.in, "t.vcf")
			checkInvariants(t, "t.vcf", res)
			if len(res.incs) != 1 {
				t.Fatalf("%d contacts, errors %v", len(res.incs), res.errs)
			}
			f := res.incs[0].Record.Fields
			if f["fullname"] != "Big Photo" || f["emailaddress1"] != "big@example.com" || len(res.incs[0].Record.Attachments) != 0 {
				t.Errorf("fields %v, %d attachments", f, len(res.incs[0].Record.Attachments))
			}
			if len(res.errs) != 1 || !strings.HasPrefix(res.errs[0].Error(), "t.vcf: line 3: value of PHOTO longer than") {
				t.Errorf("errors %v", res.errs)
			}
		})
	}
}

// TestCardLimit checks that values which together pass maxCard are skipped
// one by one, and the contact is kept.
func TestCardLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("reads ~20 MB")
	}
	note := "NOTE:" + strings.Repeat("n", maxValue-100) + "\r\n"
	in := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Many Notes\r\n" + note + note + note + "EMAIL:n@example.com\r\nEND:VCARD\r\n"
	res := readString(t, in)
	if len(res.incs) != 1 || res.incs[0].Record.Fields["emailaddress1"] != "n@example.com" {
		t.Fatalf("%d contacts, errors %v", len(res.incs), res.errs)
	}
	if len(res.errs) != 1 || !strings.HasPrefix(res.errs[0].Error(), "t.vcf: line 6: value of NOTE skipped: the card's values pass") {
		t.Errorf("errors %v", res.errs)
	}
}
