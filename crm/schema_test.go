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
