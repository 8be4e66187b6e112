package outlookcsv

import (
	"strings"

	"crmbridge/crm"
)

// Extra values (crm.Extra: what a source gave that no field holds) are
// not lost in a CSV file. An extra goes to the Outlook column that holds
// it when that column is still empty in the row:
//   - TEL by its TYPE: home fax → "Home Fax", another fax → "Other Fax",
//     home → "Home Phone 2", work → "Business Phone 2", car → "Car Phone",
//     isdn → "ISDN", pager → "Pager", textphone → "TTY/TDD Phone",
//     cell → "Mobile Phone", any other number → "Other Phone", then
//     "Callback";
//   - X-MS-TEL (Outlook's vCard name for its other numbers) by TYPE:
//     assistant, callback, company (main), radio, telex, tty/tdd;
//   - URL → "Web Page", ROLE → "Profession", X-MS-MANAGER/X-MANAGER →
//     "Manager's Name",
//     X-MS-ASSISTANT/X-ASSISTANT → "Assistant's Name",
//     X-MS-SPOUSE/X-SPOUSE → "Spouse", GENDER → "Gender".
// Every other extra, and one whose column is taken (a fourth e-mail: the
// CSV has three), is written at the end of "Notes", after a line
// NotesMarker, one "NAME;PARAM=value: value" line each (as `crmbridge
// show` prints it). Outlook's CSV import takes any text, line breaks
// included, in Notes, so the values reach Outlook and a reader finds them.

// NotesMarker starts the extra values written into the Notes column.
const NotesMarker = "-- crmbridge extra values --"

// telColumns are the phone columns for a TEL extra, by TYPE, in order of
// preference.
var telColumns = []struct {
	types []string // every one must be present
	col   string
}{
	{[]string{"home", "fax"}, "Home Fax"},
	{[]string{"fax"}, "Other Fax"},
	{[]string{"car"}, "Car Phone"},
	{[]string{"isdn"}, "ISDN"},
	{[]string{"pager"}, "Pager"},
	{[]string{"textphone"}, "TTY/TDD Phone"},
	{[]string{"cell"}, "Mobile Phone"},
	{[]string{"home"}, "Home Phone 2"},
	{[]string{"work"}, "Business Phone 2"},
	{nil, "Other Phone"},
	{nil, "Callback"},
}

// msTelColumns are the columns of X-MS-TEL extras by TYPE.
var msTelColumns = map[string]string{"assistant": "Assistant's Phone", "callback": "Callback",
	"company": "Company Main Phone", "radio": "Radio Phone", "telex": "Telex", "tty/tdd": "TTY/TDD Phone",
	"primary": "Primary Phone"}

// namedColumns are the columns of other extras, by property name.
var namedColumns = map[string]string{
	"URL": "Web Page", "ROLE": "Profession", "X-MS-MANAGER": "Manager's Name", "X-MANAGER": "Manager's Name",
	"X-MS-ASSISTANT": "Assistant's Name", "X-ASSISTANT": "Assistant's Name", "X-MS-SPOUSE": "Spouse",
	"X-SPOUSE": "Spouse",
	// Outlook contact properties without a column in the store
	// (bridge/pstmap.go: X-MS-<MS-OXPROPS name>).
	"X-MS-BUSINESS2TELEPHONENUMBER": "Business Phone 2", "X-MS-HOME2TELEPHONENUMBER": "Home Phone 2",
	"X-MS-CARTELEPHONENUMBER": "Car Phone", "X-MS-RADIOTELEPHONENUMBER": "Radio Phone",
	"X-MS-CALLBACKTELEPHONENUMBER": "Callback", "X-MS-ISDNNUMBER": "ISDN", "X-MS-TELEXNUMBER": "Telex",
	"X-MS-TTYTDDPHONENUMBER": "TTY/TDD Phone", "X-MS-COMPANYMAINTELEPHONENUMBER": "Company Main Phone",
	"X-MS-PRIMARYTELEPHONENUMBER": "Primary Phone", "X-MS-PRIMARYFAXNUMBER": "Other Fax",
	"X-MS-OFFICELOCATION": "Office Location", "X-MS-INITIALS": "Initials", "X-MS-LANGUAGE": "Language",
	"X-MS-LOCATION": "Location", "X-MS-HOBBIES": "Hobby", "X-MS-CHILDRENSNAMES": "Children",
	"X-MS-GOVERNMENTIDNUMBER": "Government ID Number", "X-MS-ACCOUNT": "Account",
	"X-MS-REFERREDBYNAME": "Referred By", "X-MS-ORGANIZATIONALIDNUMBER": "Organizational ID Number",
}

// placeExtras puts xs into the empty columns of row that hold them and
// returns the lines of those that found none, for Notes.
func (w *writer) placeExtras(row []string, xs []crm.Extra) []string {
	var notes []string
	free := func(col string) bool {
		i, ok := w.index[col]
		return ok && row[i] == ""
	}
	put := func(col, v string) bool {
		if !free(col) {
			return false
		}
		row[w.index[col]] = v
		return true
	}
	for _, x := range xs {
		placed := false
		switch name := strings.ToUpper(x.Name); {
		case name == "X-MS-TEL":
			// Outlook's vCard export names its other numbers so.
			col := msTelColumns[strings.ToLower(strings.TrimSpace(x.Params["TYPE"]))]
			placed = col != "" && put(col, x.Value)
		case name == "TEL":
			types := map[string]bool{}
			for _, t := range strings.Split(strings.ToLower(x.Params["TYPE"]), ",") {
				types[strings.Trim(strings.TrimSpace(t), `"`)] = true
			}
			for _, tc := range telColumns {
				all := true
				for _, t := range tc.types {
					all = all && types[t]
				}
				if all && put(tc.col, x.Value) {
					placed = true
					break
				}
				if all && len(tc.types) > 0 && tc.types[0] == "fax" {
					break // a fax never goes to a voice column
				}
			}
		case name == "GENDER":
			switch strings.ToUpper(strings.TrimSpace(x.Value)) {
			case "M":
				placed = put("Gender", "Male")
			case "F":
				placed = put("Gender", "Female")
			}
		case namedColumns[name] != "":
			placed = put(namedColumns[name], x.Value)
		}
		if !placed {
			notes = append(notes, x.String())
		}
	}
	return notes
}

// withExtraNotes is notes followed by the marker and lines, if any.
func withExtraNotes(notes string, lines []string) string {
	if len(lines) == 0 {
		return notes
	}
	s := NotesMarker + "\n" + strings.Join(lines, "\n")
	if strings.TrimSpace(notes) == "" {
		return s
	}
	return strings.TrimRight(notes, "\r\n") + "\n\n" + s
}

// extraLines are xs as Notes lines: a task or journal row has no column
// for any.
func extraLines(xs []crm.Extra) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.String())
	}
	return out
}
