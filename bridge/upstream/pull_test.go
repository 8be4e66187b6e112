package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/internal/fakeserver"
)

// memSink records what Pull hands it.
type memSink struct {
	recs    map[string]map[string]string
	etags   map[string]string
	ents    map[string]crm.Entity
	deleted []string
	marks   map[string]upstream.PullMark
	applied int
}

func newMemSink() *memSink {
	return &memSink{recs: map[string]map[string]string{}, etags: map[string]string{}, ents: map[string]crm.Entity{}, marks: map[string]upstream.PullMark{}}
}

func (s *memSink) Apply(_ context.Context, e crm.Entity, id string, f map[string]string, etag string, _ time.Time) error {
	s.recs[id], s.etags[id], s.ents[id] = maps.Clone(f), etag, e
	s.applied++
	return nil
}

func (s *memSink) Delete(_ context.Context, e crm.Entity, id string) error {
	s.deleted = append(s.deleted, id)
	delete(s.recs, id)
	delete(s.etags, id)
	delete(s.ents, id)
	return nil
}

// UpstreamIDs implements upstream.KnownSink: the records applied (and not
// deleted since).
func (s *memSink) UpstreamIDs(_ context.Context, e crm.Entity) ([]string, error) {
	var out []string
	for id, ent := range s.ents {
		if ent == e {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *memSink) PullState(_ context.Context, set string) (upstream.PullMark, error) {
	return s.marks[set], nil
}

func (s *memSink) SavePullState(_ context.Context, set string, m upstream.PullMark) error {
	s.marks[set] = m
	return nil
}

func TestPull(t *testing.T) {
	for _, tracking := range []bool{true, false} {
		e := newEnv(t, fakeserver.CAP, func(_ *upstream.Config, s *fakeserver.Server) {
			s.ChangeTracking = tracking
			s.PageSize = 3
		})
		for i := 0; i < 7; i++ {
			e.srv.Put(crm.Contact, guid(i), map[string]string{"lastname": "L" + string(rune('a'+i)), "parentcustomerid": guid(100)})
		}
		sink := newMemSink()
		ctx := context.Background()
		opts := upstream.PullOptions{Sets: []string{"contacts", "accounts"}}
		st, err := e.client.Pull(ctx, sink, opts)
		if err != nil {
			t.Fatal(err)
		}
		if st.Applied != 7 || len(sink.recs) != 7 || sink.recs[guid(3)]["lastname"] != "Ld" || sink.recs[guid(3)]["parentcustomerid"] != guid(100) ||
			sink.etags[guid(3)] == "" || st.Pages < 3 {
			t.Errorf("tracking %v: stats %+v, recs %v", tracking, st, sink.recs[guid(3)])
		}
		if tracking != (sink.marks["contacts"].DeltaLink != "") || (tracking && st.Tracked != 2) || (!tracking && st.Polled != 2) {
			t.Errorf("tracking %v: delta %q, stats %+v", tracking, sink.marks["contacts"].DeltaLink, st)
		}
		e.srv.Touch("contacts", guid(2), "lastname", "changed")
		e.srv.Remove("contacts", guid(5))
		st, err = e.client.Pull(ctx, sink, opts)
		if err != nil {
			t.Fatal(err)
		}
		if st.Applied != 1 || sink.recs[guid(2)]["lastname"] != "changed" {
			t.Errorf("tracking %v: second pull %+v", tracking, st)
		}
		if st.Deleted != 1 || len(sink.deleted) != 1 || sink.deleted[0] != guid(5) {
			t.Errorf("delete not pulled: %+v %v", st, sink.deleted)
		}
		if v := e.srv.Violations(); len(v) > 0 {
			t.Errorf("violations %v", v)
		}
	}
}

// TestPullStaysOnHost: a next link to another host is refused, so the
// token never leaves the service.
func TestPullStaysOnHost(t *testing.T) {
	e := newEnv(t, fakeserver.Dataverse, nil)
	sink := newMemSink()
	sink.marks["contacts"] = upstream.PullMark{DeltaLink: "https://evil.example.com/api/data/v9.2/contacts?$deltatoken=1"}
	_, err := e.client.Pull(context.Background(), sink, upstream.PullOptions{Sets: []string{"contacts"}})
	if err == nil || !strings.Contains(err.Error(), "leaves the service host") {
		t.Errorf("err %v", err)
	}
}

// TestPullSameSecond: without change tracking, rows changed in the same
// second as the newest row of the last pull are not lost (modifiedon ge,
// not gt), rows already read are not applied again, and a pull with
// nothing new applies nothing.
func TestPullSameSecond(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newEnv(t, fakeserver.Dataverse, func(_ *upstream.Config, s *fakeserver.Server) {
		s.Clock = func() time.Time { return now }
		s.PageSize = 3
	})
	for i := 0; i < 8; i++ {
		e.srv.Put(crm.Contact, guid(i), map[string]string{"lastname": "v0"})
	}
	sink := newMemSink()
	ctx := context.Background()
	opts := upstream.PullOptions{Sets: []string{"contacts"}}
	if _, err := e.client.Pull(ctx, sink, opts); err != nil {
		t.Fatal(err)
	}
	if sink.applied != 8 {
		t.Fatalf("first pull applied %d, want 8", sink.applied)
	}
	// Same second: every contact updated, some several times.
	for i := 0; i < 8; i++ {
		for v := 1; v <= 1+i%3; v++ {
			e.srv.Touch("contacts", guid(i), "lastname", fmt.Sprintf("v%d", v))
		}
	}
	sink.applied = 0
	if _, err := e.client.Pull(ctx, sink, opts); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		if want := fmt.Sprintf("v%d", 1+i%3); sink.recs[guid(i)]["lastname"] != want {
			t.Errorf("contact %d: %q, want %q", i, sink.recs[guid(i)]["lastname"], want)
		}
	}
	if sink.applied != 8 {
		t.Errorf("second pull applied %d, want 8", sink.applied)
	}
	sink.applied = 0
	if _, err := e.client.Pull(ctx, sink, opts); err != nil || sink.applied != 0 {
		t.Errorf("third pull applied %d (%v), want 0", sink.applied, err)
	}
	// One more second: only the changed row.
	now = now.Add(time.Second)
	e.srv.Touch("contacts", guid(3), "lastname", "later")
	if _, err := e.client.Pull(ctx, sink, opts); err != nil || sink.applied != 1 || sink.recs[guid(3)]["lastname"] != "later" {
		t.Errorf("fourth pull applied %d (%v), %v", sink.applied, err, sink.recs[guid(3)])
	}
}

// TestPullSetsIndependently: a set the server refuses (403, 404) is
// reported by name; the sets after it are still pulled.
func TestPullSetsIndependently(t *testing.T) {
	e := newEnv(t, fakeserver.Dataverse, func(_ *upstream.Config, s *fakeserver.Server) {
		s.ChangeTracking = true
		s.Inject = func(c fakeserver.Call) fakeserver.Fault {
			if c.Method == "GET" && (c.Set == "appointments" || c.Set == "lists") && c.ID == "" {
				return fakeserver.Forbidden
			}
			return fakeserver.None
		}
	})
	e.srv.Put(crm.Contact, guid(1), map[string]string{"lastname": "Lay"})
	e.srv.Put(crm.Task, guid(2), map[string]string{"subject": "call"})
	sink := newMemSink()
	st, err := e.client.Pull(context.Background(), sink, upstream.PullOptions{})
	var pe *upstream.PullError
	if !errors.As(err, &pe) || strings.Join(pe.Sets, ",") != "appointments,lists" || st.Failed != 2 {
		t.Fatalf("err %v, stats %+v", err, st)
	}
	if !strings.Contains(err.Error(), "pull appointments: ") || !strings.Contains(err.Error(), "403") {
		t.Errorf("message: %v", err)
	}
	if sink.recs[guid(1)] == nil || sink.recs[guid(2)] == nil {
		t.Errorf("sets after the failing ones not pulled: %v", sink.recs)
	}
	if _, ok := sink.marks["lists"]; ok {
		t.Errorf("a failed set's pull state was saved")
	}
}

// TestPullDeletesWithoutTracking: a record deleted upstream reaches the
// sink even when the server does not track changes (a keys-only listing
// after each modifiedon poll), and, with change tracking, when it was
// deleted before the first (full) read. A second pull deletes nothing.
// The listing costs one request per page of keys.
func TestPullDeletesWithoutTracking(t *testing.T) {
	for _, tracking := range []bool{false, true} {
		e := newEnv(t, fakeserver.Dataverse, func(_ *upstream.Config, s *fakeserver.Server) {
			s.ChangeTracking = tracking
			s.PageSize = 4
		})
		for i := 0; i < 10; i++ {
			e.srv.Put(crm.Contact, guid(i), map[string]string{"lastname": fmt.Sprint("L", i)})
		}
		sink := newMemSink()
		// Known upstream (pushed earlier), deleted there before any pull.
		sink.ents[guid(50)], sink.etags[guid(50)] = crm.Contact, `W/"1"`
		sink.ents[guid(51)], sink.etags[guid(51)] = crm.Task, `W/"1"` // another set: not touched
		ctx := context.Background()
		opts := upstream.PullOptions{Sets: []string{"contacts"}}
		st, err := e.client.Pull(ctx, sink, opts)
		if err != nil || st.Applied != 10 || st.Deleted != 1 || strings.Join(sink.deleted, ",") != guid(50) {
			t.Fatalf("tracking %v: first pull %v %+v, deleted %v", tracking, err, st, sink.deleted)
		}
		e.srv.Remove("contacts", guid(3))
		e.srv.Remove("contacts", guid(7))
		e.srv.Touch("contacts", guid(1), "lastname", "changed")
		sink.deleted = nil
		before := e.srv.Requests()
		st, err = e.client.Pull(ctx, sink, opts)
		if err != nil || st.Applied != 1 || st.Deleted != 2 || strings.Join(sink.deleted, ",") != guid(3)+","+guid(7) {
			t.Errorf("tracking %v: second pull %v %+v, deleted %v", tracking, err, st, sink.deleted)
		}
		// Without tracking: one page of changes, then the 8 keys in 2 pages.
		want := 3
		if tracking {
			want = 1 // one delta page
		}
		if n := e.srv.Requests() - before; n != want {
			t.Errorf("tracking %v: second pull cost %d requests, want %d", tracking, n, want)
		}
		sink.deleted = nil
		st, err = e.client.Pull(ctx, sink, opts)
		if err != nil || st.Applied != 0 || st.Deleted != 0 || len(sink.recs) != 8 || sink.ents[guid(51)] != crm.Task {
			t.Errorf("tracking %v: third pull %v %+v, deleted %v", tracking, err, st, sink.deleted)
		}
		if v := e.srv.Violations(); len(v) > 0 {
			t.Errorf("violations %v", v)
		}
	}
}
