package upstream_test

import (
	"context"
	"strings"
	"testing"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/internal/fakeserver"
)

// TestDependencyOrder: a record goes out only after the records it binds
// to (in the same batch before it, or confirmed earlier), whatever the
// journal order; a bind to a record whose create is dead, or that was
// deleted, is reported for the record that binds, not as a 404.
func TestDependencyOrder(t *testing.T) {
	for _, batch := range []int{1, 100} {
		deadAcct, goneAcct := guid(20), guid(30)
		e := newEnv(t, fakeserver.Dataverse, func(c *upstream.Config, s *fakeserver.Server) {
			c.BatchSize = batch
			// A customised column push cannot know of (no metadata): the
			// server refuses the long account name for good.
			s.NoMetadata = true
			s.MaxLength = fakeserver.DefaultMaxLength()
			s.MaxLength[crm.Account]["name"] = 10
		})
		q := e.queue()
		acct, ct, mail := guid(1), guid(2), guid(3)
		// Journal order: the binding records first.
		q.Add(crm.Email, mail, upstream.OpCreate, map[string]string{"subject": "Q3", "regardingobjectid": ct},
			[]crm.Party{{Role: crm.RoleTo, ContactID: ct}})
		q.Add(crm.Contact, ct, upstream.OpCreate, map[string]string{"lastname": "Lay", "parentcustomerid": acct}, nil)
		q.Add(crm.Account, acct, upstream.OpCreate, map[string]string{"name": "Enron"}, nil)
		q.Add(crm.Account, deadAcct, upstream.OpCreate, map[string]string{"name": "Arthur Andersen LLP"}, nil)
		q.Add(crm.Account, goneAcct, upstream.OpCreate, map[string]string{"name": "Gone"}, nil)
		q.Add(crm.Account, goneAcct, upstream.OpDelete, nil, nil)
		toDead, toGone := guid(21), guid(31)
		q.Add(crm.Contact, toDead, upstream.OpCreate, map[string]string{"lastname": "Duncan", "parentcustomerid": deadAcct}, nil)
		q.Add(crm.Contact, toGone, upstream.OpCreate, map[string]string{"lastname": "Nobody", "parentcustomerid": goneAcct}, nil)
		o := e.opts()
		var st upstream.PushStats
		for i := 0; i < 5 && q.Len() > len(q.DeadLetters()); i++ {
			s, err := e.client.Push(context.Background(), q, o)
			if err != nil {
				t.Fatal(err)
			}
			st.Deferred += s.Deferred
			st.Sent += s.Sent
		}
		// Each record sent once: none went out before a record it binds
		// to. In one batch the contact bound to the account refused in
		// that same batch is sent after it (its failure is known only
		// then) and refused with a message naming it.
		if want := map[int]int{1: 5, 100: 6}[batch]; st.Sent != want {
			t.Errorf("batch %d: %d requests sent, want %d", batch, st.Sent, want)
		}
		for _, r := range []struct{ set, id string }{{"accounts", acct}, {"contacts", ct}, {"emails", mail}} {
			if _, ok := e.srv.Record(r.set, r.id); !ok {
				t.Errorf("batch %d: %s(%s) not on the server", batch, r.set, r.id)
			}
		}
		if r, _ := e.srv.Record("emails", mail); len(r.Parties) != 1 || r.Parties[0].ContactID != ct {
			t.Errorf("batch %d: email parties %+v", batch, r.Parties)
		}
		dead := q.DeadLetters()
		if len(dead) != 3 || !strings.Contains(dead[toDead], "binds to "+deadAcct) || !strings.Contains(dead[toGone], "binds to "+goneAcct+", which was deleted") {
			t.Errorf("batch %d: dead %v", batch, dead)
		}
		for _, w := range e.srv.Writes() {
			if w.ID == toDead || w.ID == toGone {
				t.Errorf("batch %d: %s sent although it binds to a record not on the server", batch, w.ID)
			}
		}
		if batch == 1 && st.Deferred == 0 {
			t.Errorf("batch 1: nothing deferred")
		}
		if v := e.srv.Violations(); len(v) != 0 {
			t.Errorf("violations: %v", v)
		}
	}
}

func TestDeadReason(t *testing.T) {
	for msg, want := range map[string]string{
		"400 Bad Request: 0x80044331: A validation error occurred.":                  "400 Bad Request 0x80044331",
		"404 Not Found: 0x80040217: contact With Id = x Does Not Exist (binds to x)": "404 Not Found 0x80040217",
		"read back: 403 Forbidden: no":                                               "403 Forbidden",
		"binds to x, whose own change is dead: 400 Bad Request":                      "binds to a dead record",
		"binds to x, which was deleted":                                              "binds to a deleted record",
		"binds to x, which was never queued for the server":                          "binds to a record never queued",
		"encode: contact has no upstream field \"x\"":                                "encode",
		"batch: Post \"http://x\": EOF (after 8 attempts)":                           "network",
	} {
		if got := upstream.DeadReason(msg); got != want {
			t.Errorf("DeadReason(%q) = %q, want %q", msg, got, want)
		}
	}
}
