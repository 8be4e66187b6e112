package upstream_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"crmbridge/bridge/upstream"
	"crmbridge/bridge/upstream/internal/memqueue"
	"crmbridge/crm"
	"crmbridge/internal/fakeserver"
)

// candidate fields the random queues write, per entity. "description" is
// left to the server's concurrent writer, so that a lost server update
// shows.
var randomFields = map[crm.Entity][]string{
	crm.Contact: {"firstname", "lastname", "jobtitle", "telephone1", "emailaddress1"},
	crm.Account: {"name", "telephone1", "websiteurl"},
	crm.Task:    {"subject", "category"},
	crm.Email:   {"subject", "sender", "torecipients"},
}

var randomEntities = []crm.Entity{crm.Contact, crm.Account, crm.Task, crm.Email}

type op struct {
	e       crm.Entity
	id      string
	op      upstream.Op
	fields  map[string]string
	parties []crm.Party
}

type model struct {
	fields  map[string]string
	parties []crm.Party
	deleted bool
	entity  crm.Entity
}

// genOps returns a random journal: per record a create, some updates and
// maybe a delete, interleaved across records. Text values carry a global
// counter so that write order can be checked on the server.
func genOps(rng *rand.Rand, nrec int, newID func() string) ([]op, map[string]*model) {
	type plan struct {
		e    crm.Entity
		id   string
		left []upstream.Op
	}
	var plans []*plan
	for i := 0; i < nrec; i++ {
		p := &plan{e: randomEntities[rng.IntN(len(randomEntities))], id: newID()}
		p.left = append(p.left, upstream.OpCreate)
		for j := rng.IntN(5); j > 0; j-- {
			p.left = append(p.left, upstream.OpUpdate)
		}
		if rng.IntN(5) == 0 {
			p.left = append(p.left, upstream.OpDelete)
		}
		plans = append(plans, p)
	}
	want := map[string]*model{}
	var ops []op
	counter := 0
	for len(plans) > 0 {
		i := rng.IntN(len(plans))
		p := plans[i]
		o := op{e: p.e, id: p.id, op: p.left[0]}
		p.left = p.left[1:]
		if len(p.left) == 0 {
			plans = append(plans[:i], plans[i+1:]...)
		}
		m := want[p.id]
		if m == nil {
			m = &model{fields: map[string]string{}, entity: p.e}
			want[p.id] = m
		}
		if o.op == upstream.OpDelete {
			m.deleted = true
			ops = append(ops, o)
			continue
		}
		o.fields = map[string]string{}
		cands := randomFields[p.e]
		for n := 1 + rng.IntN(len(cands)); n > 0; n-- {
			counter++
			o.fields[cands[rng.IntN(len(cands))]] = fmt.Sprintf("v%07d", counter)
		}
		if p.e == crm.Task && rng.IntN(3) == 0 {
			o.fields["statecode"] = strconv.Itoa(rng.IntN(3))
		}
		if p.e == crm.Email && (o.op == upstream.OpCreate || rng.IntN(3) == 0) {
			o.parties = []crm.Party{{Role: crm.RoleSender, Address: fmt.Sprintf("s%d@example.com", counter)}}
			if rng.IntN(2) == 0 {
				o.parties = append(o.parties, crm.Party{Role: crm.RoleTo, ContactID: guid(counter)})
			}
			m.parties = o.parties
		}
		maps.Copy(m.fields, o.fields)
		ops = append(ops, o)
	}
	return ops, want
}

// feedingQueue adds the journal's entries bit by bit while push runs, as a
// user editing during a push would.
type feedingQueue struct {
	*memqueue.Queue
	rng  *rand.Rand
	ops  []op
	next int
}

func (f *feedingQueue) feed(n int) {
	for ; n > 0 && f.next < len(f.ops); n-- {
		o := f.ops[f.next]
		f.Queue.Add(o.e, o.id, o.op, o.fields, o.parties)
		f.next++
	}
}

func (f *feedingQueue) Pending(ctx context.Context, limit int) ([]upstream.Change, error) {
	if f.rng.IntN(3) == 0 {
		f.feed(f.rng.IntN(8))
	}
	return f.Queue.Pending(ctx, limit)
}

// faultMix returns an Inject function drawing faults at random.
func faultMix(rng *rand.Rand, rate float64) func(fakeserver.Call) fakeserver.Fault {
	return func(c fakeserver.Call) fakeserver.Fault {
		if rng.Float64() >= rate {
			return fakeserver.None
		}
		if c.Part > 0 {
			switch rng.IntN(10) {
			case 0, 1, 2, 3:
				return fakeserver.ConcurrentWrite
			case 4:
				return fakeserver.Throttle
			case 5:
				return fakeserver.ServerError
			case 6:
				return fakeserver.GatewayError
			case 7:
				return fakeserver.DropAfter
			case 8:
				return fakeserver.DropBefore
			}
			return fakeserver.Unavailable
		}
		switch rng.IntN(15) {
		case 0, 1:
			return fakeserver.DropBefore
		case 2, 3, 4:
			return fakeserver.DropAfter
		case 5, 6:
			return fakeserver.Throttle
		case 7:
			return fakeserver.Unavailable
		case 8, 9:
			return fakeserver.ServerError
		case 10:
			return fakeserver.Slow
		case 11, 12:
			if c.Method == "PATCH" {
				return fakeserver.ConcurrentWrite
			}
		case 13:
			return fakeserver.GatewayUnavailable
		}
		return fakeserver.None
	}
}

// TestPushRandomFaults replays random journals through random faults and
// checks the server ends with exactly the journal's result: no record
// created twice, none resurrected after its delete, no field written out of
// journal order, no concurrent server change lost, nothing dead.
// CRMBRIDGE_UPSTREAM_HEAVY=1 runs 3,000 journals instead of 60.
func TestPushRandomFaults(t *testing.T) {
	runs := 60
	if os.Getenv("CRMBRIDGE_UPSTREAM_HEAVY") != "" {
		runs = 3000
	}
	total := 0
	for seed := 1; seed <= runs; seed++ {
		style := fakeserver.Style(seed % 2)
		batch := []int{1, 7, 100}[seed%3]
		total += runRandom(t, uint64(seed), style, batch)
		if t.Failed() {
			t.Fatalf("seed %d (style %d, batch %d) failed", seed, style, batch)
		}
	}
	t.Logf("%d runs, %d journal entries; %v", runs, total, randomStats)
	if randomStats.Conflicts == 0 || randomStats.ReadBacks == 0 || randomStats.Retried == 0 {
		t.Errorf("faults did not exercise conflicts, read-backs and retries: %v", randomStats)
	}
}

var randomStats upstream.PushStats

func runRandom(t *testing.T, seed uint64, style fakeserver.Style, batch int) int {
	rng := rand.New(rand.NewPCG(seed, 42))
	frng := rand.New(rand.NewPCG(seed, 7))
	e := newEnv(t, style, func(c *upstream.Config, s *fakeserver.Server) {
		c.BatchSize = batch
		c.MaxAttempts = 1000 // transient faults only: nothing may die
		s.SlowDelay = 5 * time.Millisecond
		s.RetryAfter = "2"
		s.Inject = faultMix(frng, 0.12)
	})
	ops, want := genOps(rng, 20+rng.IntN(40), func() string { return guid(rng.IntN(1 << 30)) })
	putPartyContacts(e.srv, ops)
	q := &feedingQueue{Queue: e.queue(), rng: rng, ops: ops}
	q.feed(rng.IntN(len(ops) + 1))
	o := e.opts()
	o.BaseBackoff, o.MaxBackoff, o.MaxWait = 100*time.Millisecond, 5*time.Second, time.Minute
	o.Rand = func(n int64) int64 { return rng.Int64N(n) }
	for i := 0; ; i++ {
		if i > 500 {
			t.Errorf("queue not empty after %d pushes: %d entries, dead %v", i, q.Len(), q.DeadLetters())
			return len(ops)
		}
		st, err := e.client.Push(context.Background(), q, o)
		randomStats.Sent += st.Sent
		randomStats.Retried += st.Retried
		randomStats.Conflicts += st.Conflicts
		randomStats.ReadBacks += st.ReadBacks
		randomStats.Confirmed += st.Confirmed
		if err != nil {
			t.Errorf("push: %v", err)
			return len(ops)
		}
		if q.next == len(ops) && q.Len() == 0 {
			break
		}
		q.feed(rng.IntN(10))
		e.clock.Sleep(context.Background(), 10*time.Second) // let backoffs pass
	}
	checkServer(t, e.srv, want, ops)
	if d := q.DeadLetters(); len(d) > 0 {
		t.Errorf("dead: %v", d)
	}
	return len(ops)
}

func checkServer(t *testing.T, srv *fakeserver.Server, want map[string]*model, ops []op) {
	t.Helper()
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("protocol violations: %q", v)
	}
	lastConcurrent := map[string]string{}
	lastValue := map[string]int{} // id/field → counter
	deletedAt := map[string]bool{}
	for _, w := range srv.Writes() {
		if deletedAt[w.ID] {
			t.Errorf("%s %s written after its delete (%s)", w.Set, w.ID, w.Kind)
		}
		switch w.Kind {
		case "delete":
			deletedAt[w.ID] = true
		case "concurrent":
			lastConcurrent[w.ID] = w.Fields["description"]
		default:
			for f, v := range w.Fields {
				if !strings.HasPrefix(v, "v") {
					continue
				}
				n, _ := strconv.Atoi(v[1:])
				if n < lastValue[w.ID+"/"+f] {
					t.Errorf("%s %s: %s written out of order: %s after v%07d", w.Set, w.ID, f, v, lastValue[w.ID+"/"+f])
				}
				lastValue[w.ID+"/"+f] = n
			}
		}
	}
	for id, m := range want {
		set := upstream.EntitySet(m.entity)
		rec, ok := srv.Record(set, id)
		if n := srv.Creates(id); n > 1 || (!m.deleted && n != 1) {
			t.Errorf("%s %s created %d times", set, id, n)
		}
		if m.deleted {
			if ok {
				t.Errorf("%s %s: still there after delete", set, id)
			}
			continue
		}
		if !ok {
			t.Errorf("%s %s: missing", set, id)
			continue
		}
		got := maps.Clone(rec.Fields)
		if got["description"] != lastConcurrent[id] {
			t.Errorf("%s %s: server's description %q lost (have %q)", set, id, lastConcurrent[id], got["description"])
		}
		delete(got, "description")
		delete(got, "statuscode")
		if !maps.Equal(got, m.fields) {
			t.Errorf("%s %s:\n got %v\nwant %v", set, id, got, m.fields)
		}
		if m.parties != nil && !upstream.SameParties(rec.Parties, m.parties) {
			t.Errorf("%s %s: parties %v, want %v", set, id, rec.Parties, m.parties)
		}
	}
}

// putPartyContacts creates, as another user would, the contacts the
// journal's parties are bound to: Dataverse refuses a party bound to a
// missing row.
func putPartyContacts(srv *fakeserver.Server, ops []op) {
	for _, o := range ops {
		for _, p := range o.parties {
			if p.ContactID != "" {
				if _, ok := srv.Record("contacts", p.ContactID); !ok {
					srv.Put(crm.Contact, p.ContactID, map[string]string{"lastname": "party " + p.ContactID[:8]})
				}
			}
		}
	}
}
