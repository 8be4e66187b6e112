package bridge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

// itipMsg is one iTIP message (RFC 5546) for the tests: a calendar with
// METHOD (none when empty) holding one VEVENT of UID "m1".
func itipMsg(method string, seq int, stamp string, lines ...string) string {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n")
	if method != "" {
		b.WriteString("METHOD:" + method + "\r\n")
	}
	b.WriteString("BEGIN:VEVENT\r\nUID:m1\r\n")
	if seq >= 0 {
		fmt.Fprintf(&b, "SEQUENCE:%d\r\n", seq)
	}
	if stamp != "" {
		b.WriteString("DTSTAMP:" + stamp + "\r\n")
	}
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return b.String()
}

const (
	orgLine   = "ORGANIZER;CN=Olga:mailto:olga@example.com"
	bobNeeds  = "ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION:mailto:bob@example.com"
	carolNeed = "ATTENDEE;CN=Carol;PARTSTAT=NEEDS-ACTION:mailto:carol@example.com"
)

func bobSays(partstat string) string {
	return "ATTENDEE;CN=Bob;PARTSTAT=" + partstat + ":mailto:Bob@Example.com"
}

// appointmentState is what the iTIP tests look at: some fields and each
// party as "role address status".
func appointmentState(t *testing.T, s *crmstore.Store, recurrenceID string) (map[string]string, []string, int) {
	t.Helper()
	ctx := context.Background()
	ls, err := s.List(ctx, crmstore.ListFilter{Entities: []crm.Entity{crm.Appointment}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ls {
		v, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Fields["recurrenceid"] != recurrenceID {
			continue
		}
		f := map[string]string{}
		for _, k := range []string{"subject", "location", "description", "recurrence", "timezone", "scheduledstart", "scheduledend", "isalldayevent", "statecode", "statuscode"} {
			f[k] = v.Fields[k]
		}
		var ps []string
		for _, p := range v.Parties {
			ps = append(ps, fmt.Sprintf("%d %s %s", p.Role, strings.ToLower(p.Address), p.Status))
		}
		sort.Strings(ps)
		return f, ps, len(ls)
	}
	t.Fatalf("no appointment with recurrenceid %q among %d", recurrenceID, len(ls))
	return nil, nil, 0
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// TestITIPOrder imports versions of one event (RFC 5546) in every order,
// each in its own run and all in one run, and checks that the store ends
// with the same event: a higher SEQUENCE wins, at equal SEQUENCE the later
// DTSTAMP; an older version read later changes nothing and is counted as
// merged unchanged, with a warning naming it.
func TestITIPOrder(t *testing.T) {
	cases := []struct {
		name   string
		first  []string // imported first, in this order
		msgs   []string // then in every order
		fields map[string]string
		people []string
	}{
		{
			name: "higher SEQUENCE wins, whatever DTSTAMP says",
			msgs: []string{
				itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z", "SUMMARY:Plan", "LOCATION:Room A", orgLine, bobNeeds),
				itipMsg("PUBLISH", 1, "20251231T090000Z", "DTSTART:20260105T140000Z", "DTEND:20260105T150000Z", "SUMMARY:Plan v2", "LOCATION:Room B", orgLine, bobNeeds),
				itipMsg("", 2, "20251230T090000Z", "DTSTART;VALUE=DATE:20260107", "DTEND;VALUE=DATE:20260108", "SUMMARY:Plan v3", "LOCATION:Room C", orgLine, bobNeeds),
			},
			fields: map[string]string{"subject": "Plan v3", "location": "Room C", "scheduledstart": "2026-01-07T00:00:00Z", "scheduledend": "2026-01-08T00:00:00Z", "isalldayevent": "true", "statecode": "3"},
			people: []string{"5 bob@example.com NEEDS-ACTION", "7 olga@example.com "},
		},
		{
			name: "equal SEQUENCE: the later DTSTAMP wins",
			msgs: []string{
				itipMsg("REQUEST", 1, "20260102T090000Z", "DTSTART;VALUE=DATE:20260105", "SUMMARY:Early", orgLine),
				itipMsg("REQUEST", 1, "20260103T090000Z", "DTSTART;TZID=Europe/Moscow:20260105T100000", "DTEND;TZID=Europe/Moscow:20260105T110000", "SUMMARY:Late", orgLine),
			},
			fields: map[string]string{"subject": "Late", "location": "", "scheduledstart": "2026-01-05T07:00:00Z", "scheduledend": "2026-01-05T08:00:00Z", "isalldayevent": "false", "statecode": "3"},
			people: []string{"7 olga@example.com "},
		},
		{
			name:  "REPLY changes only the replying attendee's PARTSTAT",
			first: []string{itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART;VALUE=DATE:20260105", "SUMMARY:Plan", "LOCATION:Room A", orgLine, bobNeeds, carolNeed)},
			msgs: []string{
				itipMsg("REPLY", 0, "20260102T090000Z", "DTSTART;TZID=Europe/Moscow:20260105T000000", "DTEND;TZID=Europe/Moscow:20260105T010000", "SUMMARY:Accepted: Plan", orgLine, bobSays("ACCEPTED")),
			},
			fields: map[string]string{"subject": "Plan", "location": "Room A", "scheduledstart": "2026-01-05T00:00:00Z", "scheduledend": "2026-01-06T00:00:00Z", "isalldayevent": "true", "statecode": "3"},
			people: []string{"5 bob@example.com ACCEPTED", "5 carol@example.com NEEDS-ACTION", "7 olga@example.com "},
		},
		{
			name:  "the attendee's latest REPLY wins",
			first: []string{itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z", "SUMMARY:Plan", orgLine, bobNeeds, carolNeed)},
			msgs: []string{
				itipMsg("REPLY", 0, "20260103T090000Z", orgLine, bobSays("DECLINED")),
				itipMsg("REPLY", 0, "20260102T090000Z", orgLine, bobSays("ACCEPTED")),
				itipMsg("REPLY", 0, "20260102T120000Z", orgLine, "ATTENDEE;PARTSTAT=TENTATIVE:mailto:carol@example.com"),
			},
			fields: map[string]string{"subject": "Plan", "scheduledstart": "2026-01-05T10:00:00Z", "scheduledend": "2026-01-05T11:00:00Z", "isalldayevent": "false", "statecode": "3"},
			people: []string{"5 bob@example.com DECLINED", "5 carol@example.com TENTATIVE", "7 olga@example.com "},
		},
		{
			name:  "a REPLY to the next SEQUENCE outlives that REQUEST; one to an older SEQUENCE does not count",
			first: []string{itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z", "SUMMARY:Plan", orgLine, bobNeeds, carolNeed)},
			msgs: []string{
				itipMsg("REPLY", 1, "20260103T090000Z", orgLine, bobSays("ACCEPTED")),
				itipMsg("REQUEST", 1, "20260102T090000Z", "DTSTART:20260106T100000Z", "DTEND:20260106T110000Z", "SUMMARY:Plan moved", orgLine, bobNeeds, carolNeed),
				itipMsg("REPLY", 0, "20260101T100000Z", orgLine, "ATTENDEE;PARTSTAT=DECLINED:mailto:carol@example.com"),
			},
			fields: map[string]string{"subject": "Plan moved", "scheduledstart": "2026-01-06T10:00:00Z", "scheduledend": "2026-01-06T11:00:00Z", "isalldayevent": "false", "statecode": "3"},
			people: []string{"5 bob@example.com ACCEPTED", "5 carol@example.com NEEDS-ACTION", "7 olga@example.com "},
		},
		{
			name: "a newer REQUEST replaces the organizer's fields: what it drops is cleared",
			msgs: []string{
				itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART;TZID=Europe/Moscow:20260105T100000", "DTEND;TZID=Europe/Moscow:20260105T110000", "SUMMARY:Plan", "LOCATION:Room A",
					"DESCRIPTION:Agenda", "RRULE:FREQ=WEEKLY;COUNT=3", orgLine, bobNeeds),
				itipMsg("REQUEST", 1, "20251231T090000Z", "DTSTART:20260105T140000Z", "DTEND:20260105T150000Z", "SUMMARY:Plan", orgLine, bobNeeds),
			},
			fields: map[string]string{"subject": "Plan", "location": "", "description": "", "recurrence": "", "timezone": "",
				"scheduledstart": "2026-01-05T14:00:00Z", "scheduledend": "2026-01-05T15:00:00Z", "statecode": "3"},
			people: []string{"5 bob@example.com NEEDS-ACTION", "7 olga@example.com "},
		},
		{
			name:  "COUNTER changes nothing",
			first: []string{itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z", "SUMMARY:Plan", orgLine, bobNeeds)},
			msgs: []string{
				itipMsg("COUNTER", 0, "20260102T090000Z", "DTSTART;VALUE=DATE:20260109", "SUMMARY:Plan, but Friday", orgLine, bobSays("TENTATIVE")),
			},
			fields: map[string]string{"subject": "Plan", "scheduledstart": "2026-01-05T10:00:00Z", "scheduledend": "2026-01-05T11:00:00Z", "isalldayevent": "false", "statecode": "3"},
			people: []string{"5 bob@example.com NEEDS-ACTION", "7 olga@example.com "},
		},
		{
			name: "CANCEL cancels and keeps the rest; the older REQUEST read later does not revive it",
			msgs: []string{
				itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z", "SUMMARY:Plan", "LOCATION:Room A", orgLine, bobNeeds),
				itipMsg("CANCEL", 1, "20260102T090000Z", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z", "SUMMARY:Plan", "LOCATION:Room A", "STATUS:CANCELLED", orgLine, bobNeeds),
			},
			fields: map[string]string{"subject": "Plan", "location": "Room A", "scheduledstart": "2026-01-05T10:00:00Z", "scheduledend": "2026-01-05T11:00:00Z", "isalldayevent": "false", "statecode": "2", "statuscode": "4"},
			people: []string{"5 bob@example.com NEEDS-ACTION", "7 olga@example.com "},
		},
		{
			name:  "a CANCEL with few properties changes only the state",
			first: []string{itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART;VALUE=DATE:20260105", "SUMMARY:Plan", "LOCATION:Room A", orgLine, bobNeeds)},
			msgs: []string{
				itipMsg("CANCEL", 1, "20260102T090000Z", "DTSTART;TZID=Europe/Moscow:20260105T000000", orgLine, "ATTENDEE:mailto:bob@example.com"),
			},
			fields: map[string]string{"subject": "Plan", "location": "Room A", "scheduledstart": "2026-01-05T00:00:00Z", "scheduledend": "2026-01-06T00:00:00Z", "isalldayevent": "true", "statecode": "2", "statuscode": "4"},
			people: []string{"5 bob@example.com NEEDS-ACTION", "7 olga@example.com "},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkOrders(t, icsFiles(c.first), icsFiles(c.msgs), c.fields, c.people)
		})
	}
}

// itipFile is one file of an order test: its extension and content.
type itipFile struct {
	ext  string
	data []byte
}

func icsFiles(msgs []string) []itipFile {
	var out []itipFile
	for _, m := range msgs {
		out = append(out, itipFile{".ics", []byte(m)})
	}
	return out
}

// checkOrders imports first, then msgs in every order, each file in its
// own run and all in one run, and checks that the store ends with one
// appointment with these fields and parties, every item counted (one
// created, the others merged) and each ledger balanced.
func checkOrders(t *testing.T, first, msgs []itipFile, want map[string]string, wantPeople []string) {
	t.Helper()
	checkOrdersIn(t, []bool{false, true}, first, msgs, want, wantPeople)
}

// checkOrdersIn is checkOrders with the runs to try: each file in its own
// run (false), all in one run (true).
func checkOrdersIn(t *testing.T, modes []bool, first, msgs []itipFile, want map[string]string, wantPeople []string) {
	t.Helper()
	for _, perm := range permutations(len(msgs)) {
		for _, oneRun := range modes {
			dir := t.TempDir()
			var paths []string
			for i, m := range first {
				p := filepath.Join(dir, fmt.Sprintf("a%d%s", i, m.ext))
				os.WriteFile(p, m.data, 0o600)
				paths = append(paths, p)
			}
			for k, i := range perm {
				p := filepath.Join(dir, fmt.Sprintf("b%d-msg%d%s", k, i, msgs[i].ext))
				os.WriteFile(p, msgs[i].data, 0o600)
				paths = append(paths, p)
			}
			s := newStore(t)
			runs := [][]string{paths}
			if !oneRun {
				runs = nil
				for _, p := range paths {
					runs = append(runs, []string{p})
				}
			}
			found, created, merged := 0, 0, 0
			for _, r := range runs {
				sum, p := importPaths(t, s, ImportOptions{}, r...)
				if len(p.errs) > 0 {
					t.Fatalf("order %v: problems %v", perm, p.errs)
				}
				for _, l := range sum.Ledger {
					if !l.Balanced() {
						t.Errorf("order %v: ledger not balanced: %+v", perm, l)
					}
					found, created, merged = found+l.Found, created+l.Created, merged+l.Merged
				}
			}
			if n := len(first) + len(msgs); found != n || created != 1 || merged != n-1 {
				t.Errorf("order %v (one run %v): found %d, created %d, merged %d; want %d, 1, %d", perm, oneRun, found, created, merged, n, n-1)
			}
			fields, people, n := appointmentState(t, s, "")
			if n != 1 {
				t.Errorf("order %v: %d appointments, want 1", perm, n)
			}
			for k, w := range want {
				if fields[k] != w {
					t.Errorf("order %v (one run %v): %s = %q, want %q", perm, oneRun, k, fields[k], w)
				}
			}
			if fmt.Sprint(people) != fmt.Sprint(wantPeople) {
				t.Errorf("order %v (one run %v): parties %q, want %q", perm, oneRun, people, wantPeople)
			}
		}
	}
}

// TestITIPReplyFirstInRun imports replies before the invitation they
// answer in one run, in every order: they wait for the end of the run and
// apply then, every item counted (the invitation created, the replies
// merged); a reply whose event is nowhere in the run is not imported, a
// problem naming its file, and the next run with --recheck applies it once
// the invitation is in.
func TestITIPReplyFirstInRun(t *testing.T) {
	req := itipMsg("REQUEST", 0, "20260101T090000Z", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z", "SUMMARY:Plan", orgLine, bobNeeds, carolNeed)
	checkOrdersIn(t, []bool{true}, nil, icsFiles([]string{
		itipMsg("REPLY", 0, "20260102T090000Z", orgLine, bobSays("ACCEPTED")),
		itipMsg("REPLY", 0, "20260102T100000Z", orgLine, "ATTENDEE;PARTSTAT=DECLINED:mailto:carol@example.com"),
		req,
	}), map[string]string{"subject": "Plan", "scheduledstart": "2026-01-05T10:00:00Z"},
		[]string{"5 bob@example.com ACCEPTED", "5 carol@example.com DECLINED", "7 olga@example.com "})

	t.Run("PST: responses before the request", func(t *testing.T) {
		at := mt0.Add(2 * time.Hour)
		path := filepath.Join(t.TempDir(), "meetings.pst")
		writeMeetingsPST(t, path,
			answer(req0, "IPM.Schedule.Meeting.Resp.Pos", "Accepted: ", bob, at),
			answer(req0, "IPM.Schedule.Meeting.Resp.Neg", "Declined: ", carol, at),
			req0)
		s := newStore(t)
		sum, p := importPaths(t, s, ImportOptions{}, path)
		if l := sum.Ledger[0]; len(p.errs) > 0 || !l.Balanced() || l.Found != 3 || l.Created != 1 || l.Merged != 2 {
			t.Fatalf("ledger %+v, problems %v", l, p.errs)
		}
		if _, people, _ := appointmentState(t, s, ""); fmt.Sprint(people) != fmt.Sprint([]string{"5 bob@example.com ACCEPTED", "5 carol@example.com DECLINED", "7 olga@example.com "}) {
			t.Errorf("parties %q", people)
		}
	})

	t.Run("no invitation in the run", func(t *testing.T) {
		dir := t.TempDir()
		write := func(name, data string) string {
			p := filepath.Join(dir, name)
			writeFile(t, p, data)
			return p
		}
		reply := write("a-reply.ics", itipMsg("REPLY", 0, "20260102T090000Z", orgLine, bobSays("ACCEPTED")))
		other := write("b-other.ics", strings.ReplaceAll(req, "UID:m1", "UID:m2"))
		s := newStore(t)
		sum, p := importPaths(t, s, ImportOptions{}, reply, other)
		if len(sum.Ledger) != 2 || len(p.errs) != 1 || !strings.Contains(p.errs[0].Error(), "a-reply.ics: line 5") {
			t.Fatalf("ledger %+v, problems %v", sum.Ledger, p.errs)
		}
		if l := sum.Ledger[0]; !l.Balanced() || l.Found != 1 || l.NotImported != 1 {
			t.Errorf("reply's ledger %+v", l)
		}
		if sum.Entities[crm.Appointment].Found != 2 || sum.Entities[crm.Appointment].NotImported != 1 {
			t.Errorf("counts %+v", sum.Entities[crm.Appointment])
		}
		// Its problem is remembered: not read again until --recheck.
		sum, _ = importPaths(t, s, ImportOptions{}, reply)
		if sum.Files != 0 || sum.FilesKnown != 1 {
			t.Errorf("second run read %d files, %d known", sum.Files, sum.FilesKnown)
		}
		write("c-invitation.ics", req)
		sum, p = importPaths(t, s, ImportOptions{Recheck: true}, dir)
		if len(p.errs) != 0 || sum.Ledger[0].Merged != 1 {
			t.Errorf("recheck: ledger %+v, problems %v", sum.Ledger, p.errs)
		}
	})
}

// TestITIPReported checks what the import says of iTIP messages it does
// not apply as given: an older version and a COUNTER are merged unchanged
// with a warning naming them; a REPLY for an event the store does not hold
// is not imported (a problem naming the file), and the next run, after the
// invitation, applies it; a CANCEL with RECURRENCE-ID cancels that
// occurrence only.
func TestITIPReported(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, data)
		return p
	}
	s := newStore(t)
	reply := write("reply.ics", itipMsg("REPLY", 2, "20260103T090000Z", orgLine, bobSays("ACCEPTED")))
	sum, p := importPaths(t, s, ImportOptions{}, reply)
	if l := sum.Ledger[0]; !l.Balanced() || l.NotImported != 1 || len(p.errs) != 1 ||
		!strings.Contains(p.errs[0].Error(), "reply.ics: line 5") || !strings.Contains(p.errs[0].Error(), "REPLY for appointment UID \"m1\"") {
		t.Fatalf("unknown event: ledger %+v, problems %v", l, p.errs)
	}

	req2 := write("req2.ics", itipMsg("REQUEST", 2, "20260102T090000Z", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z", "SUMMARY:Plan v2", orgLine, bobNeeds,
		"RRULE:FREQ=WEEKLY;COUNT=3"))
	importPaths(t, s, ImportOptions{}, req2)
	// A recheck reads the failed file again, and now it applies.
	sum, p = importPaths(t, s, ImportOptions{Detail: true, Recheck: true}, dir)
	if len(p.errs) != 0 || sum.Files != 1 || sum.Ledger[0].Merged != 1 || sum.Entities[crm.Appointment].Updated != 1 {
		t.Fatalf("second run: files %d, ledger %+v, problems %v", sum.Files, sum.Ledger, p.errs)
	}
	_, people, _ := appointmentState(t, s, "")
	if fmt.Sprint(people) != fmt.Sprint([]string{"5 bob@example.com ACCEPTED", "7 olga@example.com "}) {
		t.Errorf("after the reply: %q", people)
	}

	req1 := write("req1.ics", itipMsg("REQUEST", 1, "20260104T090000Z", "DTSTART:20260105T120000Z", "DTEND:20260105T130000Z", "SUMMARY:Plan v1", orgLine, bobNeeds))
	counter := write("counter.ics", itipMsg("COUNTER", 2, "20260104T090000Z", "DTSTART:20260106T100000Z", "DTEND:20260106T110000Z", orgLine, bobSays("TENTATIVE")))
	sum, p = importPaths(t, s, ImportOptions{Detail: true}, req1, counter)
	if len(p.errs) != 0 || len(p.warns) != 2 {
		t.Fatalf("problems %v, warnings %v", p.errs, p.warns)
	}
	for i, want := range []string{"req1.ics: line 5: appointment ", "counter.ics: line 5: appointment "} {
		if !strings.HasPrefix(p.warns[i].Error(), want) {
			t.Errorf("warning %d: %v, want it to start with %q", i, p.warns[i], want)
		}
	}
	for _, want := range []string{"older version (REQUEST SEQUENCE 1 DTSTAMP 20260104T090000Z) than the one held (SEQUENCE 2 DTSTAMP 20260102T090000Z), not applied",
		"COUNTER SEQUENCE 2 DTSTAMP 20260104T090000Z from Bob@Example.com: a proposal or request, the event is not changed"} {
		if !strings.Contains(fmt.Sprint(p.warns), want) {
			t.Errorf("warnings %v, want one saying %q", p.warns, want)
		}
	}
	c := sum.Entities[crm.Appointment]
	if c.Found != 2 || c.Merged != 2 || c.Unchanged != 2 || len(sum.Ledger[0].MergedInto) != 1 || sum.Ledger[0].MergedInto[0].Note == "" {
		t.Errorf("counts %+v, ledger %+v", c, sum.Ledger[0])
	}
	fields, people, _ := appointmentState(t, s, "")
	if fields["subject"] != "Plan v2" || fields["scheduledstart"] != "2026-01-05T10:00:00Z" || fmt.Sprint(people) != fmt.Sprint([]string{"5 bob@example.com ACCEPTED", "7 olga@example.com "}) {
		t.Errorf("changed: %v %q", fields, people)
	}

	// One occurrence cancelled: the series stays, the occurrence is an
	// exception that is cancelled.
	cancel := write("cancel.ics", itipMsg("CANCEL", 3, "20260105T090000Z", "RECURRENCE-ID:20260112T100000Z", "DTSTART:20260112T100000Z", "DTEND:20260112T110000Z", "SUMMARY:Plan v2", orgLine, bobNeeds))
	if _, p = importPaths(t, s, ImportOptions{}, cancel); len(p.errs) != 0 {
		t.Fatal(p.errs)
	}
	fields, _, n := appointmentState(t, s, "")
	occ, _, _ := appointmentState(t, s, "2026-01-12T10:00:00Z")
	if n != 2 || fields["statecode"] != "3" || occ["statecode"] != "2" || occ["statuscode"] != "4" || occ["scheduledstart"] != "2026-01-12T10:00:00Z" {
		t.Errorf("%d records; series %v; occurrence %v", n, fields, occ)
	}

	// Cancelling the whole event (no RECURRENCE-ID) cancels every
	// occurrence the store holds apart too (RFC 5546 3.2.5).
	moved := write("moved.ics", itipMsg("REQUEST", 3, "20260105T100000Z", "RECURRENCE-ID:20260119T100000Z", "DTSTART:20260119T140000Z", "DTEND:20260119T150000Z", "SUMMARY:Plan v2", orgLine, bobNeeds))
	all := write("cancel-all.ics", itipMsg("CANCEL", 4, "20260106T090000Z", orgLine, bobNeeds))
	if _, p = importPaths(t, s, ImportOptions{}, moved); len(p.errs) != 0 {
		t.Fatal(p.errs)
	}
	if occ, _, _ := appointmentState(t, s, "2026-01-19T10:00:00Z"); occ["statecode"] != "3" {
		t.Fatalf("moved occurrence %v", occ)
	}
	if _, p = importPaths(t, s, ImportOptions{}, all); len(p.errs) != 0 {
		t.Fatal(p.errs)
	}
	fields, _, n = appointmentState(t, s, "")
	occ, _, _ = appointmentState(t, s, "2026-01-19T10:00:00Z")
	if n != 3 || fields["statecode"] != "2" || fields["subject"] != "Plan v2" || occ["statecode"] != "2" || occ["statuscode"] != "4" || occ["scheduledstart"] != "2026-01-19T14:00:00Z" {
		t.Errorf("%d records; series %v; moved occurrence %v", n, fields, occ)
	}
}

// TestITIPExportReimport checks the round trip of a scheduled event:
// crmbridge's export holds no SEQUENCE of its own (its DTSTAMP is the
// export time), so importing it again, edited elsewhere or not, is not an
// "older version": it merges as any version does.
func TestITIPExportReimport(t *testing.T) {
	dir := t.TempDir()
	req := filepath.Join(dir, "req.ics")
	os.WriteFile(req, []byte(itipMsg("REQUEST", 2, "20260102T090000Z", "DTSTART:20260105T100000Z", "DTEND:20260105T110000Z", "SUMMARY:Plan", orgLine, bobNeeds)), 0o600)
	s := newStore(t)
	importPaths(t, s, ImportOptions{}, req)
	out := filepath.Join(t.TempDir(), "cal.ics")
	if _, err := Export(context.Background(), s, ExportOptions{ICS: out, All: true}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(t.TempDir(), "edited.ics")
	os.WriteFile(edited, []byte(strings.Replace(string(data), "SUMMARY:Plan", "SUMMARY:Plan (edited)", 1)), 0o600)
	_, p := importPaths(t, s, ImportOptions{}, out, edited)
	if len(p.errs) != 0 || len(p.warns) != 0 {
		t.Errorf("problems %v, warnings %v", p.errs, p.warns)
	}
	if f, _, n := appointmentState(t, s, ""); n != 1 || f["subject"] != "Plan (edited)" {
		t.Errorf("%d appointments, %v", n, f)
	}

	// The export carries the version the store holds: imported into
	// another store, an older REQUEST read later changes nothing there.
	if !strings.Contains(string(data), "\r\nSEQUENCE:2\r\n") || !strings.Contains(string(data), "\r\nDTSTAMP:20260102T090000Z\r\n") {
		t.Errorf("export without the event's version:\n%s", data)
	}
	older := filepath.Join(t.TempDir(), "older.ics")
	os.WriteFile(older, []byte(itipMsg("REQUEST", 1, "20260103T090000Z", "DTSTART:20260106T100000Z", "DTEND:20260106T110000Z", "SUMMARY:Plan v1", orgLine, bobNeeds)), 0o600)
	s2 := newStore(t)
	importPaths(t, s2, ImportOptions{}, out)
	_, p = importPaths(t, s2, ImportOptions{}, older)
	if f, _, _ := appointmentState(t, s2, ""); f["subject"] != "Plan" || len(p.warns) != 1 || !strings.Contains(p.warns[0].Error(), "older version") {
		t.Errorf("other store: %v, warnings %v", f, p.warns)
	}
	// So does a PST export: its re-import into the same store changes
	// nothing and says nothing; in another store it refuses the older
	// REQUEST too.
	pstOut := filepath.Join(t.TempDir(), "cal.pst")
	if _, err := Export(context.Background(), s2, ExportOptions{PST: pstOut, All: true}); err != nil {
		t.Fatal(err)
	}
	if _, p := importPaths(t, s2, ImportOptions{}, pstOut); len(p.errs)+len(p.warns) != 0 {
		t.Errorf("re-import of the PST export: problems %v, warnings %v", p.errs, p.warns)
	}
	s4 := newStore(t)
	importPaths(t, s4, ImportOptions{}, pstOut)
	_, p = importPaths(t, s4, ImportOptions{}, older)
	if f, _, _ := appointmentState(t, s4, ""); f["subject"] != "Plan" || len(p.warns) != 1 || !strings.Contains(p.warns[0].Error(), "older version") {
		t.Errorf("store from the PST: %v, warnings %v", f, p.warns)
	}
	// A record without a version is exported without one, and is none.
	m := req0
	m.class, m.state, m.to, m.withoutSchedProp, m.owner = "IPM.Appointment", 0, nil, true, time.Time{}
	plain := filepath.Join(t.TempDir(), "plain.msg")
	os.WriteFile(plain, m.msgFile().data, 0o600)
	s3 := newStore(t)
	importPaths(t, s3, ImportOptions{}, plain)
	out3 := filepath.Join(t.TempDir(), "cal3.ics")
	if _, err := Export(context.Background(), s3, ExportOptions{ICS: out3, All: true}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(out3); strings.Contains(string(data), "SEQUENCE") {
		t.Errorf("a version for a record without one:\n%s", data)
	}
}
