package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/internal/fakeserver"
)

// TestSyncMembers: a list pushed to Dataverse is a contact list
// (createdfromcode 2), SyncMembers leaves the server holding exactly the
// wanted members, a repeat sends nothing, a member that is no contact on
// the server is refused by it, and a sync whose answers are lost converges
// when repeated.
func TestSyncMembers(t *testing.T) {
	ctx := context.Background()
	var drop atomic.Bool // read by the server's handler goroutines
	e := newEnv(t, fakeserver.Dataverse, func(_ *upstream.Config, s *fakeserver.Server) {
		s.Inject = func(c fakeserver.Call) fakeserver.Fault {
			if drop.Load() && c.Method == http.MethodPost {
				return fakeserver.DropAfter
			}
			return fakeserver.None
		}
	})
	c1, c2, c3, list := guid(1), guid(2), guid(3), guid(10)
	for _, id := range []string{c1, c2, c3} {
		e.srv.Put(crm.Contact, id, map[string]string{"lastname": id[:8]})
	}
	q := e.queue()
	q.Add(crm.List, list, upstream.OpCreate, map[string]string{"listname": "Friends"}, nil)
	if _, err := e.client.Push(ctx, q, e.opts()); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.ListType(list); got != "2" {
		t.Fatalf("createdfromcode = %q, want 2 (contact)", got)
	}
	steps := []struct {
		want           []string
		added, removed int
	}{
		{[]string{c1, c2}, 2, 0},
		{[]string{c2, c3}, 1, 1},
		{[]string{c3, c2}, 0, 0}, // same set: nothing sent
		{nil, 0, 2},
	}
	for i, s := range steps {
		before := e.srv.Requests()
		st, err := e.client.SyncMembers(ctx, list, s.want, nil)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if st.Added != s.added || st.Removed != s.removed {
			t.Errorf("step %d: %+v, want added %d removed %d", i, st, s.added, s.removed)
		}
		want := slices.Clone(s.want)
		slices.Sort(want)
		if got := e.srv.Members(list); !slices.Equal(got, want) {
			t.Errorf("step %d: server members %v, want %v", i, got, want)
		}
		if n := e.srv.Requests() - before; s.added+s.removed == 0 && n != 1 {
			t.Errorf("step %d: %d requests for no change, want 1 (the read)", i, n)
		}
	}

	// A member that is no contact on the server: 404, nothing added.
	_, err := e.client.SyncMembers(ctx, list, []string{c1, guid(99)}, nil)
	var se *upstream.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusNotFound {
		t.Fatalf("missing contact: err = %v, want a 404 StatusError", err)
	}
	if got := e.srv.Members(list); len(got) != 0 {
		t.Errorf("after a refused add: members %v, want none", got)
	}

	// Lost answers: every POST is applied and its answer dropped; a repeat
	// converges (adding an existing member is harmless, removing a missing
	// one is done).
	e.srv.AddMember(list, c3)
	drop.Store(true)
	if _, err := e.client.SyncMembers(ctx, list, []string{c1, c2}, nil); err == nil {
		t.Fatal("sync with dropped answers: no error")
	}
	drop.Store(false)
	if _, err := e.client.SyncMembers(ctx, list, []string{c1, c2}, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Members(list); !slices.Equal(got, []string{c1, c2}) {
		t.Errorf("after a replay: members %v, want %v", got, []string{c1, c2})
	}
	if v := e.srv.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
}

// TestPushListMembers: a list queued with its members (before the member
// contacts in journal order) reaches the server as a contact list holding
// exactly the members that resolve to a contact; the address-only member
// is reported, not sent; a later change of members adds and removes; a
// push with nothing queued sends nothing. Under lost answers and 503s on
// every other new request the same end state is reached.
func TestPushListMembers(t *testing.T) {
	for _, faults := range []bool{false, true} {
		t.Run(map[bool]string{false: "clean", true: "faults"}[faults], func(t *testing.T) {
			ctx := context.Background()
			// Faults per request, not over all requests: every other
			// request the server has not seen before fails once (a lost
			// answer or a 503, alternately), and goes through when
			// retried. A count over all requests made the outcome depend
			// on their order, which the client may vary: one request
			// could meet only faults, 8 attempts in a row.
			seen, fresh := map[fakeserver.Call]bool{}, 0
			e := newEnv(t, fakeserver.Dataverse, func(_ *upstream.Config, s *fakeserver.Server) {
				if faults {
					s.Inject = func(c fakeserver.Call) fakeserver.Fault {
						if c.Meta && c.Set != "AddListMembersList" || c.Batch && c.Part == 0 || seen[c] {
							return fakeserver.None
						}
						seen[c] = true
						fresh++
						switch fresh % 4 {
						case 1:
							return fakeserver.DropAfter
						case 3:
							return fakeserver.ServerError
						}
						return fakeserver.None
					}
				}
			})
			c1, c2, c3, list := guid(1), guid(2), guid(3), guid(10)
			e.srv.Put(crm.Contact, c3, map[string]string{"lastname": "Three"})
			q := e.queue()
			q.Add(crm.List, list, upstream.OpCreate, map[string]string{"listname": "Friends"}, []crm.Party{
				{Address: "one@example.com", ContactID: c1},
				{Address: "two@example.com", ContactID: c2},
				{Address: "nobody@example.com"},
			})
			q.Add(crm.Contact, c1, upstream.OpCreate, map[string]string{"lastname": "One"}, nil)
			q.Add(crm.Contact, c2, upstream.OpCreate, map[string]string{"lastname": "Two"}, nil)
			o := e.opts()
			o.MaxWait = time.Hour
			st, err := e.client.Push(ctx, q, o)
			if err != nil {
				t.Fatal(err)
			}
			if q.Len() != 0 || st.Dead != 0 {
				t.Fatalf("left %d entries, %d dead: %v", q.Len(), st.Dead, q.DeadLetters())
			}
			if faults && fresh < 3 {
				t.Fatalf("%d requests could fail: not both a lost answer and a 503 were injected", fresh)
			}
			if got := e.srv.ListType(list); got != "2" {
				t.Errorf("createdfromcode %q, want 2", got)
			}
			if got := e.srv.Members(list); !slices.Equal(got, []string{c1, c2}) {
				t.Errorf("members %v, want %v", got, []string{c1, c2})
			}
			// The address-only member is reported on each attempt (once
			// without faults).
			if st.Adjusted != 1 && !faults || st.Adjusted < 1 {
				t.Errorf("adjusted %d, want 1 (the address-only member)", st.Adjusted)
			}
			if !faults && st.MembersAdded != 2 {
				t.Errorf("members added %d, want 2", st.MembersAdded)
			}

			q.Add(crm.List, list, upstream.OpUpdate, nil, []crm.Party{{Address: "two@example.com", ContactID: c2}, {ContactID: c3}})
			if _, err := e.client.Push(ctx, q, o); err != nil {
				t.Fatal(err)
			}
			if q.Len() != 0 {
				t.Fatalf("left %d entries: %v", q.Len(), q.DeadLetters())
			}
			if got := e.srv.Members(list); !slices.Equal(got, []string{c2, c3}) {
				t.Errorf("members %v, want %v", got, []string{c2, c3})
			}
			if l, _ := e.srv.Record("lists", list); l.Version == 0 {
				t.Error("list not on the server")
			}

			before := e.srv.Requests()
			if st, err := e.client.Push(ctx, q, o); err != nil || st.Sent != 0 {
				t.Fatalf("empty push: %+v, %v", st, err)
			}
			if d := e.srv.Requests() - before; d != 0 {
				t.Errorf("empty push sent %d requests", d)
			}
			if v := e.srv.Violations(); len(v) != 0 {
				t.Errorf("violations: %v", v)
			}
		})
	}
}

// TestPushListMembersCAP: a server without WhoAmI (a plain OData service)
// gets the list without createdfromcode and no member requests; the entry
// is done.
func TestPushListMembersCAP(t *testing.T) {
	e := newEnv(t, fakeserver.CAP, nil)
	q := e.queue()
	list := guid(10)
	q.Add(crm.List, list, upstream.OpCreate, map[string]string{"listname": "Friends"}, []crm.Party{{Address: "a@example.com", ContactID: guid(1)}})
	st, err := e.client.Push(context.Background(), q, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 || st.Dead != 0 || st.MembersAdded != 0 {
		t.Fatalf("left %d, %+v: %v", q.Len(), st, q.DeadLetters())
	}
	if _, ok := e.srv.Record("lists", list); !ok {
		t.Error("list not on the server")
	}
	if v := e.srv.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
}

// TestPushMembersWaitForContacts: a members-only change of a list already
// on the server, queued before the create of its new member contact, waits
// for that contact instead of going dead on a 404.
func TestPushMembersWaitForContacts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fakeserver.Dataverse, nil)
	c1, list := guid(1), guid(10)
	q := e.queue()
	q.Add(crm.List, list, upstream.OpCreate, map[string]string{"listname": "Friends"}, nil)
	o := e.opts()
	o.MaxWait = time.Hour
	if _, err := e.client.Push(ctx, q, o); err != nil || q.Len() != 0 {
		t.Fatalf("list: %v, left %d", err, q.Len())
	}
	q.Add(crm.List, list, upstream.OpUpdate, nil, []crm.Party{{Address: "one@example.com", ContactID: c1}})
	q.Add(crm.Contact, c1, upstream.OpCreate, map[string]string{"lastname": "One"}, nil)
	st, err := e.client.Push(ctx, q, o)
	if err != nil || st.Dead != 0 || q.Len() != 0 {
		t.Fatalf("push: %v %+v, left %d: %v", err, st, q.Len(), q.DeadLetters())
	}
	if got := e.srv.Members(list); !slices.Equal(got, []string{c1}) {
		t.Errorf("members %v, want [%s]", got, c1)
	}
}
