package upstream_test

import (
	"context"
	"strings"
	"testing"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/internal/fakeserver"
)

// TestRequestsDataverseAccepts: records Dataverse would refuse as crmbridge
// holds them go out in a form it accepts, none goes dead, and the server
// (which enforces each rule) ends with what the rules allow:
//   - an appointment's organizer is the calling user (WhoAmI, asked once
//     per client), the original organizer kept as a required attendee
//     unless it is the user;
//   - parties resolved to a contact or an account are bound to it;
//   - a task's parties are not sent;
//   - strings longer than the column (from the metadata) are cut, dates
//     before 1753 left out; the queue's merge base is what was sent.
func TestRequestsDataverseAccepts(t *testing.T) {
	acct, ct := guid(900), guid(901)
	e := newEnv(t, fakeserver.Dataverse, func(c *upstream.Config, s *fakeserver.Server) {
		s.UserEmail = "me@example.com"
		ml := fakeserver.DefaultMaxLength()
		ml[crm.Contact]["jobtitle"] = 12 // customised: only the metadata knows
		s.MaxLength = ml
	})
	e.srv.Put(crm.Account, acct, map[string]string{"name": "Enron"})
	e.srv.Put(crm.Contact, ct, map[string]string{"lastname": "Lay"})
	resolve := func(_ context.Context, id string) (crm.Entity, error) {
		if id == acct {
			return crm.Account, nil
		}
		return crm.Contact, nil
	}
	c, err := upstream.NewClient(e.cfg, nil, resolve)
	if err != nil {
		t.Fatal(err)
	}
	q := e.queue()
	boss, mine, task, mail, person := guid(1), guid(2), guid(3), guid(4), guid(5)
	q.Add(crm.Appointment, boss, upstream.OpCreate, map[string]string{"subject": "Board"}, []crm.Party{
		{Role: crm.RoleOrganizer, Address: "Boss@Example.com"}, {Role: crm.RoleRequired, ContactID: ct, Address: "ken@example.com"}})
	q.Add(crm.Appointment, mine, upstream.OpCreate, map[string]string{"subject": "Mine"}, []crm.Party{
		{Role: crm.RoleOrganizer, Address: "ME@example.com"}, {Role: crm.RoleOptional, Address: "x@example.com"}})
	q.Add(crm.Task, task, upstream.OpCreate, map[string]string{"subject": strings.Repeat("s", 230)}, []crm.Party{
		{Role: crm.RoleTo, Address: "x@example.com"}})
	q.Add(crm.Email, mail, upstream.OpCreate, map[string]string{"subject": "Q3"}, []crm.Party{
		{Role: crm.RoleSender, ContactID: ct}, {Role: crm.RoleTo, ContactID: acct}, {Role: crm.RoleCc, Address: "kay@example.com"}})
	long := "Chief Executive Officer"
	q.Add(crm.Contact, person, upstream.OpCreate, map[string]string{"lastname": "Skilling", "jobtitle": long,
		"address1_postofficebox": "PO Box 1234567890 Houston", "birthdate": "1604-03-01", "anniversary": "1999-05-01"}, nil)
	st, err := c.Push(context.Background(), q, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if d := q.DeadLetters(); len(d) != 0 || q.Len() != 0 || st.Confirmed != 5 {
		t.Fatalf("dead %v, left %d, %v", d, q.Len(), st)
	}
	if v := e.srv.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
	if n := e.srv.WhoAmICalls(); n != 1 {
		t.Errorf("WhoAmI called %d times, want once", n)
	}
	key := func(p crm.Party) string {
		if p.ContactID != "" {
			return string(rune('0'+p.Role)) + " " + p.ContactID
		}
		return string(rune('0'+p.Role)) + " " + p.Address
	}
	parties := func(set, id string) map[string]bool {
		r, ok := e.srv.Record(set, id)
		if !ok {
			t.Fatalf("%s(%s) not on the server", set, id)
		}
		m := map[string]bool{}
		for _, p := range r.Parties {
			m[key(p)] = true
		}
		return m
	}
	for _, tc := range []struct {
		set, id string
		want    []string
	}{
		{"appointments", boss, []string{"7 " + fakeserver.DefaultUserID, "5 " + ct, "5 boss@example.com"}},
		{"appointments", mine, []string{"7 " + fakeserver.DefaultUserID, "6 x@example.com"}},
		{"emails", mail, []string{"1 " + ct, "2 " + acct, "3 kay@example.com"}},
		{"tasks", task, nil},
	} {
		got := parties(tc.set, tc.id)
		if len(got) != len(tc.want) {
			t.Errorf("%s(%s) parties %v, want %v", tc.set, tc.id, got, tc.want)
		}
		for _, w := range tc.want {
			if !got[w] {
				t.Errorf("%s(%s) parties %v, want %v", tc.set, tc.id, got, tc.want)
			}
		}
	}
	r, _ := e.srv.Record("contacts", person)
	want := map[string]string{"lastname": "Skilling", "jobtitle": "Chief Execut", "address1_postofficebox": "PO Box 1234567890 Ho", "anniversary": "1999-05-01"}
	for k, v := range want {
		if r.Fields[k] != v {
			t.Errorf("server %s = %q, want %q", k, r.Fields[k], v)
		}
	}
	if _, ok := r.Fields["birthdate"]; ok {
		t.Errorf("birthdate 1604 sent: %q", r.Fields["birthdate"])
	}
	if tr, _ := e.srv.Record("tasks", task); len(tr.Fields["subject"]) != 200 {
		t.Errorf("task subject %d characters on the server, want 200", len(tr.Fields["subject"]))
	}
	if st.Adjusted < 5 {
		t.Errorf("adjusted %d, want at least 5 (organizer, task parties, jobtitle, PO box, birthdate, task subject)", st.Adjusted)
	}
	// The merge base is what the server holds: a read-back of the cut
	// value is no change.
	q.Add(crm.Contact, person, upstream.OpUpdate, map[string]string{"jobtitle": long}, nil)
	e.srv.Touch("contacts", person, "description", "other user")
	st, err = c.Push(context.Background(), q, e.opts())
	if err != nil || q.Len() != 0 || len(q.DeadLetters()) != 0 {
		t.Fatalf("second push: %v %v left %d", st, err, q.Len())
	}
	if n := e.srv.WhoAmICalls(); n != 1 {
		t.Errorf("WhoAmI called %d times in one run, want once", n)
	}
}
