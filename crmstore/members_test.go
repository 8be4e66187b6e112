package crmstore

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"crmbridge/crm"
)

// memberIDs returns the contact ids of list id's members, sorted, and the
// number of members known only by address.
func memberIDs(t *testing.T, s *Store, id string) ([]string, int) {
	t.Helper()
	v, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	n := 0
	for _, m := range v.Members {
		if m.ContactID == "" {
			n++
			continue
		}
		ids = append(ids, m.ContactID)
	}
	slices.Sort(ids)
	return ids, n
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// TestPullMembers: the members the server holds merge into the store's
// list member by member against the merge base (what push sent): a member
// removed or added on the server since is removed or added here, a local
// removal or addition not pushed yet survives, the address-only member
// stays, a member whose contact the store lacks is reported and tried
// again; a second pull changes nothing; the pending push then starts from
// the server's members. Without a base nothing is removed, and what the
// server lacks is queued.
func TestPullMembers(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	c := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		c[n] = create(t, s, crm.Contact, map[string]string{"lastname": strings.ToUpper(n), "emailaddress1": n + "@example.com"})
	}
	for _, ch := range pending(t, s, 10) {
		must(t, s.OutboxDone(ctx, ch.RecordID, ch.Seq, `W/"1"`))
	}
	members := func(names ...string) []crm.Party {
		ps := []crm.Party{{Address: "nobody@example.com", Name: "Nobody"}}
		for _, n := range names {
			ps = append(ps, crm.Party{Address: n + "@example.com", Name: strings.ToUpper(n)})
		}
		return ps
	}
	src := crm.SourceRef{Kind: "msg", Key: "dl1", Version: "1"}
	list := apply(t, s, &crm.Incoming{Source: src, Record: crm.Record{Entity: crm.List, Fields: map[string]string{"listname": "Friends"},
		Members: members("a", "b", "c")}}, PolicyNewest).ID
	ch := pending(t, s, 10)[0]
	if ch.MemberBase != nil {
		t.Fatalf("base before any push: %v", ch.MemberBase)
	}
	sent, _ := json.Marshal(sorted(c["a"], c["b"], c["c"]))
	must(t, s.OutboxDoneSent(ctx, list, ch.Seq, `W/"2"`, map[string]string{"listname": "Friends", "_members": string(sent)}))

	// Here: c out, d in (not pushed yet). Upstream: b out, e in, and a
	// contact this store does not have.
	src.Version = "2"
	apply(t, s, &crm.Incoming{Source: src, Record: crm.Record{Entity: crm.List, Fields: map[string]string{"listname": "Friends"},
		Members: members("a", "b", "d")}}, PolicyNewest)
	stranger := "0a0a0a0a-0000-4000-8000-000000000001"
	server := []string{c["a"], c["c"], c["e"], stranger}
	mm, err := s.PullMembers(ctx, list, server)
	if err != nil {
		t.Fatal(err)
	}
	if mm.Added != 1 || mm.Removed != 1 || !slices.Equal(mm.Unknown, []string{stranger}) {
		t.Errorf("first pull: %+v", mm)
	}
	ids, byAddr := memberIDs(t, s, list)
	if want := sorted(c["a"], c["d"], c["e"]); !slices.Equal(ids, want) || byAddr != 1 {
		t.Errorf("members %v (+%d by address), want %v (+1)", ids, byAddr, want)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM journal WHERE record_id = ? AND field = '_members' AND origin = 'upstream'`, list); n != 1 {
		t.Errorf("%d upstream journal entries for the members, want 1", n)
	}
	cs := pending(t, s, 10)
	if len(cs) != 1 || cs[0].RecordID != list || !slices.Equal(cs[0].MemberBase, sorted(c["a"], c["c"], c["e"])) {
		t.Fatalf("pending after pull: %+v", cs)
	}
	var got []string
	for _, m := range cs[0].Members {
		if m.ContactID != "" {
			got = append(got, m.ContactID)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, sorted(c["a"], c["d"], c["e"])) {
		t.Errorf("members to push %v", got)
	}
	if mm, err := s.PullMembers(ctx, list, server); err != nil || mm.Added != 0 || mm.Removed != 0 || len(mm.Unknown) != 1 {
		t.Errorf("second pull: %+v %v", mm, err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM outbox WHERE record_id = ?`, list); n != 1 {
		t.Errorf("%d outbox entries for the list, want the one local change", n)
	}

	// No base: a list pushed where members could not go (CAP).
	src = crm.SourceRef{Kind: "msg", Key: "dl2", Version: "1"}
	list2 := apply(t, s, &crm.Incoming{Source: src, Record: crm.Record{Entity: crm.List, Fields: map[string]string{"listname": "Others"},
		Members: members("a", "b")}}, PolicyNewest).ID
	for _, ch := range pending(t, s, 10) {
		if ch.RecordID == list2 {
			must(t, s.OutboxDoneSent(ctx, list2, ch.Seq, `W/"3"`, map[string]string{"listname": "Others"}))
		}
	}
	if mm, err := s.PullMembers(ctx, list2, []string{c["b"], c["c"]}); err != nil || mm.Added != 1 || mm.Removed != 0 {
		t.Errorf("pull without a base: %+v %v", mm, err)
	}
	if ids, _ := memberIDs(t, s, list2); !slices.Equal(ids, sorted(c["a"], c["b"], c["c"])) {
		t.Errorf("members without a base: %v", ids)
	}
	var queued *OutboxChange
	for _, ch := range pending(t, s, 10) {
		if ch.RecordID == list2 {
			queued = &ch
		}
	}
	if queued == nil || queued.Members == nil || !slices.Equal(queued.MemberBase, sorted(c["b"], c["c"])) {
		t.Errorf("the member the server lacks is not queued: %+v", queued)
	}
}
