package bridge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	"crmbridge/bridge/vcf"
	"crmbridge/crm"
	"crmbridge/fixtures"
)

// contentKeyFmt is contentKey as first written, with fmt: the definition
// of the keys stores already hold.
func contentKeyFmt(r *crm.Record) string {
	h := sha256.New()
	io.WriteString(h, string(r.Entity))
	names := make([]string, 0, len(r.Fields))
	for k, v := range r.Fields {
		if v != "" && k != "folder" && k != "parentcustomerid" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(h, "\x00%s=%q", k, r.Fields[k])
	}
	for _, p := range r.Parties {
		fmt.Fprintf(h, "\x01%d %q %q %q", p.Role, strings.ToLower(p.Address), p.Name, p.Status)
	}
	for _, p := range r.Members {
		fmt.Fprintf(h, "\x02%q %q", strings.ToLower(p.Address), p.Name)
	}
	for _, a := range r.Attachments {
		fmt.Fprintf(h, "\x03%q %q %d %q", a.Name, a.MimeType, a.Size, a.SHA256)
	}
	for _, x := range r.Extras {
		if strings.EqualFold(x.Name, "UID") {
			continue
		}
		fmt.Fprintf(h, "\x04%q %q %v", x.Name, x.Value, x.Params)
	}
	return "content:" + hex.EncodeToString(h.Sum(nil))[:40]
}

// A content key is an identity key stores hold: it must stay the same
// bytes whatever code computes it. Hand-made records with every part and
// awkward text (quotes, control characters, invalid UTF-8, a field longer
// than contentKey's buffer), and 2,000 generated contacts.
func TestContentKeyUnchanged(t *testing.T) {
	recs := []*crm.Record{
		{Entity: crm.Contact},
		{Entity: crm.Contact, Fields: map[string]string{"fullname": `Jane "J" Doe`, "folder": "x", "parentcustomerid": "y", "empty": ""}},
		{Entity: crm.Email, Fields: map[string]string{"subject": "tab\there\x00nul\xffbad é ✓ \U0001F600", "description": strings.Repeat("long line ", 8000)},
			Parties:     []crm.Party{{Role: 1, Address: "A@Example.COM", Name: "A", Status: "ACCEPTED"}, {Role: -3, Address: "", Name: "\n"}},
			Attachments: []crm.Attachment{{Name: "a\"b.txt", MimeType: "text/plain", Size: 1 << 40, SHA256: "ab"}, {}},
			Extras:      []crm.Extra{{Name: "X-A", Value: "v", Params: map[string]string{"b": "2", "a": "1"}}, {Name: "Y"}}},
		{Entity: crm.List, Fields: map[string]string{"listname": "L"}, Members: []crm.Party{{Address: "M@X", Name: "m"}}},
	}
	var buf bytes.Buffer
	if err := fixtures.WriteVCards(&buf, 2000, 1); err != nil {
		t.Fatal(err)
	}
	r := vcf.NewReader(&buf, "gen.vcf")
	for {
		in, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &in.Record)
	}
	if len(recs) < 2000 {
		t.Fatalf("%d records", len(recs))
	}
	for i, rec := range recs {
		if got, want := contentKey(rec), contentKeyFmt(rec); got != want {
			t.Errorf("record %d (%s): %s, want %s", i, rec.Entity, got, want)
		}
	}
}
