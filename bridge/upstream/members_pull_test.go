package upstream_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/internal/fakeserver"
)

// TestPullListMembers: with the store as queue and sink, members added
// and removed on the server since the last push and members added and
// removed here since then all survive: one pull brings the server's
// changes in (keeping the local ones), the next push sends only the local
// ones (never undoing the server's), and then a pull changes nothing and a
// push sends nothing. A list another user made, with members, is pulled
// with them.
func TestPullListMembers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fakeserver.Dataverse, func(_ *upstream.Config, s *fakeserver.Server) { s.ChangeTracking = true })
	s, err := crmstore.Open(ctx, filepath.Join(t.TempDir(), "crm.db"), crmstore.Options{Create: true, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if c[n], err = tx.Create(crm.Contact, map[string]string{"lastname": strings.ToUpper(n), "emailaddress1": n + "@example.com"}, "cli"); err != nil {
			t.Fatal(err)
		}
	}
	members := func(names ...string) []crm.Party {
		ps := []crm.Party{{Address: "nobody@example.com"}}
		for _, n := range names {
			ps = append(ps, crm.Party{Address: n + "@example.com", Name: strings.ToUpper(n)})
		}
		return ps
	}
	src := crm.SourceRef{Kind: "msg", Key: "dl", Version: "1"}
	res, err := tx.Apply(&crm.Incoming{Source: src, Record: crm.Record{Entity: crm.List, Fields: map[string]string{"listname": "Friends"},
		Members: members("a", "b", "c")}}, crmstore.PolicyNewest)
	if err != nil {
		t.Fatal(err)
	}
	list := res.ID
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	q := &upstream.StoreQueue{Store: s, Policy: crmstore.PolicyNewest}
	sink := &upstream.StoreSink{Store: s, Policy: crmstore.PolicyNewest}
	push := func(step string) upstream.PushStats {
		t.Helper()
		st, err := e.client.Push(ctx, q, e.opts())
		if err != nil || st.Dead != 0 {
			t.Fatalf("%s: push %v %+v", step, err, st)
		}
		return st
	}
	pull := func(step string) upstream.PullStats {
		t.Helper()
		st, err := e.client.Pull(ctx, sink, upstream.PullOptions{Sets: []string{"contacts", "lists"}})
		if err != nil {
			t.Fatalf("%s: pull %v", step, err)
		}
		return st
	}
	ids := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, c[n])
		}
		slices.Sort(out)
		return out
	}
	storeMembers := func(id string) []string {
		v, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range v.Members {
			if m.ContactID != "" {
				out = append(out, m.ContactID)
			}
		}
		slices.Sort(out)
		return out
	}
	push("first")
	pull("first") // reads the server's state once
	if got := e.srv.Members(list); !slices.Equal(got, ids("a", "b", "c")) {
		t.Fatalf("server members %v", got)
	}

	// Another user: b out, e in. Here: c out, d in.
	e.srv.RemoveMember(list, c["b"])
	e.srv.AddMember(list, c["e"])
	src.Version = "2"
	if err := applyOne(ctx, s, &crm.Incoming{Source: src, Record: crm.Record{Entity: crm.List, Fields: map[string]string{"listname": "Friends"},
		Members: members("a", "b", "d")}}); err != nil {
		t.Fatal(err)
	}
	st := pull("after changes on both sides")
	if st.Lists != 1 || st.MembersAdded != 1 || st.MembersRemoved != 1 {
		t.Errorf("pull: %+v", st)
	}
	want := ids("a", "d", "e")
	if got := storeMembers(list); !slices.Equal(got, want) {
		t.Errorf("store members %v, want %v", got, want)
	}
	if ps := push("local changes"); ps.MembersAdded != 1 || ps.MembersRemoved != 1 {
		t.Errorf("push: %+v, want 1 added (d), 1 removed (c)", ps)
	}
	if got := e.srv.Members(list); !slices.Equal(got, want) {
		t.Errorf("server members %v, want %v", got, want)
	}

	// Push before pull: the server gains b again, here a goes. The push
	// removes a and leaves b (exact sync would remove it); the pull then
	// brings b in.
	e.srv.AddMember(list, c["b"])
	src.Version = "3"
	// (The source's member list merges as one value with the store's,
	// which the pull changed: its newer time makes it win.)
	if err := applyOne(ctx, s, &crm.Incoming{Source: src, ModifiedAt: time.Now().Add(time.Hour), Record: crm.Record{Entity: crm.List,
		Fields: map[string]string{"listname": "Friends"}, Members: members("d", "e")}}); err != nil {
		t.Fatal(err)
	}
	if ps := push("push before pull"); ps.MembersAdded != 0 || ps.MembersRemoved != 1 {
		t.Errorf("push: %+v, want a removed only", ps)
	}
	if got := e.srv.Members(list); !slices.Equal(got, ids("b", "d", "e")) {
		t.Errorf("server members %v, want b, d, e", got)
	}
	if st := pull("after push"); st.MembersAdded != 1 || st.MembersRemoved != 0 {
		t.Errorf("pull: %+v, want b added", st)
	}
	if got := storeMembers(list); !slices.Equal(got, ids("b", "d", "e")) {
		t.Errorf("store members %v, want b, d, e", got)
	}

	// A list made upstream by another user, with members.
	other := "0b0b0b0b-0000-4000-8000-000000000001"
	e.srv.Put(crm.List, other, map[string]string{"listname": "Board"})
	e.srv.SetListType(other, "2")
	e.srv.AddMember(other, c["a"])
	e.srv.AddMember(other, c["b"])
	if st := pull("new list"); st.Lists != 2 || st.MembersAdded != 2 || st.MembersRemoved != 0 {
		t.Errorf("pull of a new list: %+v", st)
	}
	if got := storeMembers(other); !slices.Equal(got, ids("a", "b")) {
		t.Errorf("new list's members %v", got)
	}

	if st := pull("again"); st.Applied != 0 || st.MembersAdded+st.MembersRemoved != 0 {
		t.Errorf("second pull changed something: %+v", st)
	}
	before := e.srv.Requests()
	if ps := push("nothing"); ps.Sent != 0 || e.srv.Requests() != before {
		t.Errorf("push after pull: %+v, %d requests", ps, e.srv.Requests()-before)
	}
	if v := e.srv.Violations(); len(v) != 0 {
		t.Errorf("violations: %v", v)
	}
}

func applyOne(ctx context.Context, s *crmstore.Store, in *crm.Incoming) error {
	return s.Update(ctx, func(tx *crmstore.Tx) error {
		_, err := tx.Apply(in, crmstore.PolicyNewest)
		return err
	})
}
