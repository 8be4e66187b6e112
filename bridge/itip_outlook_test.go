package bridge

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/fixtures"
	"crmbridge/msg"
	"crmbridge/pstwrite"
)

// Property sets of the meeting fixtures (MS-OXPROPS 1.3.2).
const (
	setApptGUID    = "00062002-0000-0000-C000-000000000046"
	setMeetingGUID = "6ED8DA90-450B-101B-98DA-00AA003F1305"
)

// oprop is one MAPI property of a meeting fixture, written identically
// into a PST (pstwrite) and a .msg (fixtures.WriteMSG): a tagged property
// (set "") or a numeric named one; v is a string, int32, bool, time or
// []byte.
type oprop struct {
	set string
	id  uint32 // property id, or the LID of a named property
	v   any
}

// x returns p as the property notation of the other PST and .msg
// fixtures, which writes it into both.
func (p oprop) x() xprop {
	if p.set == "" {
		return xprop{id: uint16(p.id), v: p.v}
	}
	return xprop{set: p.set, lid: p.id, v: p.v}
}

// xprops returns ps as xprops.
func xprops(ps []oprop) []xprop {
	out := make([]xprop, len(ps))
	for i, p := range ps {
		out[i] = p.x()
	}
	return out
}

// goid is a PidLidGlobalObjectId (MS-OXOCAL 2.2.1.27) carrying an
// iCalendar UID ("vCal-Uid", MS-OXCICAL 2.1.3.1.1.20.26).
func goid(uid string) []byte {
	b := []byte{0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00, 0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08}
	b = append(b, make([]byte, 4+8+8)...) // instance date 0, creation time, reserved
	data := append([]byte("vCal-Uid\x01\x00\x00\x00"), uid+"\x00"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// goidAt returns g with the instance date d (MS-OXOCAL 2.2.1.27: bytes 16
// and 17 the year, big-endian, 18 the month, 19 the day); g itself when d
// is zero.
func goidAt(g []byte, d time.Time) []byte {
	if d.IsZero() {
		return g
	}
	g = bytes.Clone(g)
	binary.BigEndian.PutUint16(g[16:], uint16(d.Year()))
	g[18], g[19] = byte(d.Month()), byte(d.Day())
	return g
}

// person is a recipient or sender of a meeting fixture.
type person struct {
	name, addr string
	organizer  bool
	track      int32 // PidTagRecipientTrackStatus
}

var (
	olga  = person{name: "Olga", addr: "olga@example.com", organizer: true}
	bob   = person{name: "Bob", addr: "bob@example.com"}
	carol = person{name: "Carol", addr: "carol@example.com"}
)

// meeting is an Outlook meeting object (MS-OXOCAL): a meeting request,
// response or cancellation, or a calendar item.
type meeting struct {
	class            string
	seq              int32
	owner, attendee  time.Time // PidLidOwnerCriticalChange, PidLidAttendeeCriticalChange
	subject, loc     string
	start, end       time.Time
	from             person
	to               []person
	state            int32 // PidLidAppointmentStateFlags
	counter          bool
	modified         time.Time
	extra            []oprop
	withoutSchedProp bool
	// instance is the date of the one occurrence of a series the object
	// concerns, in its global object id (zero: the series, or a single
	// meeting).
	instance time.Time
}

func (m meeting) props() (props []oprop, recips [][]oprop) {
	props = []oprop{
		{"", 0x001A, m.class},
		{"", 0x0037, m.subject},
		{"", 0x0C1A, m.from.name}, {"", 0x0C1E, "SMTP"}, {"", 0x0C1F, m.from.addr},
		{"", 0x0042, m.from.name}, {"", 0x0064, "SMTP"}, {"", 0x0065, m.from.addr},
		{"", 0x3008, m.modified},
		{setApptGUID, 0x820D, m.start}, {setApptGUID, 0x820E, m.end},
		{setApptGUID, 0x8217, m.state},
		{setMeetingGUID, 0x0003, goidAt(goid("m1"), m.instance)},
	}
	if m.loc != "" {
		props = append(props, oprop{setApptGUID, 0x8208, m.loc})
	}
	if !m.withoutSchedProp {
		props = append(props, oprop{setApptGUID, 0x8201, m.seq})
	}
	if !m.owner.IsZero() {
		props = append(props, oprop{setMeetingGUID, 0x001A, m.owner})
	}
	if !m.attendee.IsZero() {
		props = append(props, oprop{setMeetingGUID, 0x0001, m.attendee})
	}
	if m.counter {
		props = append(props, oprop{setApptGUID, 0x8257, true})
	}
	props = append(props, m.extra...)
	for _, r := range m.to {
		flags := int32(1)
		if r.organizer {
			flags |= 2
		}
		recips = append(recips, []oprop{{"", 0x0C15, int32(1)}, {"", 0x3001, r.name}, {"", 0x3002, "SMTP"}, {"", 0x3003, r.addr},
			{"", 0x5FFD, flags}, {"", 0x5FFF, r.track}})
	}
	return props, recips
}

// x returns m's properties and recipients in the notation of the other
// PST and .msg fixtures.
func (m meeting) x() ([]xprop, [][]xprop) {
	props, recips := m.props()
	var xr [][]xprop
	for _, r := range recips {
		xr = append(xr, xprops(r))
	}
	return xprops(props), xr
}

// msgFile writes m as a .msg.
func (m meeting) msgFile() itipFile {
	return itipFile{".msg", fixtures.WriteMSG(xmsg(m.x()))}
}

// fromMSG reads m as a .msg file, as import does.
func (m meeting) fromMSG(t *testing.T) *crm.Incoming {
	t.Helper()
	f := m.msgFile()
	mf, err := msg.OpenReader(bytes.NewReader(f.data), int64(len(f.data)), "m.msg")
	if err != nil {
		t.Fatal(err)
	}
	it, err := mf.Item()
	if err != nil {
		t.Fatal(err)
	}
	return FromMSG("m.msg", it)
}

// writeMeetingsPST writes ms, in this order, into the Inbox of a new PST.
func writeMeetingsPST(t *testing.T, path string, ms ...meeting) {
	t.Helper()
	var pms []*pstwrite.Message
	for _, m := range ms {
		pms = append(pms, xmessage(m.x()))
	}
	writeXPST(t, path, "Inbox", "IPF.Note", pms...)
}

var (
	mt0 = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	// The meeting's versions: request 0, moved (request 1, whose owner
	// critical change is earlier than the answers to 0: the SEQUENCE
	// decides), cancelled (2).
	req0 = meeting{class: "IPM.Schedule.Meeting.Request", seq: 0, owner: mt0, subject: "Plan", loc: "Room A",
		start: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC), end: time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC),
		from: olga, to: []person{olga, bob, carol}, state: 3, modified: mt0}
	req1 = meeting{class: "IPM.Schedule.Meeting.Request", seq: 1, owner: mt0.Add(-time.Hour), subject: "Plan moved", loc: "Room B",
		start: time.Date(2026, 1, 6, 14, 0, 0, 0, time.UTC), end: time.Date(2026, 1, 6, 15, 0, 0, 0, time.UTC),
		from: olga, to: []person{olga, bob, carol}, state: 3, modified: mt0.Add(time.Hour)}
)

// answer is a response of who to the request r (its times and subject,
// the organizer as the only recipient).
func answer(r meeting, class, prefix string, who person, at time.Time) meeting {
	a := r
	a.class, a.subject, a.from, a.to = class, prefix+r.subject, who, []person{{name: olga.name, addr: olga.addr}}
	a.owner, a.attendee, a.modified, a.state = time.Time{}, at, at, 3
	// A response's location may be stale or absent.
	a.loc = ""
	return a
}

// TestOutlookMeetingSchedule maps the meeting objects of a .msg to their
// iTIP version (MS-OXCICAL 2.1.3.1.1.1 METHOD from the message class,
// 2.1.3.1.1.20.23 SEQUENCE from PidLidAppointmentSequence, 2.1.3.1.1.20.8
// DTSTAMP from PidLidOwnerCriticalChange, or PidLidAttendeeCriticalChange
// for a REPLY or COUNTER): a response is a REPLY whose only attendee is its
// sender, with the PARTSTAT of its class.
func TestOutlookMeetingSchedule(t *testing.T) {
	at := mt0.Add(2 * time.Hour)
	appt := req0
	appt.class, appt.seq, appt.state = "IPM.Appointment", 4, 1
	plain := req0
	plain.class, plain.state, plain.to, plain.withoutSchedProp, plain.owner = "IPM.Appointment", 0, nil, true, time.Time{}
	cancel := req1
	cancel.class, cancel.seq, cancel.owner, cancel.state = "IPM.Schedule.Meeting.Canceled", 2, mt0.Add(3*time.Hour), 7
	counter := answer(req0, "IPM.Schedule.Meeting.Resp.Tent", "New Time Proposed: ", carol, at)
	counter.counter = true
	cases := []struct {
		name  string
		m     meeting
		sched *crm.Schedule
		// parties as "role address status" when the schedule is an answer
		parties []string
	}{
		{"request", req0, &crm.Schedule{Method: "REQUEST", Sequence: 0, Stamp: mt0}, nil},
		{"cancellation", cancel, &crm.Schedule{Method: "CANCEL", Sequence: 2, Stamp: mt0.Add(3 * time.Hour)}, nil},
		{"accepted", answer(req1, "IPM.Schedule.Meeting.Resp.Pos", "Accepted: ", bob, at), &crm.Schedule{Method: "REPLY", Sequence: 1, Stamp: at},
			[]string{"5 bob@example.com ACCEPTED"}},
		{"declined", answer(req0, "IPM.Schedule.Meeting.Resp.Neg", "Declined: ", carol, at), &crm.Schedule{Method: "REPLY", Sequence: 0, Stamp: at},
			[]string{"5 carol@example.com DECLINED"}},
		{"tentative", answer(req0, "IPM.Schedule.Meeting.Resp.Tent", "Tentative: ", bob, at), &crm.Schedule{Method: "REPLY", Sequence: 0, Stamp: at},
			[]string{"5 bob@example.com TENTATIVE"}},
		{"new time proposed", counter, &crm.Schedule{Method: "COUNTER", Sequence: 0, Stamp: at}, []string{"5 carol@example.com TENTATIVE"}},
		{"meeting in the calendar", appt, &crm.Schedule{Sequence: 4, Stamp: mt0}, nil},
		{"appointment that is no meeting", plain, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.m.fromMSG(t)
			if !reflect.DeepEqual(in.Schedule, c.sched) {
				t.Errorf("schedule %v, want %v", in.Schedule, c.sched)
			}
			if c.parties != nil {
				var ps []string
				for _, p := range in.Record.Parties {
					ps = append(ps, fmt.Sprintf("%d %s %s", p.Role, p.Address, p.Status))
				}
				if !reflect.DeepEqual(ps, c.parties) {
					t.Errorf("parties %q, want %q", ps, c.parties)
				}
			}
			if in.Record.Fields["uid"] != "m1" {
				t.Errorf("uid %q", in.Record.Fields["uid"])
			}
		})
	}
}

// TestOutlookMeetingOrder applies the iTIP rules to meeting messages read
// from .msg files, in every order, as TestITIPOrder does for iCalendar: a
// response changes only its sender's participation (not the subject,
// times or attendees of the event), a newer request replaces the older one
// whatever their clocks, a cancellation cancels.
func TestOutlookMeetingOrder(t *testing.T) {
	at := mt0.Add(2 * time.Hour)
	cancel := req1
	cancel.class, cancel.seq, cancel.owner, cancel.state, cancel.loc = "IPM.Schedule.Meeting.Canceled", 2, mt0.Add(3*time.Hour), 7, ""
	cancel.start, cancel.end = cancel.start.Add(time.Hour), cancel.end.Add(time.Hour)
	t.Run("responses and a newer request", func(t *testing.T) {
		checkOrders(t, []itipFile{req0.msgFile()}, []itipFile{
			answer(req0, "IPM.Schedule.Meeting.Resp.Pos", "Accepted: ", bob, at).msgFile(),
			req1.msgFile(),
			answer(req1, "IPM.Schedule.Meeting.Resp.Tent", "Tentative: ", carol, at).msgFile(),
		}, map[string]string{"subject": "Plan moved", "location": "Room B", "scheduledstart": "2026-01-06T14:00:00Z",
			"scheduledend": "2026-01-06T15:00:00Z", "statecode": "3"},
			[]string{"5 bob@example.com ", "5 carol@example.com TENTATIVE", "7 olga@example.com "})
	})
	t.Run("a response only", func(t *testing.T) {
		checkOrders(t, []itipFile{req0.msgFile()}, []itipFile{
			answer(req0, "IPM.Schedule.Meeting.Resp.Neg", "Declined: ", bob, at).msgFile(),
		}, map[string]string{"subject": "Plan", "location": "Room A", "scheduledstart": "2026-01-05T10:00:00Z",
			"scheduledend": "2026-01-05T11:00:00Z", "statecode": "3"},
			[]string{"5 bob@example.com DECLINED", "5 carol@example.com ", "7 olga@example.com "})
	})
	t.Run("a newer request from Outlook drops the location and description of the iCalendar one", func(t *testing.T) {
		r := req1
		r.loc = ""
		checkOrders(t, nil, []itipFile{
			{".ics", []byte(itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z", "SUMMARY:Plan",
				"LOCATION:Room A", "DESCRIPTION:Agenda", orgLine, bobNeeds))},
			r.msgFile(),
		}, map[string]string{"subject": "Plan moved", "location": "", "description": "", "scheduledstart": "2026-01-06T14:00:00Z"},
			[]string{"5 bob@example.com ", "5 carol@example.com ", "7 olga@example.com "})
	})
	t.Run("cancellation", func(t *testing.T) {
		checkOrders(t, []itipFile{req0.msgFile()}, []itipFile{cancel.msgFile(), req1.msgFile()},
			// Read before the cancellation, request 1 is applied; after it,
			// it is older: only the state is the same in every order.
			map[string]string{"statecode": "2", "statuscode": "4"},
			[]string{"5 bob@example.com ", "5 carol@example.com ", "7 olga@example.com "})
	})
}

// TestOutlookMeetingPST reads the same messages from one PST (request,
// responses, the newer request, a stale response): the responses no longer
// merge into the event as versions of it.
func TestOutlookMeetingPST(t *testing.T) {
	at := mt0.Add(2 * time.Hour)
	path := filepath.Join(t.TempDir(), "meetings.pst")
	writeMeetingsPST(t, path, req0,
		answer(req0, "IPM.Schedule.Meeting.Resp.Pos", "Accepted: ", bob, at),
		answer(req0, "IPM.Schedule.Meeting.Resp.Neg", "Declined: ", carol, at),
		req1,
		answer(req1, "IPM.Schedule.Meeting.Resp.Tent", "Tentative: ", carol, at.Add(time.Hour)),
	)
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	sum, p := importPaths(t, s, ImportOptions{}, path)
	if len(p.errs) > 0 {
		t.Fatal(p.errs)
	}
	if l := sum.Ledger[0]; !l.Balanced() || l.Found != 5 || l.Created != 1 || l.Merged != 4 {
		t.Errorf("ledger %+v", l)
	}
	fields, people, n := appointmentState(t, s, "")
	want := map[string]string{"subject": "Plan moved", "location": "Room B", "scheduledstart": "2026-01-06T14:00:00Z", "scheduledend": "2026-01-06T15:00:00Z"}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("%s = %q, want %q", k, fields[k], v)
		}
	}
	if wantP := []string{"5 bob@example.com ", "5 carol@example.com TENTATIVE", "7 olga@example.com "}; n != 1 || !reflect.DeepEqual(people, wantP) {
		t.Errorf("%d appointments, parties %q, want %q", n, people, wantP)
	}
}
