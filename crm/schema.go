package crm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Kind is the type of a field's value.
type Kind int

// Field kinds. Values are always stored as canonical text (see Record).
const (
	Text   Kind = iota
	Time        // RFC 3339, UTC
	Date        // YYYY-MM-DD
	Int         // decimal integer
	Bool        // "true" or "false"
	Ref         // GUID of another record
	Option      // integer option-set value (see Field.Options)
)

func (k Kind) String() string {
	switch k {
	case Text:
		return "text"
	case Time:
		return "time (RFC 3339)"
	case Date:
		return "date (YYYY-MM-DD)"
	case Int:
		return "integer"
	case Bool:
		return "true|false"
	case Ref:
		return "record id"
	case Option:
		return "option"
	}
	return "unknown"
}

// Field describes one field of an entity.
type Field struct {
	Name string
	Kind Kind
	// Upstream is true when the field is a Dataverse attribute that push
	// sends; false for fields kept only locally (raw headers, HTML body).
	Upstream bool
	// Options lists the valid values of an Option field, value → label.
	Options map[string]string
}

func f(name string, k Kind) Field     { return Field{Name: name, Kind: k, Upstream: true} }
func local(name string, k Kind) Field { return Field{Name: name, Kind: k} }
func opt(name string, o map[string]string) Field {
	return Field{Name: name, Kind: Option, Upstream: true, Options: o}
}

var (
	priorityOptions = map[string]string{"0": "low", "1": "normal", "2": "high"}
	// Activity statecode: 0 open, 1 completed, 2 canceled, 3 scheduled
	// (appointments only).
	activityState = map[string]string{"0": "open", "1": "completed", "2": "canceled", "3": "scheduled"}
)

var addressFields = func() []Field {
	var fs []Field
	for _, n := range []string{"1", "2", "3"} {
		for _, part := range []string{"name", "line1", "line2", "line3", "city", "stateorprovince", "postalcode", "country", "postofficebox"} {
			fs = append(fs, f("address"+n+"_"+part, Text))
		}
	}
	return fs
}()

var activityFields = []Field{
	f("subject", Text),
	f("description", Text),
	local("descriptionhtml", Text),
	f("scheduledstart", Time),
	f("scheduledend", Time),
	f("actualstart", Time),
	f("actualend", Time),
	opt("prioritycode", priorityOptions),
	opt("statecode", activityState),
	f("statuscode", Int),
	f("regardingobjectid", Ref),
	f("category", Text),
	local("categories", Text), // Outlook categories, comma-separated
	local("reminder", Text),   // reminder offset or time, as the source gave it
	local("folder", Text),     // Outlook folder path the item came from
	local("sensitivity", Int),
}

// entities lists every entity's fields. Order is presentation order.
var entities = map[Entity][]Field{
	Contact: append([]Field{
		f("salutation", Text),
		f("firstname", Text),
		f("middlename", Text),
		f("lastname", Text),
		f("suffix", Text),
		local("fullname", Text), // computed from the name parts, as Dataverse does
		f("nickname", Text),
		f("emailaddress1", Text),
		f("emailaddress2", Text),
		f("emailaddress3", Text),
		f("telephone1", Text), // business
		f("telephone2", Text), // home
		f("telephone3", Text), // other
		f("mobilephone", Text),
		f("fax", Text),
		f("pager", Text),
		f("jobtitle", Text),
		f("department", Text),
		local("company", Text), // company name as the source gave it
		f("parentcustomerid", Ref),
		f("birthdate", Date),
		f("anniversary", Date),
		f("spousesname", Text),
		f("websiteurl", Text),
		f("description", Text),
		local("categories", Text),
		local("folder", Text),
	}, addressFields...),
	Account: append([]Field{
		f("name", Text),
		f("telephone1", Text),
		f("fax", Text),
		f("emailaddress1", Text),
		f("websiteurl", Text),
		f("description", Text),
	}, addressFields[:9]...),
	Lead: {
		f("subject", Text),
		f("firstname", Text),
		f("lastname", Text),
		local("fullname", Text), // computed from the name parts, as Dataverse does
		f("companyname", Text),
		f("emailaddress1", Text),
		f("telephone1", Text),
		f("mobilephone", Text),
		f("jobtitle", Text),
		f("description", Text),
		opt("statecode", map[string]string{"0": "open", "1": "qualified", "2": "disqualified"}),
	},
	Opportunity: {
		f("name", Text),
		f("description", Text),
		f("estimatedvalue", Int),
		f("estimatedclosedate", Date),
		f("closeprobability", Int),
		f("parentaccountid", Ref),
		f("parentcontactid", Ref),
		opt("statecode", map[string]string{"0": "open", "1": "won", "2": "lost"}),
	},
	List: {
		f("listname", Text),
		f("description", Text),
		local("folder", Text),
	},
	Email: append(append([]Field{}, activityFields...),
		f("sender", Text),
		f("torecipients", Text),
		f("messageid", Text),
		f("inreplyto", Text),
		local("references", Text),
		f("conversationindex", Text),
		f("directioncode", Bool),
		f("senton", Time),
		local("receivedon", Time),
		local("headers", Text),
		// Outlook's follow-up flag (MS-OXOFLAG). Dataverse's email has no
		// such column (a follow-up there is a separate task regarding the
		// mail), so these stay local, as categories and folder do.
		local("flagstatus", Int),     // PidTagFlagStatus: 2 flagged, 1 complete
		local("flagrequest", Text),   // PidLidFlagRequest: "Follow up", "Call", ...; X-Message-Flag
		local("flagstart", Time),     // PidLidTaskStartDate on the mail
		local("flagdue", Time),       // PidLidTaskDueDate on the mail
		local("flagcompleted", Time), // PidTagFlagCompleteTime
		local("flagicon", Int),       // PidTagFollowupIcon: 1 purple ... 6 red
	),
	Task: append(append([]Field{}, activityFields...),
		f("percentcomplete", Int),
		local("uid", Text),
	),
	Appointment: append(append([]Field{}, activityFields...),
		f("location", Text),
		f("isalldayevent", Bool),
		f("globalobjectid", Text),
		local("uid", Text),
		local("recurrence", Text),     // RRULE/EXDATE/RDATE lines, or Outlook's pattern
		local("recurrenceblob", Text), // Outlook's PidLidAppointmentRecur (hex), kept from a PST
		local("timezoneblob", Text),   // the zone of that blob's local times: PidLidAppointmentTimeZoneDefinitionRecur (hex)
		local("recurrenceid", Time),
		local("seriesid", Ref), // master of an exception
		local("timezone", Text),
		local("busystatus", Text),
		local("ismeeting", Bool),
	),
	PhoneCall: append(append([]Field{}, activityFields...),
		f("phonenumber", Text),
		f("directioncode", Bool),
	),
	Fax: append(append([]Field{}, activityFields...),
		f("faxnumber", Text),
		f("numberofpages", Int),
		f("directioncode", Bool),
	),
	Letter: append(append([]Field{}, activityFields...),
		f("address", Text),
		f("directioncode", Bool),
	),
}

// Entities returns every entity the store knows, sorted by name.
func Entities() []Entity {
	es := make([]Entity, 0, len(entities))
	for e := range entities {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i] < es[j] })
	return es
}

// Fields returns the fields of entity e in presentation order, or nil if
// the entity is unknown.
func Fields(e Entity) []Field { return entities[e] }

// LookupField returns the description of field name of entity e.
func LookupField(e Entity, name string) (Field, bool) {
	for _, fd := range entities[e] {
		if fd.Name == name {
			return fd, true
		}
	}
	return Field{}, false
}

// IsActivity reports whether e is an activity type (has parties).
func (e Entity) IsActivity() bool {
	switch e {
	case Email, Task, Appointment, PhoneCall, Fax, Letter:
		return true
	}
	return false
}

// Valid reports whether e is an entity the store knows.
func (e Entity) Valid() bool { _, ok := entities[e]; return ok }

// ValidateValue checks that v is a valid canonical value for field name of
// entity e. The error lists the valid fields or values.
func ValidateValue(e Entity, name, v string) error {
	fd, ok := LookupField(e, name)
	if !ok {
		names := make([]string, 0, len(entities[e]))
		for _, f := range entities[e] {
			names = append(names, f.Name)
		}
		return fmt.Errorf("%s has no field %q (valid: %s)", e, name, strings.Join(names, ", "))
	}
	if v == "" {
		return nil // clears the field
	}
	if err := checkUTF8(e, name, v); err != nil {
		return err
	}
	bad := func(what string) error {
		return fmt.Errorf("%s.%s: %q is not a valid %s", e, name, v, what)
	}
	switch fd.Kind {
	case Time:
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return bad("time (RFC 3339, e.g. 2026-11-25T14:00:00Z)")
		}
	case Date:
		if _, err := time.Parse("2006-01-02", v); err != nil {
			return bad("date (YYYY-MM-DD)")
		}
	case Int:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return bad("integer")
		}
	case Bool:
		if v != "true" && v != "false" {
			return bad("boolean (true or false)")
		}
	case Ref:
		if _, err := uuid.Parse(v); err != nil {
			return bad("record id (GUID)")
		}
	case Option:
		if _, ok := fd.Options[v]; !ok {
			var vals []string
			for k, label := range fd.Options {
				vals = append(vals, k+" ("+label+")")
			}
			sort.Strings(vals)
			return fmt.Errorf("%s.%s: %q is not a valid option (valid: %s)", e, name, v, strings.Join(vals, ", "))
		}
	}
	return nil
}

// checkUTF8 refuses a value that is not UTF-8 text: every value is, in the
// store and in every format written from it. The error names the first
// byte that is not part of a valid UTF-8 sequence and its offset.
func checkUTF8(e Entity, name, v string) error {
	if utf8.ValidString(v) {
		return nil
	}
	i := 0
	for i < len(v) {
		r, n := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	return fmt.Errorf("%s.%s: value is not UTF-8 text (byte 0x%02X at offset %d); give the text in UTF-8", e, name, v[i], i)
}

// ParseInput turns a value as a person types it into the field's
// canonical form: times as RFC 3339 or "2006-01-02 15:04" (local time) or
// a date, dates as YYYY-MM-DD, options by value or label ("high"),
// booleans as true/false/yes/no. The error lists what is valid.
func ParseInput(e Entity, name, in string) (string, error) {
	fd, ok := LookupField(e, name)
	if !ok {
		return "", ValidateValue(e, name, in) // lists the valid fields
	}
	if err := checkUTF8(e, name, in); err != nil {
		return "", err
	}
	in = strings.TrimSpace(in)
	if in == "" {
		return "", nil
	}
	switch fd.Kind {
	case Time:
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02"} {
			var t time.Time
			var err error
			if layout == time.RFC3339 {
				t, err = time.Parse(layout, in)
			} else {
				t, err = time.ParseInLocation(layout, in, time.Local)
			}
			if err == nil {
				return t.UTC().Format(time.RFC3339), nil
			}
		}
	case Bool:
		switch strings.ToLower(in) {
		case "true", "yes", "y", "1":
			return "true", nil
		case "false", "no", "n", "0":
			return "false", nil
		}
	case Option:
		for v, label := range fd.Options {
			if strings.EqualFold(in, label) {
				return v, nil
			}
		}
	case Ref:
		in = strings.ToLower(in)
	}
	return in, ValidateValue(e, name, in)
}
