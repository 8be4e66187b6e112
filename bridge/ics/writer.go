package ics

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/bridge/wintz"
	"crmbridge/crm"
)

// ProdID is the PRODID the Encoder writes.
const ProdID = "-//crmbridge//crmbridge iCalendar export//EN"

// ErrEntity is returned by Encode for a record that is neither an
// appointment nor a task.
var ErrEntity = errors.New("ics: only appointment and task records can be written")

// Encoder writes appointments and tasks as one iCalendar object
// (METHOD:PUBLISH) that Outlook and other clients import: a VEVENT per
// appointment, a VTODO per task, a VTIMEZONE for every TZID used, CRLF line
// ends and lines folded at 75 octets. It uses go-ical's Encoder for the
// content lines and escaping.
type Encoder struct {
	w io.Writer
	// Now returns the DTSTAMP time; time.Now when nil.
	Now func() time.Time
	// Omit, when set, is told of each record that cannot be written (the
	// error says why) and Encode goes on with the others; when nil, such
	// a record fails Encode.
	Omit func(rec *crm.Record, err error)
	// Warn, when set, is told of each record written in the nearest
	// valid form rather than as stored (an extra RRULE written as RDATEs).
	Warn func(rec *crm.Record, err error)
}

// NewEncoder returns an Encoder that writes to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode writes recs as one VCALENDAR. A first pass over the records
// (no attachment opened) finds the TZIDs used and the years they span, so
// that the VTIMEZONEs come first; the second writes one component at a
// time, so memory holds one record's component and attachments, which are
// written inline. On an error w holds a partial calendar: write to a
// temporary file. Records need their Parties resolved. A time whose record
// has a timezone that package wintz resolves is written as local time with
// that TZID; any other time in UTC. Recurrence lines that are not
// iCalendar 2.0 (Outlook pattern text, vCalendar 1.0 rules, a TZID no
// VTIMEZONE can be generated for) are left out. A record that cannot be
// written fails Encode, or with Omit set is reported and left out; only
// an error writing to w fails Encode then.
func (e *Encoder) Encode(recs ...crm.Record) error {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	stamp := now().UTC()
	omit := func(rec *crm.Record, err error) error {
		if e.Omit == nil {
			return err
		}
		e.Omit(rec, err)
		return nil
	}

	tzs := newTZSet()
	recs = slices.Clone(recs)       // the caller's records are not modified
	left := make([]bool, len(recs)) // left out
	for i := range recs {
		recs[i] = textcodec.ValidRecord(recs[i])
		rec := &recs[i]
		var err error
		switch rec.Entity {
		case crm.Appointment:
			_, err = encodeEvent(rec, stamp, tzs, false, nil)
		case crm.Task:
		default:
			err = fmt.Errorf("%w: %s %s", ErrEntity, rec.Entity, rec.ID)
		}
		if err != nil {
			if err := omit(rec, err); err != nil {
				return err
			}
			left[i] = true
		}
	}

	bw := bufio.NewWriter(e.w)
	fw := textcodec.NewFoldWriter(bw)
	// go-ical's Encoder writes whole calendars only (and refuses an empty
	// one): the calendar's own lines are written here, each component
	// through writeComponent.
	if _, err := fmt.Fprintf(fw, "BEGIN:VCALENDAR\r\nMETHOD:PUBLISH\r\nPRODID:%s\r\nVERSION:2.0\r\n", ProdID); err != nil {
		return err
	}
	for _, c := range tzs.components() {
		if err := writeComponent(fw, c); err != nil {
			return err
		}
	}
	for i := range recs {
		if left[i] {
			continue
		}
		rec := &recs[i]
		var warn func(error)
		if e.Warn != nil {
			warn = func(err error) { e.Warn(rec, err) }
		}
		var c *ical.Component
		var err error
		if rec.Entity == crm.Appointment {
			c, err = encodeEvent(rec, stamp, nil, true, warn)
		} else {
			c, err = encodeTodo(rec, stamp, warn)
		}
		var b []byte
		if err == nil {
			b, err = componentBytes(c)
		}
		if err != nil {
			if err := omit(rec, fmt.Errorf("ics: %s %s: %w", rec.Entity, rec.ID, err)); err != nil {
				return err
			}
			continue
		}
		if _, err := fw.Write(b); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(fw, "END:VCALENDAR\r\n"); err != nil {
		return err
	}
	return bw.Flush()
}

// writeComponent writes the lines of c (see componentBytes).
func writeComponent(w io.Writer, c *ical.Component) error {
	b, err := componentBytes(c)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// componentBytes encodes c with go-ical's Encoder (escaping, parameter
// quoting, its checks of required properties) inside a throw-away
// calendar, and returns c's lines only.
func componentBytes(c *ical.Component) ([]byte, error) {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, ProdID)
	cal.Children = []*ical.Component{c}
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		return nil, fmt.Errorf("ics: encode: %w", err)
	}
	const prefix = "BEGIN:VCALENDAR\r\nPRODID:" + ProdID + "\r\nVERSION:2.0\r\n"
	const suffix = "END:VCALENDAR\r\n"
	b := buf.Bytes()
	if !bytes.HasPrefix(b, []byte(prefix)) || !bytes.HasSuffix(b, []byte(suffix)) || len(b) < len(prefix)+len(suffix) {
		return nil, fmt.Errorf("ics: encode: unexpected go-ical output %.60q", b)
	}
	return b[len(prefix) : len(b)-len(suffix)], nil
}

// uidOf returns the UID of a record: its uid field, else the UID of its
// Outlook global object id (its hex, upper case), else the record id.
func uidOf(rec *crm.Record) string {
	if u := strings.TrimSpace(rec.Fields["uid"]); u != "" {
		return u
	}
	if g := strings.TrimSpace(rec.Fields["globalobjectid"]); g != "" {
		return strings.ToUpper(g)
	}
	return rec.ID
}

func parseStoreTime(v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	return t.UTC(), err == nil
}

// setText sets a TEXT property, line ends normalized to "\n" (go-ical
// escapes "\n" but refuses a bare CR).
func setText(c *ical.Component, name, v string) {
	if strings.TrimSpace(v) == "" {
		return
	}
	v = strings.ReplaceAll(strings.ReplaceAll(v, "\r\n", "\n"), "\r", "\n")
	c.Props.SetText(name, v)
}

// setRaw sets a property whose value is already in iCalendar form (a
// token, an integer), without go-ical's VALUE=TEXT.
func setRaw(c *ical.Component, name, v string) {
	p := ical.NewProp(name)
	p.Value = v
	c.Props.Set(p)
}

// setVersion writes the record's iTIP version (RFC 5546 2.1.5): the
// SEQUENCE and DTSTAMP the store holds, so that the export imported again
// (here or into another store) is the same version of the event, not an
// older or newer one. A record without one gets no SEQUENCE and the export
// time as DTSTAMP (RFC 5545 3.8.7.2 requires one): the Reader gives such a
// component of a calendar crmbridge wrote no version.
func setVersion(c *ical.Component, rec *crm.Record, stamp time.Time) {
	if s := rec.Schedule; s != nil {
		c.Props.Set(&ical.Prop{Name: ical.PropSequence, Params: ical.Params{}, Value: strconv.Itoa(s.Sequence)})
		if !s.Stamp.IsZero() {
			stamp = s.Stamp.UTC()
		}
	}
	c.Props.SetDateTime(ical.PropDateTimeStamp, stamp)
}

// encodeEvent builds the VEVENT of an appointment. It records the TZIDs it
// uses in tzs when tzs is not nil, and writes the attachments when
// withAttachments. warn, when not nil, is told of what is written in a
// nearer valid form than stored.
func encodeEvent(rec *crm.Record, stamp time.Time, tzs *tzSet, withAttachments bool, warn func(error)) (*ical.Component, error) {
	f := rec.Fields
	c := ical.NewComponent(ical.CompEvent)
	c.Props.SetText(ical.PropUID, uidOf(rec))
	setVersion(c, rec, stamp)
	setText(c, ical.PropSummary, f["subject"])
	setText(c, ical.PropDescription, f["description"])
	setText(c, ical.PropLocation, f["location"])
	if h := f["descriptionhtml"]; strings.TrimSpace(h) != "" {
		setText(c, "X-ALT-DESC", h)
		p := c.Props.Get("X-ALT-DESC")
		p.Params.Del(ical.ParamValue)
		p.Params.Set(ical.ParamFormatType, "text/html")
	}
	allDay := f["isalldayevent"] == "true"
	tzid := paramSafe(f["timezone"])
	loc := recordZone(tzid, f["timezoneblob"])
	setTime := func(name, v string) {
		t, ok := parseStoreTime(v)
		if !ok {
			return
		}
		p := ical.NewProp(name)
		switch {
		case allDay && t.Equal(t.Truncate(24*time.Hour)):
			p.SetDate(t)
		case loc != nil && !secondOccurrence(t, loc):
			p.Params.Set(ical.PropTimezoneID, tzid)
			p.Value = t.In(loc).Format("20060102T150405")
			tzs.use(tzid, loc, t)
		default:
			p.SetDateTime(t)
		}
		c.Props.Set(p)
	}
	setTime(ical.PropDateTimeStart, f["scheduledstart"])
	setTime(ical.PropDateTimeEnd, f["scheduledend"])
	setTime(ical.PropRecurrenceID, f["recurrenceid"])
	if allDay {
		setRaw(c, "X-MICROSOFT-CDO-ALLDAYEVENT", "TRUE")
	}
	var rules []*ical.Prop
	for _, line := range strings.Split(f["recurrence"], "\n") {
		p, err := parseLine(strings.TrimSpace(line))
		if err != nil {
			continue // Outlook's own pattern text, not iCalendar lines
		}
		switch p.Name {
		case ical.PropRecurrenceRule, ical.PropExceptionDates, ical.PropRecurrenceDates, "EXRULE":
		default:
			continue
		}
		if !paramsSafe(p.Params) || strings.ContainsAny(p.Value, "\r\n") {
			continue
		}
		if p.Name == ical.PropRecurrenceRule || p.Name == "EXRULE" {
			if !strings.Contains(strings.ToUpper(p.Value), "FREQ=") {
				continue // vCalendar 1.0 rule syntax ("D1 #5"): not valid in 2.0
			}
			// Producers write "BYDAY=MO, TU"; RFC 5545 3.3.10 has no
			// spaces, and readers such as khal fail on them.
			p.Value = strings.ReplaceAll(p.Value, " ", "")
		}
		if id := p.Params.Get(ical.PropTimezoneID); id != "" {
			l := loc
			if id != tzid {
				l = recordZone(id, "")
			}
			if l == nil {
				continue // no VTIMEZONE could be written for it
			}
			first, _, _, _ := parseNaive(strings.Split(p.Value, ",")[0])
			tzs.use(id, l, first)
		}
		if p.Name == ical.PropRecurrenceRule {
			rules = append(rules, p)
			continue
		}
		c.Props.Add(p)
	}
	if len(rules) > 0 {
		c.Props.Add(rules[0])
		start, _ := parseStoreTime(f["scheduledstart"])
		for _, r := range rules[1:] {
			extraRule(c, r, start, allDay, loc, tzid, warn)
		}
		if len(rules) > 1 && loc != nil && !allDay {
			tzs.use(tzid, loc, start) // the RDATEs' TZID
		}
	}
	if f["statecode"] == "2" {
		setRaw(c, ical.PropStatus, "CANCELLED")
	}
	setClass(c, f["sensitivity"])
	setCategories(c, f["categories"])
	if pr := icalPriority(f["prioritycode"]); pr != "" {
		setRaw(c, ical.PropPriority, pr)
	}
	// busystatus: Outlook's code (0 free ... 4 working elsewhere); a
	// name is accepted too.
	if b := strings.ToUpper(strings.TrimSpace(f["busystatus"])); b != "" {
		name := b
		for n, code := range busyCodes {
			if code == b {
				name = n
			}
		}
		if _, ok := busyCodes[name]; ok {
			transp := "OPAQUE"
			if name == "FREE" {
				transp = "TRANSPARENT"
			}
			setRaw(c, ical.PropTransparency, transp)
			setRaw(c, "X-MICROSOFT-CDO-BUSYSTATUS", name)
		}
	}
	addParties(c, rec)
	addAlarm(c, f["reminder"])
	addExtras(c, rec, warn)
	if withAttachments {
		if err := addAttachments(c, rec); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// addParties writes the organizer (a task's owner) and the attendees
// of an event or a task (RFC 5545 3.6.1 and 3.6.2 allow both in VEVENT
// and VTODO), each with its role and participation status.
func addParties(c *ical.Component, rec *crm.Record) {
	for _, pt := range rec.Parties {
		var p *ical.Prop
		switch pt.Role {
		case crm.RoleOrganizer:
			if c.Props.Get(ical.PropOrganizer) != nil {
				continue
			}
			p = ical.NewProp(ical.PropOrganizer)
		case crm.RoleRequired, crm.RoleOptional:
			p = ical.NewProp(ical.PropAttendee)
			role := "REQ-PARTICIPANT"
			if pt.Role == crm.RoleOptional {
				role = "OPT-PARTICIPANT"
			}
			p.Params.Set(ical.ParamRole, role)
			if s := strings.ToUpper(strings.TrimSpace(pt.Status)); s != "" && isToken(s) {
				p.Params.Set(ical.ParamParticipationStatus, s)
			}
		default:
			continue
		}
		addr := strings.TrimSpace(pt.Address)
		if addr == "" {
			continue
		}
		if n := paramSafe(pt.Name); n != "" {
			p.Params.Set(ical.ParamCommonName, n)
		}
		p.Value = "mailto:" + strings.Map(dropControl, addr)
		c.Props.Add(p)
	}
}

// maxAttachment bounds the size of one attachment written inline.
const maxAttachment = 32 << 20

// addAttachments writes each attachment inline
// (ATTACH;ENCODING=BASE64;VALUE=BINARY, ../rfc/5545:3.8.1.1) with its file
// name in X-FILENAME, as Outlook and Exchange do.
func addAttachments(c *ical.Component, rec *crm.Record) error {
	for _, a := range rec.Attachments {
		if a.Open == nil {
			continue // no content to write
		}
		rc, err := a.Open()
		if err != nil {
			return fmt.Errorf("ics: record %s: open attachment %q: %w", rec.ID, a.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxAttachment+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("ics: record %s: read attachment %q: %w", rec.ID, a.Name, err)
		}
		if len(b) > maxAttachment {
			return fmt.Errorf("ics: record %s: attachment %q larger than %d bytes", rec.ID, a.Name, maxAttachment)
		}
		p := ical.NewProp(ical.PropAttach)
		p.SetBinary(b)
		if mt := paramSafe(a.MimeType); mt != "" {
			p.Params.Set(ical.ParamFormatType, mt)
		}
		if n := paramSafe(a.Name); n != "" {
			p.Params.Set("X-FILENAME", n)
		}
		c.Props.Add(p)
	}
	return nil
}

func encodeTodo(rec *crm.Record, stamp time.Time, warn func(error)) (*ical.Component, error) {
	f := rec.Fields
	c := ical.NewComponent(ical.CompToDo)
	c.Props.SetText(ical.PropUID, uidOf(rec))
	setVersion(c, rec, stamp)
	setText(c, ical.PropSummary, f["subject"])
	setText(c, ical.PropDescription, f["description"])
	for name, field := range map[string]string{ical.PropDateTimeStart: "scheduledstart", ical.PropDue: "scheduledend", ical.PropCompleted: "actualend"} {
		if t, ok := parseStoreTime(f[field]); ok {
			c.Props.SetDateTime(name, t)
		}
	}
	pct := -1
	if n, err := strconv.Atoi(strings.TrimSpace(f["percentcomplete"])); err == nil && n >= 0 && n <= 100 {
		pct = n
		setRaw(c, ical.PropPercentComplete, strconv.Itoa(n))
	}
	if pr := icalPriority(f["prioritycode"]); pr != "" {
		setRaw(c, ical.PropPriority, pr)
	}
	switch f["statecode"] {
	case "1":
		setRaw(c, ical.PropStatus, "COMPLETED")
	case "2":
		setRaw(c, ical.PropStatus, "CANCELLED")
	case "0":
		if f["statuscode"] == "3" || pct > 0 && f["statuscode"] != "2" {
			setRaw(c, ical.PropStatus, "IN-PROCESS")
		} else {
			setRaw(c, ical.PropStatus, "NEEDS-ACTION")
		}
	}
	setClass(c, f["sensitivity"])
	setCategories(c, f["categories"])
	addParties(c, rec)
	addAlarm(c, f["reminder"])
	addExtras(c, rec, warn)
	if err := addAttachments(c, rec); err != nil {
		return nil, err
	}
	return c, nil
}

// icalPriority maps prioritycode (0 low, 1 normal, 2 high) to PRIORITY
// 9, 5, 1 (../rfc/5545:3.8.1.9).
func icalPriority(code string) string {
	switch strings.TrimSpace(code) {
	case "0":
		return "9"
	case "1":
		return "5"
	case "2":
		return "1"
	}
	return ""
}

// setClass maps Outlook sensitivity (0 normal, 1 personal, 2 private,
// 3 confidential) to CLASS.
func setClass(c *ical.Component, s string) {
	switch strings.TrimSpace(s) {
	case "0":
		setRaw(c, ical.PropClass, "PUBLIC")
	case "1", "2":
		setRaw(c, ical.PropClass, "PRIVATE")
	case "3":
		setRaw(c, ical.PropClass, "CONFIDENTIAL")
	}
}

func setCategories(c *ical.Component, v string) {
	var cats []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cats = append(cats, strings.Map(dropControl, s))
		}
	}
	if len(cats) > 0 {
		p := ical.NewProp(ical.PropCategories)
		p.SetTextList(cats)
		c.Props.Set(p)
	}
}

// addAlarm adds a display VALARM for a reminder as the reader gives it: a
// duration before the start ("-PT15M") or an RFC 3339 time.
func addAlarm(c *ical.Component, rem string) {
	rem = strings.TrimSpace(rem)
	if rem == "" {
		return
	}
	trig := ical.NewProp(ical.PropTrigger)
	if t, ok := parseStoreTime(rem); ok {
		trig.SetDateTime(t)
	} else if _, err := parseDuration(rem); err == nil {
		trig.Value = strings.ToUpper(rem)
	} else {
		return
	}
	a := ical.NewComponent(ical.CompAlarm)
	setRaw(a, ical.PropAction, "DISPLAY")
	a.Props.SetText(ical.PropDescription, "Reminder")
	a.Props.Set(trig)
	c.Children = append(c.Children, a)
}

// isToken reports whether s is an iana-token or x-name (../rfc/5545:3.1).
func isToken(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return s != ""
}

// paramSafe makes s a valid parameter value: no control characters and no
// DQUOTE (../rfc/5545:3.1 param-value cannot hold one, even quoted).
func paramSafe(s string) string {
	s = strings.Map(dropControl, s)
	return strings.TrimSpace(strings.ReplaceAll(s, `"`, "'"))
}

// paramsSafe reports whether go-ical can write every parameter value.
func paramsSafe(ps ical.Params) bool {
	for _, vs := range ps {
		for _, v := range vs {
			if strings.ContainsAny(v, "\"\r\n") {
				return false
			}
		}
	}
	return true
}

func dropControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return ' '
	}
	return r
}

// tzSet collects the TZIDs used and the span of times each covers.
type tzSet struct {
	zones map[string]*tzUse
}

type tzUse struct {
	loc        *time.Location
	minY, maxY int
}

func newTZSet() *tzSet { return &tzSet{zones: map[string]*tzUse{}} }

func (s *tzSet) use(tzid string, loc *time.Location, t time.Time) {
	if s == nil {
		return
	}
	y := t.In(loc).Year()
	if t.IsZero() {
		y = time.Now().Year()
	}
	u, ok := s.zones[tzid]
	if !ok {
		s.zones[tzid] = &tzUse{loc: loc, minY: y, maxY: y}
		return
	}
	u.minY, u.maxY = min(u.minY, y), max(u.maxY, y)
}

// components returns one VTIMEZONE per TZID, sorted by TZID.
func (s *tzSet) components() []*ical.Component {
	ids := make([]string, 0, len(s.zones))
	for id := range s.zones {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []*ical.Component
	for _, id := range ids {
		u := s.zones[id]
		out = append(out, vtimezoneFor(id, u.loc, u.minY, u.maxY))
	}
	return out
}

// recordZone is the zone of a record's times: its timezone name as
// package wintz resolves it, else the rules kept with it (timezoneblob, a
// TZDEFINITION: what the reader keeps of a VTIMEZONE under a custom TZID,
// or a PST of its zone); nil when neither gives one (UTC is written).
func recordZone(tzid, blob string) *time.Location {
	if tzid == "" {
		return nil
	}
	if l, err := wintz.Location(tzid); err == nil {
		return l
	}
	b, err := hex.DecodeString(blob)
	if err != nil || len(b) == 0 {
		return nil
	}
	_, rules, _, err := wintz.ParseDefinition(b)
	if err != nil {
		return nil
	}
	l, err := wintz.RulesLocation(tzid, rules)
	if err != nil {
		return nil
	}
	return l
}

// secondOccurrence reports whether t's local time in loc occurs earlier
// too (the hour repeated when daylight time ends): RFC 5545 3.3.5 reads
// such a local time as the first occurrence, so t must be written in UTC.
func secondOccurrence(t time.Time, loc *time.Location) bool {
	wall := t.In(loc).Format("20060102T150405")
	for _, d := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		if t.Add(-d).In(loc).Format("20060102T150405") == wall {
			return true
		}
	}
	return false
}
