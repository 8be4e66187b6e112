package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

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
	var drop bool
	e := newEnv(t, fakeserver.Dataverse, func(_ *upstream.Config, s *fakeserver.Server) {
		s.Inject = func(c fakeserver.Call) fakeserver.Fault {
			if drop && c.Method == http.MethodPost {
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
		st, err := e.client.SyncMembers(ctx, list, s.want)
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
	_, err := e.client.SyncMembers(ctx, list, []string{c1, guid(99)})
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
	drop = true
	if _, err := e.client.SyncMembers(ctx, list, []string{c1, c2}); err == nil {
		t.Fatal("sync with dropped answers: no error")
	}
	drop = false
	if _, err := e.client.SyncMembers(ctx, list, []string{c1, c2}); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Members(list); !slices.Equal(got, []string{c1, c2}) {
		t.Errorf("after a replay: members %v, want %v", got, []string{c1, c2})
	}
	if v := e.srv.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
}
