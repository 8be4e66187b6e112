package crm

import (
	"errors"
	"reflect"
	"testing"
)

func TestPartyRule(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []Party
		want  []Party
		notes int
	}{
		{"nil", nil, nil, 0},
		{"address", []Party{{Role: RoleTo, Address: "a@x.example"}}, []Party{{Role: RoleTo, Address: "a@x.example"}}, 0},
		{"record only", []Party{{Role: RoleTo, ContactID: "c"}}, []Party{{Role: RoleTo, ContactID: "c"}}, 0},
		{"unparsed text", []Party{{Role: RoleSender, Address: "x@y@z"}}, []Party{{Role: RoleSender, Address: "x@y@z"}}, 0},
		{"name only", []Party{{Role: RoleSender, Name: " Ann Lee "}, {Role: RoleTo, Address: "b@x.example"}},
			[]Party{{Role: RoleSender, Name: " Ann Lee ", Address: "Ann Lee"}, {Role: RoleTo, Address: "b@x.example"}}, 1},
		{"blank address", []Party{{Role: RoleTo, Address: " ", Name: "Bob"}}, []Party{{Role: RoleTo, Address: "Bob", Name: "Bob"}}, 1},
		{"nothing", []Party{{Role: RoleTo, Address: "a@x.example"}, {Role: RoleCc, Status: "ACCEPTED"}},
			[]Party{{Role: RoleTo, Address: "a@x.example"}}, 1},
		{"only nothing", []Party{{Role: RoleCc}}, []Party{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]Party(nil), tc.in...)
			got, notes := SettleParties(in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if len(notes) != tc.notes {
				t.Errorf("notes %q, want %d", notes, tc.notes)
			}
			if !reflect.DeepEqual(in, tc.in) {
				t.Errorf("input changed: %+v", in)
			}
			for _, p := range got {
				if err := p.Check(); err != nil {
					t.Errorf("settled party %+v: %v", p, err)
				}
			}
		})
	}
	if err := (Party{Role: RoleTo, Name: "Joe"}).Check(); !errors.Is(err, ErrPartyNoAddress) {
		t.Errorf("name-only party: %v", err)
	}
}
