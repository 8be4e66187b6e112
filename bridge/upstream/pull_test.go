package upstream_test

import (
	"context"
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
	deleted []string
	delta   map[string]string
	last    map[string]time.Time
}

func newMemSink() *memSink {
	return &memSink{recs: map[string]map[string]string{}, etags: map[string]string{}, delta: map[string]string{}, last: map[string]time.Time{}}
}

func (s *memSink) Apply(_ context.Context, e crm.Entity, id string, f map[string]string, etag string, _ time.Time) error {
	s.recs[id], s.etags[id] = maps.Clone(f), etag
	return nil
}

func (s *memSink) Delete(_ context.Context, e crm.Entity, id string) error {
	s.deleted = append(s.deleted, id)
	delete(s.recs, id)
	return nil
}

func (s *memSink) PullState(_ context.Context, set string) (string, time.Time, error) {
	return s.delta[set], s.last[set], nil
}

func (s *memSink) SavePullState(_ context.Context, set, delta string, last time.Time) error {
	s.delta[set], s.last[set] = delta, last
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
		if tracking != (sink.delta["contacts"] != "") || (tracking && st.Tracked != 2) || (!tracking && st.Polled != 2) {
			t.Errorf("tracking %v: delta %q, stats %+v", tracking, sink.delta["contacts"], st)
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
		if tracking && (st.Deleted != 1 || sink.deleted[0] != guid(5)) {
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
	sink.delta["contacts"] = "https://evil.example.com/api/data/v9.2/contacts?$deltatoken=1"
	_, err := e.client.Pull(context.Background(), sink, upstream.PullOptions{Sets: []string{"contacts"}})
	if err == nil || !strings.Contains(err.Error(), "leaves the service host") {
		t.Errorf("err %v", err)
	}
}
