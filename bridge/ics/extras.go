package ics

import (
	"fmt"
	"net/mail"
	"sort"
	"strings"

	"github.com/emersion/go-ical"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/crm"
)

// The rule for extra values of a VEVENT or VTODO (issue 10, "every value
// kept"): a property the mapping (convert) does not read into a field, a
// party or an attachment is kept whole as a crm.Extra named as the
// property, with its parameters and its value as written (RFC 5545
// escapes kept, so that the writer puts it back as it came). A property
// the mapping reads only in part keeps the rest:
//   - ATTENDEE/ORGANIZER: the parameters no party field holds (RSVP,
//     CUTYPE, SENT-BY, DELEGATED-FROM, X-NUM-GUESTS, ROLE=CHAIR ...) as an
//     extra of that name whose value is the property value (the address);
//   - CLASS, STATUS, TRANSP, X-ALT-DESC: kept when their value is one the
//     mapping does not read (CLASS:X-SECRET, STATUS:TENTATIVE for an
//     event, TRANSP beside X-MICROSOFT-CDO-BUSYSTATUS, a plain-text
//     X-ALT-DESC);
//   - ATTACH by reference (a URI): kept; inline ones are attachments;
//   - VALARM: the first alarm's TRIGGER is the reminder field; an alarm
//     that says more than the writer's own (ACTION:DISPLAY,
//     DESCRIPTION:Reminder, TRIGGER), and every further alarm, is kept
//     whole as a VALARM extra whose value is its content lines.
// Not values of the item, so not kept: UID, DTSTAMP, LAST-MODIFIED and
// SEQUENCE (versioning of the object, as REV and UID of a vCard), and the
// calendar's own properties (PRODID, VERSION, METHOD, X-WR-CALNAME).

// metaProps are properties about the calendar object, not values of it.
var metaProps = map[string]bool{ical.PropUID: true, ical.PropDateTimeStamp: true, ical.PropLastModified: true,
	ical.PropSequence: true}

// mappedProps are the properties convert reads whole, per component.
var mappedProps = map[string]map[string]bool{
	ical.CompEvent: set(ical.PropSummary, ical.PropDescription, ical.PropCategories, ical.PropDateTimeStart,
		ical.PropDateTimeEnd, ical.PropDuration, ical.PropLocation, ical.PropRecurrenceRule, ical.PropRecurrenceDates,
		ical.PropExceptionDates, "EXRULE", ical.PropRecurrenceID, ical.PropPriority, "X-MICROSOFT-CDO-ALLDAYEVENT",
		"DALARM", "AALARM"),
	ical.CompToDo: set(ical.PropSummary, ical.PropDescription, ical.PropCategories, ical.PropDateTimeStart,
		ical.PropDue, ical.PropCompleted, ical.PropPercentComplete, ical.PropPriority, ical.PropStatus,
		"DALARM", "AALARM"),
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// partyParams are the ATTENDEE/ORGANIZER parameters a crm.Party holds.
var partyParams = set(ical.ParamCommonName, ical.ParamParticipationStatus, "EMAIL", "EXPECT", "STATUS",
	"ENCODING", "CHARSET")

// extras returns the values of c that no field, party or attachment
// holds, in the order of the file.
func (r *Reader) extras(c *ical.Component, f map[string]string) (out []crm.Extra) {
	mapped := mappedProps[c.Name]
	names := make([]string, 0, len(c.Props))
	for n := range c.Props {
		names = append(names, n)
	}
	sort.Strings(names) // go-ical keeps properties by name: a stable order
	for _, name := range names {
		if metaProps[name] || mapped[name] {
			continue
		}
		for i := range c.Props[name] {
			p := &c.Props[name][i]
			switch name {
			case ical.PropAttendee, ical.PropOrganizer:
				if x, ok := partyExtra(p, name == ical.PropOrganizer); ok {
					out = append(out, x)
				}
				continue
			case ical.PropClass:
				if i == 0 && f["sensitivity"] != "" {
					continue
				}
			case ical.PropStatus: // an event reads CANCELLED only
				if i == 0 && strings.EqualFold(strings.TrimSpace(p.Value), "CANCELLED") {
					continue
				}
			case ical.PropTransparency:
				// Read when there is no Outlook busy status; beside one,
				// kept only when it says otherwise than the writer derives.
				if i == 0 && f["busystatus"] != "" && (c.Props.Get("X-MICROSOFT-CDO-BUSYSTATUS") == nil ||
					strings.EqualFold(strings.TrimSpace(p.Value), transpOf(f["busystatus"]))) {
					continue
				}
			case "X-MICROSOFT-CDO-BUSYSTATUS":
				if i == 0 && f["busystatus"] != "" {
					continue
				}
			case "X-ALT-DESC":
				if strings.EqualFold(p.Params.Get(ical.ParamFormatType), "text/html") && f["descriptionhtml"] == r.propText(p) {
					continue
				}
			case ical.PropAttach:
				enc := strings.ToUpper(p.Params.Get("ENCODING"))
				if enc == "BASE64" || enc == "B" || strings.EqualFold(p.Params.Get(ical.ParamValue), "BINARY") {
					continue // an attachment (or a warning when it did not decode)
				}
			}
			out = append(out, r.propExtra(p))
		}
	}
	defer func() { out = dedupeExtras(out) }()
	first := true
	for _, a := range c.Children {
		if a.Name != ical.CompAlarm {
			out = append(out, crm.Extra{Name: a.Name, Value: componentLines(a)})
			continue
		}
		if first && a.Props.Get(ical.PropTrigger) != nil {
			first = false
			if plainAlarm(a) {
				continue
			}
		}
		out = append(out, crm.Extra{Name: ical.CompAlarm, Value: componentLines(a)})
	}
	return out
}

// plainAlarm reports whether a holds nothing but what the writer writes
// for a reminder (addAlarm).
func plainAlarm(a *ical.Component) bool {
	if len(a.Children) > 0 {
		return false
	}
	for name, ps := range a.Props {
		if len(ps) != 1 {
			return false
		}
		v := strings.TrimSpace(ps[0].Value)
		switch name {
		case ical.PropTrigger:
			for k, pv := range ps[0].Params {
				// RELATED=START is the default (../rfc/5545:3.2.14).
				if !(k == ical.ParamValue || k == ical.ParamRelated && strings.EqualFold(strings.Join(pv, ""), "START")) {
					return false
				}
			}
		case ical.PropAction:
			if !strings.EqualFold(v, "DISPLAY") {
				return false
			}
		case ical.PropDescription:
			if !strings.EqualFold(v, "Reminder") && v != "" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// propExtra is p as an extra value: its value as written, unless a
// vCalendar 1.0 transfer encoding or charset needs decoding (then the
// decoded text, escaped again).
func (r *Reader) propExtra(p *ical.Prop) crm.Extra {
	x := crm.Extra{Name: p.Name, Value: textcodec.String(p.Value)}
	// A text transfer encoding (vCalendar 1.0 quoted-printable) or a
	// charset is undone; a binary value (ENCODING=BASE64, RFC 5545
	// 3.3.1, such as an RFC 7986 IMAGE) stays as written, base64 text.
	enc := strings.ToUpper(p.Params.Get("ENCODING"))
	decode := enc == "QUOTED-PRINTABLE" || p.Params.Get("CHARSET") != "" && enc != "BASE64" && enc != "B"
	if decode {
		x.Value = escapeText(r.propText(p))
	}
	for k, vs := range p.Params {
		if decode && (k == "ENCODING" || k == "CHARSET") {
			continue
		}
		if x.Params == nil {
			x.Params = map[string]string{}
		}
		x.Params[k] = textcodec.String(strings.Join(vs, ","))
	}
	return x
}

// partyExtra is what an ATTENDEE or ORGANIZER says beyond its party: the
// parameters no party field holds, on the property's value.
func partyExtra(p *ical.Prop, organizer bool) (crm.Extra, bool) {
	v := textcodec.String(strings.TrimSpace(p.Value))
	if len(v) >= 7 && strings.EqualFold(v[:7], "mailto:") {
		v = "mailto:" + v[7:] // the scheme is case-insensitive (RFC 3986 3.1), as the writer writes it
	}
	x := crm.Extra{Name: p.Name, Value: v}
	for k, vs := range p.Params {
		if partyParams[k] {
			continue
		}
		v := strings.Join(vs, ",")
		if k == ical.ParamRole && !organizer {
			switch strings.ToUpper(strings.TrimSpace(v)) {
			case "REQ-PARTICIPANT", "OPT-PARTICIPANT", // the party's role
				"ATTENDEE", "ORGANIZER", "OWNER": // vCalendar 1.0 roles the party's role holds
				continue
			}
		}
		if x.Params == nil {
			x.Params = map[string]string{}
		}
		x.Params[k] = textcodec.String(v)
	}
	return x, x.Params != nil
}

// escapeText escapes a TEXT value (../rfc/5545:3.3.11).
func escapeText(s string) string { return textEscaper.Replace(s) }

// textEscaper is built once (a Replacer builds its tables on first use
// and keeps them).
var textEscaper = strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`)

// componentLines is a nested component's content lines (unfolded,
// CRLF-separated, without its own BEGIN and END), in the order go-ical
// keeps them: by property name.
func componentLines(c *ical.Component) string {
	b, err := componentBytes(c)
	if err != nil {
		return ""
	}
	s := strings.ReplaceAll(string(b), "\r\n ", "")
	s = strings.TrimSuffix(strings.TrimPrefix(s, "BEGIN:"+c.Name+"\r\n"), "END:"+c.Name+"\r\n")
	return strings.TrimSuffix(s, "\r\n")
}

// atMostOnce are the properties a VEVENT or VTODO holds once at most
// (../rfc/5545:3.6.1, 3.6.2): an extra of that name is not written
// beside the one the mapping writes.
var atMostOnce = set(ical.PropClass, ical.PropCreated, ical.PropDescription, ical.PropGeo, ical.PropLastModified,
	ical.PropLocation, ical.PropOrganizer, ical.PropPriority, ical.PropSequence, ical.PropStatus, ical.PropSummary,
	ical.PropTransparency, ical.PropURL, ical.PropRecurrenceID, ical.PropDateTimeEnd, ical.PropDuration,
	ical.PropDateTimeStart, ical.PropDue, ical.PropCompleted, ical.PropPercentComplete, ical.PropColor,
	ical.PropUID, ical.PropDateTimeStamp)

// addExtras writes rec's extra values back into c (as extras reads them):
// properties as they came, party parameters onto the ATTENDEE/ORGANIZER
// of the same address, VALARMs as alarms (one whose TRIGGER is the
// reminder replaces the alarm addAlarm wrote). An extra that cannot be
// written (a second value of a property allowed once, a component other
// than VALARM, a line break, a DQUOTE in a parameter) is told to warn.
func addExtras(c *ical.Component, rec *crm.Record, warn func(error)) {
	tell := func(x crm.Extra, why string) {
		if warn != nil {
			warn(fmt.Errorf("extra %s %.40q not written: %s", x.Name, x.Value, why))
		}
	}
	for _, x := range rec.Extras {
		if x.Name == ical.CompAlarm {
			a := ical.NewComponent(ical.CompAlarm)
			for _, line := range strings.Split(x.Value, "\r\n") {
				if p, err := parseLine(line); err == nil && p.Name != "BEGIN" && p.Name != "END" && paramsSafe(p.Params) {
					a.Props.Add(p)
				}
			}
			if a.Props.Get(ical.PropTrigger) == nil {
				tell(x, "alarm without TRIGGER")
				continue
			}
			// The alarm of the reminder, if addAlarm wrote one for the
			// same trigger, is this one.
			for i, ch := range c.Children {
				if ch.Name == ical.CompAlarm && plainAlarm(ch) && sameTrigger(ch, a) {
					c.Children = append(c.Children[:i], c.Children[i+1:]...)
					break
				}
			}
			c.Children = append(c.Children, a)
			continue
		}
		if !isToken(x.Name) || strings.EqualFold(x.Name, "BEGIN") || strings.EqualFold(x.Name, "END") {
			tell(x, "not a property name")
			continue
		}
		x.Name = strings.ToUpper(x.Name)
		if strings.ContainsAny(x.Value, "\r\n") {
			tell(x, "line break in the value")
			continue
		}
		p := ical.NewProp(x.Name)
		p.Value = x.Value
		for k, v := range x.Params {
			p.Params.Set(k, v)
		}
		if !paramsSafe(p.Params) {
			tell(x, "double quote in a parameter")
			continue
		}
		if x.Name == ical.PropAttendee || x.Name == ical.PropOrganizer {
			q := partyProp(c, x)
			if q == nil {
				tell(x, "no such party")
				continue
			}
			for k, v := range x.Params {
				q.Params.Set(k, v)
			}
			continue
		}
		if x.Name == ical.PropTransparency {
			c.Props.Set(p) // the source's, not the one derived from the busy status
			continue
		}
		if atMostOnce[x.Name] && c.Props.Get(x.Name) != nil {
			tell(x, "the item has its own "+x.Name)
			continue
		}
		c.Props.Add(p)
	}
}

// partyProp is c's ATTENDEE or ORGANIZER (x's name) of x's address.
func partyProp(c *ical.Component, x crm.Extra) *ical.Prop {
	want := partyAddr(x.Value)
	for i := range c.Props[x.Name] {
		if q := &c.Props[x.Name][i]; partyAddr(q.Value) == want {
			return q
		}
	}
	return nil
}

// partyAddr is the address of an ATTENDEE or ORGANIZER value, as party
// reads it: without "mailto:", out of a "Name <addr>" form (vCalendar
// 1.0), lower case.
func partyAddr(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 7 && strings.EqualFold(v[:7], "mailto:") {
		v = strings.TrimSpace(v[7:])
	}
	if strings.ContainsAny(v, "<\"") {
		if a, err := mail.ParseAddress(v); err == nil {
			v = a.Address
		}
	}
	return strings.ToLower(v)
}

func sameTrigger(a, b *ical.Component) bool {
	x, y := a.Props.Get(ical.PropTrigger), b.Props.Get(ical.PropTrigger)
	return x != nil && y != nil && strings.EqualFold(strings.TrimSpace(x.Value), strings.TrimSpace(y.Value))
}

// transpOf is the TRANSP the writer derives from an Outlook busy status
// code: free is TRANSPARENT, any other OPAQUE.
func transpOf(busy string) string {
	if strings.TrimSpace(busy) == busyCodes["FREE"] {
		return "TRANSPARENT"
	}
	return "OPAQUE"
}

// dedupeExtras drops an extra equal to one before it (name, value and
// parameters): a value given twice (two STATUS:CONFIRMED lines) is one
// value, as the store's union of extras also has it.
func dedupeExtras(xs []crm.Extra) []crm.Extra {
	seen := map[string]bool{}
	out := xs[:0]
	for _, x := range xs {
		k := fmt.Sprintf("%s\x00%s\x00%v", x.Name, x.Value, x.Params) // %v prints maps sorted
		if !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
	}
	return out
}

// onceProps are the properties a VEVENT or VTODO holds at most once (RFC
// 5545 3.6.1, 3.6.2: "MUST NOT occur more than once"): kept as extras;
// an older version of the event does not add its value of one beside the
// newer version's (crm.Incoming.Once).
var onceProps = map[string]bool{"CLASS": true, "CREATED": true, "DESCRIPTION": true, "DTSTART": true, "GEO": true,
	"LAST-MODIFIED": true, "LOCATION": true, "ORGANIZER": true, "PRIORITY": true, "SEQUENCE": true, "STATUS": true,
	"SUMMARY": true, "TRANSP": true, "URL": true, "RECURRENCE-ID": true, "DTEND": true, "DURATION": true,
	"COMPLETED": true, "DUE": true, "PERCENT-COMPLETE": true, "DTSTAMP": true, "UID": true}
