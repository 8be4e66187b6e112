package crm

import (
	"strings"
	"unicode"
)

// PersonName is what identity compares of a contact's name.
type PersonName struct {
	First, Middle, Last, Full string
}

// NameOf returns the name fields of a contact or lead.
func NameOf(f map[string]string) PersonName {
	return PersonName{First: f["firstname"], Middle: f["middlename"], Last: f["lastname"], Full: f["fullname"]}
}

// tokens returns the name's words, lower case, without punctuation:
// from the parts when there are any, else from the full name.
func (n PersonName) tokens() []string {
	s := strings.Join([]string{n.First, n.Middle, n.Last}, " ")
	if strings.TrimSpace(s) == "" {
		s = n.Full
	}
	if i := strings.IndexByte(s, ','); i > 0 && strings.TrimSpace(n.First+n.Last) == "" {
		// "Smith, Jeff": last name first.
		s = s[i+1:] + " " + s[:i]
	}
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := words[:0]
	for _, w := range words {
		if !honorifics[w] {
			out = append(out, w)
		}
	}
	return out
}

// honorifics are the salutations and suffixes a full name may carry that
// the name parts keep apart ("Mr. Michael Angstadt Jr.").
var honorifics = map[string]bool{"mr": true, "mrs": true, "ms": true, "miss": true, "dr": true, "prof": true,
	"jr": true, "sr": true, "ii": true, "iii": true, "iv": true, "phd": true, "md": true, "esq": true}

// wordsAgree reports whether two name words name the same: equal, or one
// is the other's initial ("j" and "jeff").
func wordsAgree(a, b string) bool {
	if a == b {
		return true
	}
	ra, rb := []rune(a), []rune(b)
	return len(ra) == 1 && len(rb) > 0 && rb[0] == ra[0] || len(rb) == 1 && len(ra) > 0 && ra[0] == rb[0]
}

// NamesAgree reports whether two contacts' names can be one person's
// (DESIGN.md "Identity and idempotence"): equal, one side without a
// name, or one a clear abbreviation of the other — the first words agree
// and the last words agree, where a word agrees with its initial ("J.
// Smith" and "Jeff Smith", "Jeff A. Smith" and "Jeff Smith"). A one-word
// name agrees with a longer one whose first or last word it is.
// Different words ("Forrest Hoge" and "boogie") never agree.
func NamesAgree(a, b PersonName) bool {
	ta, tb := a.tokens(), b.tokens()
	if len(ta) == 0 || len(tb) == 0 {
		return true
	}
	if strings.Join(ta, " ") == strings.Join(tb, " ") {
		return true
	}
	if len(ta) > len(tb) {
		ta, tb = tb, ta
	}
	if len(ta) == 1 {
		// A single word must be a whole word of the other name (an initial
		// alone says too little).
		return len([]rune(ta[0])) > 1 && (ta[0] == tb[0] || ta[0] == tb[len(tb)-1])
	}
	return wordsAgree(ta[0], tb[0]) && ta[len(ta)-1] == tb[len(tb)-1] && len([]rune(ta[len(ta)-1])) > 1
}
