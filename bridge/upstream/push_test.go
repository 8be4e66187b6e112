package upstream_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/internal/fakeserver"
)

func TestPushBasic(t *testing.T) {
	for _, style := range []fakeserver.Style{fakeserver.Dataverse, fakeserver.CAP} {
		for _, batch := range []int{1, 100} {
			e := newEnv(t, style, func(c *upstream.Config, _ *fakeserver.Server) { c.BatchSize = batch })
			q := e.queue()
			acct, ct, mail, gone := guid(1), guid(2), guid(3), guid(4)
			q.Add(crm.Account, acct, upstream.OpCreate, map[string]string{"name": "Enron"}, nil)
			q.Add(crm.Contact, ct, upstream.OpCreate, map[string]string{
				"firstname": "Jeff", "lastname": "Skilling", "parentcustomerid": acct, "birthdate": "1953-11-25"}, nil)
			q.Add(crm.Email, mail, upstream.OpCreate, map[string]string{
				"subject": "hi", "regardingobjectid": ct, "statecode": "1", "directioncode": "true",
				"senton": "2001-05-14T16:39:00Z", "prioritycode": "1"},
				[]crm.Party{{Role: crm.RoleSender, ContactID: ct}, {Role: crm.RoleTo, Address: "Kay@Example.com"}})
			q.Add(crm.Contact, ct, upstream.OpUpdate, map[string]string{"jobtitle": "CEO", "birthdate": ""}, nil)
			q.Add(crm.Task, gone, upstream.OpCreate, map[string]string{"subject": "to delete"}, nil)
			st, err := e.client.Push(context.Background(), q, e.opts())
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			q.Add(crm.Task, gone, upstream.OpDelete, nil, nil)
			q.Add(crm.Contact, ct, upstream.OpUpdate, map[string]string{"lastname": "K. Skilling"}, nil)
			st2, err := e.client.Push(context.Background(), q, e.opts())
			if err != nil {
				t.Fatalf("push 2: %v", err)
			}
			if q.Len() != 0 || st.Dead+st2.Dead != 0 {
				t.Fatalf("%v batch %d: queue left %d, dead %v", style, batch, q.Len(), q.DeadLetters())
			}
			if v := e.srv.Violations(); len(v) > 0 {
				t.Fatalf("violations: %v", v)
			}
			c, ok := e.srv.Record("contacts", ct)
			want := map[string]string{"firstname": "Jeff", "lastname": "K. Skilling", "parentcustomerid": acct, "birthdate": "", "jobtitle": "CEO"}
			if !ok || !maps.Equal(c.Fields, want) {
				t.Errorf("contact = %v, want %v", c.Fields, want)
			}
			m, _ := e.srv.Record("emails", mail)
			// statecode 1 (completed) gets Dataverse's default statuscode 2.
			if m.Fields["statuscode"] != "2" || m.Fields["regardingobjectid"] != ct || len(m.Parties) != 2 ||
				m.Parties[1].Address != "kay@example.com" || m.Fields["directioncode"] != "true" {
				t.Errorf("email = %+v", m)
			}
			if _, ok := e.srv.Record("tasks", gone); ok {
				t.Errorf("task not deleted")
			}
			if q.ETag(ct) == "" || !strings.HasPrefix(q.ETag(ct), `W/"`) {
				t.Errorf("contact ETag = %q", q.ETag(ct))
			}
			if st.Confirmed != 4 || st2.Confirmed != 2 || st.ReadBacks != 0 {
				t.Errorf("stats %+v / %+v", st, st2)
			}
		}
	}
}
