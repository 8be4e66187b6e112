package pst

import (
	"testing"
)

// Identity and ParseIdentity are inverse, for tags, numeric and string
// named properties; CanonicalProperty finds tags and LIDs by their
// MS-OXPROPS names (looked up in MS-OXPROPS by hand, not in propnames.go).
func TestIdentity(t *testing.T) {
	common := NamedID{Set: [16]byte(psetidCommon), LID: 0x8506}
	public := NamedID{Set: [16]byte(psPublicStrings), Name: "Customer Ref/2"}
	for _, tc := range []struct {
		p    Property
		want string
	}{
		{Property{ID: 0x0071, Type: 0x0102}, "proptag/0x00710102"},
		{Property{ID: 0x8003, Named: &common, Type: 0x000B}, "id/{00062008-0000-0000-C000-000000000046}/8506000B"},
		{Property{ID: 0x8004, Named: &public, Type: 0x101F}, "string/{00020329-0000-0000-C000-000000000046}/Customer Ref/2/0x0000101F"},
	} {
		got := tc.p.Identity()
		if got != tc.want {
			t.Errorf("Identity = %q, want %q", got, tc.want)
		}
		id, named, typ, ok := ParseIdentity(got)
		if !ok || typ != tc.p.Type || (named == nil) != (tc.p.Named == nil) || named == nil && id != tc.p.ID ||
			named != nil && *named != *tc.p.Named {
			t.Errorf("ParseIdentity(%q) = %x %v %x %v", got, id, named, typ, ok)
		}
	}
	for _, bad := range []string{"", "proptag/0x0071", "proptag/0x80000003", "proptag/0x0000001F", "id/{x}/8506000B",
		"id/{00062008-0000-0000-C000-000000000046}/8506", "string/{00020329-0000-0000-C000-000000000046}//0x0000001F",
		"string/{00020329-0000-0000-C000-000000000046}/a/0x1F"} {
		if _, _, _, ok := ParseIdentity(bad); ok {
			t.Errorf("ParseIdentity(%q) ok", bad)
		}
	}
	for _, tc := range []struct {
		name  string
		id    uint16
		named *NamedID
		typ   uint16
	}{
		{"ConversationIndex", 0x0071, nil, 0x0102}, // PidTagConversationIndex
		{"conversationtopic", 0x0070, nil, 0x001F}, // PidTagConversationTopic, any case
		{"PRIVATE", 0, &common, 0x000B},            // PidLidPrivate
		{"ReminderSet", 0, &NamedID{Set: [16]byte(psetidCommon), LID: 0x8503}, 0x000B},
	} {
		id, named, typ, ok := CanonicalProperty(tc.name)
		if !ok || id != tc.id || typ != tc.typ || (named == nil) != (tc.named == nil) || named != nil && *named != *tc.named {
			t.Errorf("CanonicalProperty(%q) = %x %v %x %v", tc.name, id, named, typ, ok)
		}
	}
	if _, _, _, ok := CanonicalProperty("0x7203"); ok {
		t.Error("CanonicalProperty(0x7203) ok")
	}
}

// FuzzParseIdentity: whatever ParseIdentity accepts, Identity writes back
// as it was read.
func FuzzParseIdentity(f *testing.F) {
	f.Add("proptag/0x00710102")
	f.Add("id/{00062008-0000-0000-C000-000000000046}/8506000B")
	f.Add("string/{00020329-0000-0000-C000-000000000046}/Customer Ref/0x0000001F")
	f.Fuzz(func(t *testing.T, s string) {
		id, named, typ, ok := ParseIdentity(s)
		if !ok {
			return
		}
		if got := (Property{ID: id, Named: named, Type: typ}).Identity(); got != s {
			t.Errorf("ParseIdentity(%q) then Identity = %q", s, got)
		}
	})
}
