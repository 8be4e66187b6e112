package crm

import (
	"strings"
	"testing"
)

func TestValidateValue(t *testing.T) {
	for _, tc := range []struct {
		e     Entity
		f, v  string
		valid bool
	}{
		{Contact, "firstname", "Ann", true},
		{Contact, "nosuch", "x", false},
		{Contact, "birthdate", "1970-02-30", false},
		{Contact, "birthdate", "1970-02-28", true},
		{Task, "percentcomplete", "50", true},
		{Task, "percentcomplete", "half", false},
		{Task, "prioritycode", "2", true},
		{Task, "prioritycode", "7", false},
		{Appointment, "isalldayevent", "yes", false},
		{Appointment, "scheduledstart", "2026-01-01T10:00:00Z", true},
		{Appointment, "scheduledstart", "2026-01-01 10:00", false},
		{Contact, "parentcustomerid", "not-a-guid", false},
		{Contact, "firstname", "", true},
		// Values are UTF-8 text: a byte that is not part of a valid
		// sequence is refused, in every kind of field.
		{Contact, "jobtitle", "\x80\x80", false},
		{Contact, "lastname", "Lee\xff", false},
		{Contact, "lastname", "M\xfcller", false},
		{Contact, "lastname", "2005年日本", true},
		{Contact, "description", "\xed\xa0\x80", false}, // an encoded surrogate
		{Task, "prioritycode", "2\x80", false},
	} {
		err := ValidateValue(tc.e, tc.f, tc.v)
		if (err == nil) != tc.valid {
			t.Errorf("%s.%s=%q: err %v, want valid %v", tc.e, tc.f, tc.v, err, tc.valid)
		}
	}
	err := ValidateValue(Task, "prioritycode", "7")
	if err == nil || !strings.Contains(err.Error(), "2 (high)") {
		t.Errorf("option error does not list valid values: %v", err)
	}
}

func TestParseInputRefusesInvalidUTF8(t *testing.T) {
	for _, tc := range []struct {
		e       Entity
		f, in   string
		wantErr string
	}{
		{Contact, "jobtitle", strings.Repeat("\x80", 100), `contact.jobtitle: value is not UTF-8 text (byte 0x80 at offset 0)`},
		{Contact, "lastname", "Lee \xe9", `contact.lastname: value is not UTF-8 text (byte 0xE9 at offset 4)`},
		{Task, "prioritycode", "h\xe9gh", `task.prioritycode: value is not UTF-8 text (byte 0xE9 at offset 1)`},
	} {
		v, err := ParseInput(tc.e, tc.f, tc.in)
		if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
			t.Errorf("ParseInput(%s, %s, %q) = %q, %v; want error %q", tc.e, tc.f, tc.in, v, err, tc.wantErr)
		}
	}
}
