package vcf

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"crmbridge/crm"
)

// A card's UID is the record's id only when crmbridge minted the id (a
// UUIDv7); otherwise the card keeps its UID (an extra, written back as
// the UID) and X-CRMBRIDGE-ID carries the record's id. Each record
// written and read back gives the same UID, id and extras.
func TestUIDAndRecordID(t *testing.T) {
	const (
		v7 = "0190f2a1-7b2c-7d3e-8f40-123456789abc"
		v4 = "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b"
	)
	uid := func(v string) []crm.Extra { return []crm.Extra{{Name: "UID", Value: v}} }
	for _, tc := range []struct {
		name     string
		id       string
		extras   []crm.Extra
		wantUID  string
		wantX    string // X-CRMBRIDGE-ID, "" none
		readID   string // Incoming.Record.ID read back
		readKept []crm.Extra
	}{
		{"minted id", v7, nil, v7, "", "", nil},
		{"minted id, the card's own UID", v7, uid(v4), v4, v7, v7, uid(v4)},
		{"minted id, a UID that is no UUID", v7, uid("abc@google.com"), "abc@google.com", v7, v7, uid("abc@google.com")},
		{"an earlier version's id (a foreign UID)", v4, nil, v4, v4, v4, nil},
		{"an earlier version's id, kept UID", v4, uid(v4), v4, v4, v4, nil},
		{"no id", "", uid("x-1"), "x-1", "", "", uid("x-1")},
	} {
		for _, ver := range []string{"2.1", "3.0", "4.0"} {
			t.Run(tc.name+" "+ver, func(t *testing.T) {
				rec := crm.Record{ID: tc.id, Entity: crm.Contact, Fields: map[string]string{"lastname": "Lee"}, Extras: tc.extras}
				var buf bytes.Buffer
				if err := NewEncoder(&buf, ver).Encode(rec); err != nil {
					t.Fatal(err)
				}
				out := buf.String()
				if strings.Count(out, "\r\nUID:") != 1 || !strings.Contains(out, "\r\nUID:"+tc.wantUID+"\r\n") {
					t.Errorf("want UID:%s once:\n%s", tc.wantUID, out)
				}
				if got := strings.Contains(out, "X-CRMBRIDGE-ID:"); got != (tc.wantX != "") ||
					tc.wantX != "" && !strings.Contains(out, "\r\nX-CRMBRIDGE-ID:"+tc.wantX+"\r\n") {
					t.Errorf("want X-CRMBRIDGE-ID %q:\n%s", tc.wantX, out)
				}
				res := readAll(t, strings.NewReader(out), "a.vcf")
				if len(res.errs) != 0 || len(res.incs) != 1 {
					t.Fatalf("%d cards, %v", len(res.incs), res.errs)
				}
				in := res.incs[0]
				if in.Record.ID != tc.readID || in.Source.Key != tc.wantUID {
					t.Errorf("read back: id %q key %q, want %q %q", in.Record.ID, in.Source.Key, tc.readID, tc.wantUID)
				}
				if len(in.Record.Extras) == 0 {
					in.Record.Extras = nil
				}
				if !reflect.DeepEqual(in.Record.Extras, tc.readKept) {
					t.Errorf("read back extras %+v, want %+v", in.Record.Extras, tc.readKept)
				}
			})
		}
	}
}
