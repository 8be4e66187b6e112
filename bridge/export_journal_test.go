package bridge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

// Phone calls, letters and faxes go to the journal CSV next to the other
// Outlook CSVs, one row each; without --csv, asking for them is reported,
// never silently nothing.
func TestExportJournalCSV(t *testing.T) {
	s := newStore(t)
	edit(t, s, func(tx *crmstore.Tx) error {
		for _, r := range []struct {
			e crm.Entity
			f map[string]string
		}{
			{crm.PhoneCall, map[string]string{"subject": "Called Ann", "phonenumber": "+1 555 0100"}},
			{crm.Letter, map[string]string{"subject": "Contract sent"}},
			{crm.Fax, map[string]string{"subject": "Invoice faxed", "numberofpages": "2"}},
		} {
			if _, err := tx.Create(r.e, r.f, "cli"); err != nil {
				return err
			}
		}
		return nil
	})
	out := t.TempDir()
	res := export(t, s, ExportOptions{All: true, CSV: filepath.Join(out, "outlook.csv")})
	var n int
	for _, r := range res {
		if filepath.Base(r.Path) == "outlook-journal.csv" {
			n = r.Records
		}
	}
	if n != 3 {
		t.Fatalf("journal: %d records written, want 3 (%+v)", n, res)
	}
	b, err := os.ReadFile(filepath.Join(out, "outlook-journal.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Called Ann","Phone call"`, `"Contract sent","Letter"`, `"Invoice faxed","Fax"`, "Phone number: +1 555 0100"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %s in\n%s", want, b)
		}
	}
	_, rep := exportReport(t, s, ExportOptions{All: true, Types: []crm.Entity{crm.PhoneCall}, VCF: filepath.Join(out, "c.vcf")})
	if len(rep.problems) != 1 || !strings.Contains(rep.problems[0].Error(), "phonecall (1 record(s) not exported; give --csv)") {
		t.Errorf("problems %v", rep.problems)
	}
}
