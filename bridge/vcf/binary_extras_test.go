package vcf

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"crmbridge/crm"
)

// A binary value other than the photo (LOGO, SOUND, a vendor picture) and
// an ORG with units below the department have no column: they are kept as
// extras (binary as an RFC 2397 data: URI) and written back by every
// version, so that reading the output gives the same extras.
func TestBinaryAndOrgExtras(t *testing.T) {
	const logo = "iVBORw0KGgo=" // 8 bytes: the PNG signature
	cards := map[string]string{
		"2.1": "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Lee;Ann\r\nORG:Acme;Sales;East;Room 4\r\n" +
			"LOGO;TYPE=PNG;ENCODING=BASE64:" + logo + "\r\n\r\n" +
			"X-MS-CARDPICTURE;TYPE=JPEG;ENCODING=BASE64:/9j/4A==\r\n\r\nEND:VCARD\r\n",
		"3.0": "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\nORG:Acme;Sales;East;Room 4\r\n" +
			"LOGO;ENCODING=b;TYPE=PNG:" + logo + "\r\nX-MS-CARDPICTURE;ENCODING=b;TYPE=JPEG:/9j/4A==\r\nEND:VCARD\r\n",
		"4.0": "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\nORG:Acme;Sales;East;Room 4\r\n" +
			"LOGO:data:image/png;base64," + logo + "\r\nX-MS-CARDPICTURE:data:image/jpeg;base64,/9j/4A==\r\nEND:VCARD\r\n",
	}
	want := []crm.Extra{
		{Name: "LOGO", Value: "data:image/png;base64," + logo},
		{Name: "ORG", Value: "Acme;Sales;East;Room 4"},
		{Name: "X-MS-CARDPICTURE", Value: "data:image/jpeg;base64,/9j/4A=="},
	}
	sorted := func(xs []crm.Extra) []crm.Extra {
		xs = append([]crm.Extra(nil), xs...)
		sort.Slice(xs, func(i, j int) bool { return fmt.Sprint(xs[i]) < fmt.Sprint(xs[j]) })
		return xs
	}
	for in, card := range cards {
		res := readAll(t, strings.NewReader(card), in+".vcf")
		if len(res.incs) != 1 || len(res.errs) != 0 {
			t.Fatalf("%s: %d cards, %v", in, len(res.incs), res.errs)
		}
		rec := res.incs[0].Record
		if got := sorted(rec.Extras); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: extras\n got %q\nwant %q", in, got, want)
		}
		if rec.Fields["company"] != "Acme" || rec.Fields["department"] != "Sales" {
			t.Errorf("%s: company %q department %q", in, rec.Fields["company"], rec.Fields["department"])
		}
		for _, out := range []string{"2.1", "3.0", "4.0"} {
			var buf bytes.Buffer
			if err := NewEncoder(&buf, out).Encode(rec); err != nil {
				t.Fatal(err)
			}
			res2 := readAll(t, bytes.NewReader(buf.Bytes()), "out.vcf")
			if len(res2.incs) != 1 || len(res2.errs) != 0 {
				t.Fatalf("%s → %s: %d cards, %v\n%s", in, out, len(res2.incs), res2.errs, buf.Bytes())
			}
			if n := strings.Count(buf.String(), "\nORG"); n != 1 {
				t.Errorf("%s → %s: %d ORG lines\n%s", in, out, n, buf.Bytes())
			}
			if got := sorted(res2.incs[0].Record.Extras); !reflect.DeepEqual(got, want) {
				t.Errorf("%s → %s: extras\n got %q\nwant %q\n%s", in, out, got, want, buf.Bytes())
			}
		}
	}
}
