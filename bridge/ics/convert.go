package ics

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/mail"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/bridge/item"
	"crmbridge/crm"
	"crmbridge/internal/recovered"
)

// convert maps a VEVENT or VTODO to an Incoming record; problems that do
// not lose the item are queued as warnings.
func (r *Reader) convert(c *ical.Component, line int, recur []string, sum hash.Hash) (in *crm.Incoming, err error) {
	defer func() {
		if p := recover(); p != nil {
			recovered.Note(p)
			in, err = nil, fmt.Errorf("internal error reading %s: %v", c.Name, p)
		}
	}()
	f := map[string]string{}
	in = &crm.Incoming{Record: crm.Record{Fields: f}, Pos: r.pos(line)}
	in.Source.Kind = "ics"

	uid := strings.TrimSpace(r.text(c, ical.PropUID))
	item.SetIf(f, "uid", uid)
	if c.Name == ical.CompEvent && isGlobalObjectID(uid) {
		// MS-OXCICAL 2.1.3.1.1.20.26: Outlook (and our writer) writes an
		// appointment's PidLidGlobalObjectId as its UID, in hex.
		f["globalobjectid"] = strings.ToLower(uid)
	}
	item.SetIf(f, "subject", r.text(c, ical.PropSummary))
	item.SetIf(f, "description", r.text(c, ical.PropDescription))
	for _, p := range c.Props.Values("X-ALT-DESC") {
		if strings.EqualFold(p.Params.Get(ical.ParamFormatType), "text/html") {
			item.SetIf(f, "descriptionhtml", r.propText(&p))
		}
	}
	if cats := r.categories(c); cats != "" {
		f["categories"] = cats
	}
	switch strings.ToUpper(r.text(c, ical.PropClass)) {
	case "PUBLIC":
		f["sensitivity"] = "0"
	case "PRIVATE":
		f["sensitivity"] = "2"
	case "CONFIDENTIAL":
		f["sensitivity"] = "3"
	}
	if rem := r.reminder(c); rem != "" {
		f["reminder"] = rem
	}
	status := strings.ToUpper(strings.TrimSpace(r.text(c, ical.PropStatus)))

	timeProp := func(name string) (when, bool) {
		p := c.Props.Get(name)
		if p == nil {
			return when{}, false
		}
		w, warn, err := r.timeOf(p)
		if err != nil {
			r.warn(line, "%v", err)
			return when{}, false
		}
		if warn != nil {
			r.warn(line, "%v", warn)
		}
		return w, true
	}
	start, hasStart := timeProp(ical.PropDateTimeStart)
	var ident string // identifying content for a UID-less item

	if c.Name == ical.CompEvent {
		in.Record.Entity = crm.Appointment
		item.SetIf(f, "location", r.text(c, ical.PropLocation))
		allDay := start.date
		if v := strings.ToUpper(r.text(c, "X-MICROSOFT-CDO-ALLDAYEVENT")); v == "TRUE" {
			allDay = true
		}
		end, hasEnd := timeProp(ical.PropDateTimeEnd)
		if !hasEnd && hasStart {
			end, hasEnd = start, true
			if p := c.Props.Get(ical.PropDuration); p != nil {
				if d, err := parseDuration(p.Value); err == nil {
					end.t = start.t.Add(d)
				} else {
					r.warn(line, "DURATION: %v", err)
				}
			} else if start.date {
				end.t = start.t.AddDate(0, 0, 1) // ../rfc/5545:3.6.1 a DATE start lasts one day
			}
		}
		if hasStart && hasEnd && start.date && !end.date {
			// ../rfc/5545:3.6.1 DTEND has DTSTART's value type. A DATE
			// start is an all-day event: it lasts to the end of DTEND's
			// day, whole days (never an all-day event ending at 03:59Z).
			r.warn(line, "DTEND is a DATE-TIME but DTSTART a DATE: read as all-day, to the end of DTEND's day")
			n, _, _, _ := parseNaive(c.Props.Get(ical.PropDateTimeEnd).Value)
			d := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
			if !n.Equal(d) {
				d = d.AddDate(0, 0, 1)
			}
			end.t, end.date = d, true
		}
		if hasStart && hasEnd && end.t.Before(start.t) {
			r.warn(line, "event ends before it starts; end set to start")
			end.t = start.t
		}
		if allDay && hasStart && !start.date {
			// X-MICROSOFT-CDO-ALLDAYEVENT with date-times: the local dates;
			// without DTEND, one day (as a DATE start).
			start.t = localMidnight(c.Props.Get(ical.PropDateTimeStart).Value)
			end.t = start.t.AddDate(0, 0, 1)
			if p := c.Props.Get(ical.PropDateTimeEnd); p != nil {
				if e := localMidnight(p.Value); !e.Before(start.t) {
					end.t = e
				}
			}
		}
		if hasStart {
			f["scheduledstart"] = item.FormatTime(start.t)
		}
		if hasEnd {
			f["scheduledend"] = item.FormatTime(end.t)
		}
		if hasStart {
			// Without DTSTART (a REPLY or CANCEL may leave it out) the
			// item says nothing of the span: no all-day flag either.
			f["isalldayevent"] = strconv.FormatBool(allDay)
		}
		if start.tzid != "" {
			f["timezone"] = start.tzid
			item.SetIf(f, "timezoneblob", r.customZone(start.tzid, start.t))
		}
		if len(recur) > 0 {
			f["recurrence"] = strings.Join(recur, "\n")
		}
		var recID time.Time
		if rid, ok := timeProp(ical.PropRecurrenceID); ok {
			recID = rid.t
			f["recurrenceid"] = item.FormatTime(recID)
		}
		// Dataverse appointment states as the PST mapping sets them:
		// statecode 2 canceled (statuscode 4), 3 scheduled (statuscode 5).
		if status == "CANCELLED" || r.method == "CANCEL" {
			f["statecode"], f["statuscode"] = "2", "4"
		} else {
			f["statecode"], f["statuscode"] = "3", "5"
		}
		if code, ok := busyCodes[strings.ToUpper(strings.TrimSpace(r.text(c, "X-MICROSOFT-CDO-BUSYSTATUS")))]; ok {
			f["busystatus"] = code
		} else {
			switch strings.ToUpper(strings.TrimSpace(r.text(c, ical.PropTransparency))) {
			case "TRANSPARENT":
				f["busystatus"] = "0"
			case "OPAQUE":
				f["busystatus"] = "2"
			}
		}
		if p := c.Props.Get(ical.PropPriority); p != nil {
			f["prioritycode"] = priority(p.Value)
		}
		in.Record.Parties = r.parties(c, line)
		attendees := 0
		for _, p := range in.Record.Parties {
			if p.Role != crm.RoleOrganizer {
				attendees++
			}
		}
		f["ismeeting"] = strconv.FormatBool(attendees > 0)
		ident = "VEVENT\x00" + f["scheduledstart"] + "\x00" + f["subject"] + "\x00" + r.text(c, ical.PropOrganizer)
		in.Keys = item.EventKeys(uid, recID)
		if uid != "" {
			in.Source.Key = uid
			if !recID.IsZero() {
				in.Source.Key += "/" + recID.UTC().Format("20060102T150405Z")
			}
		}
		fmt.Fprintf(sum, "\x00%s\x00%s\x00%s", f["scheduledstart"], f["scheduledend"], f["recurrenceid"])
	} else {
		in.Record.Entity = crm.Task
		if hasStart {
			f["scheduledstart"] = item.FormatTime(start.t)
		}
		if due, ok := timeProp(ical.PropDue); ok {
			f["scheduledend"] = item.FormatTime(due.t)
		} else if p := c.Props.Get(ical.PropDuration); p != nil && hasStart {
			if d, err := parseDuration(p.Value); err == nil {
				f["scheduledend"] = item.FormatTime(start.t.Add(d))
			}
		}
		if done, ok := timeProp(ical.PropCompleted); ok {
			f["actualend"] = item.FormatTime(done.t)
		}
		if v := r.text(c, ical.PropPercentComplete); v != "" {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 && n <= 100 {
				f["percentcomplete"] = strconv.Itoa(n)
			} else {
				r.warn(line, "PERCENT-COMPLETE %q ignored", trunc(v))
			}
		}
		pr := ""
		if p := c.Props.Get(ical.PropPriority); p != nil {
			pr = p.Value
		}
		f["prioritycode"] = priority(pr)
		// statecode 0 open, 1 completed, 2 canceled; statuscode as
		// Dataverse tasks have it: 2 not started, 3 in progress,
		// 5 completed, 6 canceled.
		switch {
		case r.method == "CANCEL" || status == "CANCELLED":
			f["statecode"], f["statuscode"] = "2", "6"
		case status == "COMPLETED":
			f["statecode"], f["statuscode"] = "1", "5"
		case status == "IN-PROCESS":
			f["statecode"], f["statuscode"] = "0", "3"
		default: // NEEDS-ACTION, vCalendar 1.0 "NEEDS ACTION", none
			f["statecode"], f["statuscode"] = "0", "2"
		}
		in.Record.Parties = r.parties(c, line)
		ident = "VTODO\x00" + f["scheduledstart"] + "\x00" + f["scheduledend"] + "\x00" + f["subject"]
		in.Keys = item.TaskKeys(uid)
		in.Source.Key = strings.TrimSpace(uid)
		fmt.Fprintf(sum, "\x00%s\x00%s", f["scheduledstart"], f["scheduledend"])
	}
	in.Record.Attachments = r.attachments(c, line)
	in.Record.Extras = r.extras(c, f)
	in.Once = onceProps
	// Parameter values and raw lines are not decoded by propText.
	for k, v := range f {
		f[k] = textcodec.String(v)
	}
	for i := range in.Record.Parties {
		p := &in.Record.Parties[i]
		p.Address, p.Name, p.Status = textcodec.String(p.Address), textcodec.String(p.Name), textcodec.String(p.Status)
	}
	if in.Source.Key == "" {
		h := sha256.Sum256([]byte(ident))
		in.Source.Key = "sha:" + hex.EncodeToString(h[:16])
	}
	if r.method != "" {
		// The same component as a REQUEST and as a CANCEL are two
		// versions.
		fmt.Fprintf(sum, "\x00METHOD:%s", r.method)
	}
	in.Source.Version = "sha256:" + hexSum(sum)
	in.Schedule = r.schedule(c, line)
	stamps := []string{ical.PropLastModified, ical.PropDateTimeStamp}
	if r.prodid == ProdID {
		// crmbridge's export writes the event's version as DTSTAMP (or
		// the export time), not when its content last changed: an edit of
		// the exported file is as new as the file.
		stamps = stamps[:1]
	}
	for _, name := range stamps {
		if p := c.Props.Get(name); p != nil {
			if t, _, _, err := parseNaive(p.Value); err == nil {
				in.ModifiedAt = t
				break
			}
		}
	}
	return in, nil
}

// schedule returns the iTIP version of c (RFC 5546 2.1.5): the calendar's
// METHOD, the SEQUENCE (RFC 5545 3.8.7.4: a non-negative integer, 0 when
// absent) and the DTSTAMP (3.8.7.2, a UTC date-time).
//
// A component of a calendar crmbridge exported (PRODID ProdID) without
// SEQUENCE has none: the Encoder writes the version the store holds
// (SEQUENCE and DTSTAMP), and for a record without one no SEQUENCE and the
// export time as DTSTAMP, which is no version of the event.
func (r *Reader) schedule(c *ical.Component, line int) *crm.Schedule {
	if r.prodid == ProdID && c.Props.Get(ical.PropSequence) == nil {
		return nil
	}
	s := &crm.Schedule{Method: r.method}
	if v := strings.TrimSpace(r.text(c, ical.PropSequence)); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			s.Sequence = n
		} else {
			r.warn(line, "SEQUENCE %q is not a non-negative integer, read as 0", trunc(v))
		}
	}
	if p := c.Props.Get(ical.PropDateTimeStamp); p != nil {
		if t, _, _, err := parseNaive(p.Value); err == nil {
			s.Stamp = t.UTC()
		}
	}
	return s
}

// localMidnight is midnight UTC of the date in a DATE-TIME value.
func localMidnight(v string) time.Time {
	t, _, _, err := parseNaive(v)
	if err != nil {
		return time.Time{}
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// priority maps iCalendar PRIORITY (../rfc/5545:3.8.1.9: 1 highest, 9
// lowest, 0 undefined) to prioritycode 0 low, 1 normal, 2 high.
func priority(v string) string {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	switch {
	case err != nil || n == 0 || n == 5:
		return "1"
	case n >= 1 && n <= 4:
		return "2"
	case n >= 6 && n <= 9:
		return "0"
	}
	return "1"
}

// parties returns the ORGANIZER and ATTENDEEs.
func (r *Reader) parties(c *ical.Component, line int) []crm.Party {
	var out []crm.Party
	// A calendar user with neither an address nor a CN is no party (the
	// party rule of crm.Party): said, not dropped silently.
	none := func(p *ical.Prop) {
		r.warn(line, "%s without an address or a CN: left out", p.Name)
	}
	if p := c.Props.Get(ical.PropOrganizer); p != nil {
		if pt, ok := r.party(p); ok {
			pt.Role = crm.RoleOrganizer
			out = append(out, pt)
		} else {
			none(p)
		}
	}
	for _, p := range c.Props.Values(ical.PropAttendee) {
		pt, ok := r.party(&p)
		if !ok {
			none(&p)
			continue
		}
		role := strings.ToUpper(p.Params.Get(ical.ParamRole))
		expect := strings.ToUpper(p.Params.Get("EXPECT")) // vCalendar 1.0
		switch {
		case role == "OPT-PARTICIPANT" || role == "NON-PARTICIPANT" || expect == "FYI" || expect == "REQUEST":
			pt.Role = crm.RoleOptional
		case role == "ORGANIZER" || role == "OWNER": // vCalendar 1.0
			pt.Role = crm.RoleOrganizer
		default: // REQ-PARTICIPANT, CHAIR, none
			pt.Role = crm.RoleRequired
		}
		pt.Status = strings.ToUpper(p.Params.Get(ical.ParamParticipationStatus))
		if pt.Status == "" {
			pt.Status = strings.ToUpper(p.Params.Get("STATUS")) // vCalendar 1.0
		}
		out = append(out, pt)
	}
	return out
}

func (r *Reader) party(p *ical.Prop) (crm.Party, bool) {
	v := strings.TrimSpace(r.propText(p))
	if len(v) >= 7 && strings.EqualFold(v[:7], "mailto:") {
		v = strings.TrimSpace(v[7:])
	}
	name := strings.TrimSpace(p.Params.Get(ical.ParamCommonName))
	if !strings.Contains(v, "@") {
		if e := p.Params.Get("EMAIL"); strings.Contains(e, "@") { // ../rfc/9073
			v = e
		}
	}
	if strings.ContainsAny(v, "<\"") {
		if a, err := mail.ParseAddress(v); err == nil {
			v = a.Address
			if name == "" {
				name = a.Name
			}
		}
	}
	if v == "" && name == "" {
		return crm.Party{}, false
	}
	return crm.Party{Address: v, Name: name}, true
}

// reminder returns the first VALARM's TRIGGER as written ("-PT15M"), an
// absolute trigger as an RFC 3339 time, or a vCalendar 1.0 DALARM/AALARM
// time.
func (r *Reader) reminder(c *ical.Component) string {
	for _, a := range c.Children {
		if a.Name != ical.CompAlarm {
			continue
		}
		p := a.Props.Get(ical.PropTrigger)
		if p == nil {
			continue
		}
		v := strings.TrimSpace(p.Value)
		if strings.EqualFold(p.Params.Get(ical.ParamValue), "DATE-TIME") {
			if t, _, _, err := parseNaive(v); err == nil {
				return item.FormatTime(t)
			}
		}
		return v
	}
	for _, name := range []string{"DALARM", "AALARM"} {
		if p := c.Props.Get(name); p != nil {
			// vCalendar 1.0: run time;snooze;repeat;... in local time.
			v, _, _ := strings.Cut(p.Value, ";")
			q := *p
			q.Value = v
			if w, _, err := r.timeOf(&q); err == nil {
				return item.FormatTime(w.t)
			}
		}
	}
	return ""
}

func (r *Reader) categories(c *ical.Component) string {
	var cats []string
	for _, p := range c.Props.Values(ical.PropCategories) {
		sep := ","
		if r.version == "1.0" {
			sep = ";"
		}
		for _, s := range textcodec.Split(p.Value, sep[0]) {
			if s = strings.TrimSpace(textcodec.Unescape(s, `"`)); s != "" {
				cats = append(cats, s)
			}
		}
	}
	return strings.Join(cats, ",")
}

// attachments returns the inline (base64) ATTACH values of c
// (../rfc/5545:3.8.1.1); attachments by URI are not imported. The bytes
// stay in memory while the record is current.
func (r *Reader) attachments(c *ical.Component, line int) []crm.Attachment {
	var out []crm.Attachment
	for i, p := range c.Props.Values(ical.PropAttach) {
		enc := strings.ToUpper(p.Params.Get("ENCODING"))
		if enc != "BASE64" && enc != "B" && !strings.EqualFold(p.Params.Get(ical.ParamValue), "BINARY") {
			continue
		}
		b, err := decodeBase64(p.Value)
		if err != nil {
			r.warn(line, "ATTACH %d: %v", i+1, err)
			continue
		}
		name := ""
		for _, k := range []string{"X-FILENAME", "FILENAME", "X-APPLE-FILENAME", "X-ORACLE-FILENAME"} {
			if name = strings.TrimSpace(textcodec.String(p.Params.Get(k))); name != "" {
				break
			}
		}
		mt := strings.ToLower(strings.TrimSpace(p.Params.Get(ical.ParamFormatType)))
		if mt == "" {
			mt = extTypes[strings.ToLower(path.Ext(name))]
		}
		if mt == "" {
			mt = "application/octet-stream"
		}
		if name == "" {
			name = fmt.Sprintf("attachment-%d", i+1)
		}
		out = append(out, crm.Attachment{
			Name: name, MimeType: mt, Size: int64(len(b)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		})
	}
	return out
}

// extTypes gives the media type of common attachment file names without
// FMTTYPE (a fixed table: mime.TypeByExtension depends on the host).
var extTypes = map[string]string{
	".pdf": "application/pdf", ".txt": "text/plain", ".htm": "text/html", ".html": "text/html",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".zip":  "application/zip", ".ics": "text/calendar", ".vcf": "text/vcard", ".eml": "message/rfc822",
	".msg": "application/vnd.ms-outlook",
}

// busyCodes maps X-MICROSOFT-CDO-BUSYSTATUS to Outlook's busy status
// (PidLidBusyStatus, MS-OXOCAL 2.2.1.2), as the PST mapping stores it.
var busyCodes = map[string]string{"FREE": "0", "TENTATIVE": "1", "BUSY": "2", "OOF": "3", "WORKINGELSEWHERE": "4"}
