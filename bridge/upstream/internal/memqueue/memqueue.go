// Package memqueue is an in-memory outbox (upstream.Queue) for the upstream
// package's tests and benchmarks: it needs no store, and its merge is a
// plain three-way compare with a two-way policy.
package memqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
)

// Policy decides a field both sides changed in Queue.Merge.
type Policy int

// Conflict policies.
const (
	LocalWins    Policy = iota // keep the local value and send it
	UpstreamWins               // keep the server's value
)

// Conflict is one field both sides changed, as Queue records it.
type Conflict struct {
	RecordID, Field       string
	Base, Local, Upstream string
	Kept                  string
}

// Queue is an in-memory upstream.Queue for tests and benchmarks: an outbox of
// entries in journal order with per-record state (ETag, attempts, backoff,
// in-flight mark, dead letter) and a three-way merge against the last
// confirmed server values. It is safe for concurrent use.
type Queue struct {
	// Now is the clock that decides backoff (default time.Now).
	Now func() time.Time
	// Policy decides conflicts in Merge.
	Policy Policy

	mu        sync.Mutex
	cache     map[string]string
	seq       int64
	recs      map[string]*memRec
	order     []orderSlot // records by head entry seq; stale slots skipped
	conflicts []Conflict
}

type orderSlot struct {
	id   string
	head int64
}

type memEntry struct {
	seq     int64
	op      upstream.Op
	fields  map[string]string
	parties []crm.Party
	members []crm.Party
}

type memRec struct {
	id        string
	entity    crm.Entity
	entries   []memEntry
	etag      string
	attempts  int
	notBefore time.Time
	unknown   bool
	dead      bool
	msg       string
	base      map[string]string // last values known to be on the server
}

// New returns an empty queue.
func New() *Queue { return &Queue{recs: map[string]*memRec{}} }

func (q *Queue) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

// Add appends an outbox entry and returns its sequence number. fields and
// parties are copied. For a list, parties are its members.
func (q *Queue) Add(e crm.Entity, id string, op upstream.Op, fields map[string]string, parties []crm.Party) int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	r := q.recs[id]
	if r == nil {
		r = &memRec{id: id, entity: e, base: map[string]string{}}
		q.recs[id] = r
	}
	if len(r.entries) == 0 {
		q.order = append(q.order, orderSlot{id, q.seq})
	}
	var ps []crm.Party
	if parties != nil {
		ps = append([]crm.Party{}, parties...)
	}
	me := memEntry{seq: q.seq, op: op, fields: maps.Clone(fields), parties: ps}
	if e == crm.List {
		me.members, me.parties = ps, nil
	}
	r.entries = append(r.entries, me)
	return q.seq
}

// SetKnown records that record id exists upstream with the given ETag and
// field values (as after a pull).
func (q *Queue) SetKnown(e crm.Entity, id, etag string, fields map[string]string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := q.recs[id]
	if r == nil {
		r = &memRec{id: id, entity: e, base: map[string]string{}}
		q.recs[id] = r
	}
	r.etag = etag
	maps.Copy(r.base, fields)
}

// Len returns the number of entries still in the outbox, dead ones included.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, r := range q.recs {
		n += len(r.entries)
	}
	return n
}

// DeadLetters returns the dead records' error messages by record id.
func (q *Queue) DeadLetters() map[string]string {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := map[string]string{}
	for id, r := range q.recs {
		if r.dead {
			m[id] = r.msg
		}
	}
	return m
}

// RetryDead makes every dead entry pending again (push --retry-dead).
func (q *Queue) RetryDead() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.recs {
		if r.dead {
			r.dead, r.attempts, r.notBefore = false, 0, time.Time{}
		}
	}
}

// Conflicts returns the conflicts Merge recorded.
func (q *Queue) Conflicts() []Conflict {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Conflict{}, q.conflicts...)
}

// ETag returns the last ETag stored for record id.
func (q *Queue) ETag(id string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r := q.recs[id]; r != nil {
		return r.etag
	}
	return ""
}

// coalesce folds a record's entries into one change.
func coalesce(r *memRec) upstream.Change {
	c := upstream.Change{RecordID: r.id, Entity: r.entity, Fields: map[string]string{}, ETag: r.etag,
		Attempts: r.attempts, Unknown: r.unknown}
	for i, e := range r.entries {
		switch {
		case i == 0:
			c.Op = e.op
		case e.op == upstream.OpDelete:
			c.Op = upstream.OpDelete
		case c.Op == upstream.OpDelete && e.op == upstream.OpCreate:
			c.Op = upstream.OpCreate
		}
		maps.Copy(c.Fields, e.fields)
		if e.parties != nil {
			c.Parties = e.parties
		}
		if e.members != nil {
			c.Members = e.members
		}
		c.Seq = e.seq
	}
	if c.Op == upstream.OpDelete {
		c.Fields, c.Parties, c.Members = nil, nil, nil
	}
	if js, ok := r.base[upstream.SentMembers]; ok && c.Members != nil {
		_ = json.Unmarshal([]byte(js), &c.MemberBase)
		if c.MemberBase == nil {
			c.MemberBase = []string{}
		}
	}
	return c
}

// Pending implements upstream.Queue.
func (q *Queue) Pending(ctx context.Context, limit int) ([]upstream.Change, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	var out []upstream.Change
	stale := 0
	for _, s := range q.order {
		r := q.recs[s.id]
		if r == nil || len(r.entries) == 0 || r.entries[0].seq != s.head {
			stale++
			continue
		}
		if len(out) >= limit {
			break
		}
		if r.dead || r.notBefore.After(now) {
			continue
		}
		out = append(out, coalesce(r))
	}
	if stale > len(q.order)/2 {
		q.compact()
	}
	return out, nil
}

func (q *Queue) compact() {
	o := q.order[:0]
	for _, s := range q.order {
		if r := q.recs[s.id]; r != nil && len(r.entries) > 0 && r.entries[0].seq == s.head {
			o = append(o, s)
		}
	}
	clear(q.order[len(o):])
	q.order = o
}

func (q *Queue) rec(id string, seq int64) (*memRec, error) {
	r := q.recs[id]
	if r == nil || len(r.entries) == 0 || r.entries[0].seq > seq {
		return nil, fmt.Errorf("memqueue: no pending entry of %s up to %d", id, seq)
	}
	return r, nil
}

// InFlight implements upstream.Queue.
func (q *Queue) InFlight(ctx context.Context, seqs map[string]int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, seq := range seqs {
		r, err := q.rec(id, seq)
		if err != nil {
			return err
		}
		r.unknown = true
	}
	return nil
}

// Done implements upstream.Queue.
func (q *Queue) Done(ctx context.Context, id string, seq int64, etag string, sent map[string]string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, err := q.rec(id, seq)
	if err != nil {
		return err
	}
	i := 0
	for i < len(r.entries) && r.entries[i].seq <= seq {
		e := r.entries[i]
		if e.op == upstream.OpDelete {
			clear(r.base)
		}
		if sent == nil {
			maps.Copy(r.base, e.fields)
		}
		i++
	}
	maps.Copy(r.base, sent)
	r.entries = append(r.entries[:0:0], r.entries[i:]...)
	r.etag, r.attempts, r.unknown, r.notBefore, r.msg = etag, 0, false, time.Time{}, ""
	if len(r.entries) > 0 {
		q.insertOrder(r)
	}
	return nil
}

// insertOrder puts r's new head into the journal order.
func (q *Queue) insertOrder(r *memRec) {
	head := r.entries[0].seq
	i := sort.Search(len(q.order), func(i int) bool { return q.order[i].head >= head })
	q.order = append(q.order, orderSlot{})
	copy(q.order[i+1:], q.order[i:])
	q.order[i] = orderSlot{r.id, head}
}

// Retry implements upstream.Queue.
func (q *Queue) Retry(ctx context.Context, id string, seq int64, at time.Time, msg string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, err := q.rec(id, seq)
	if err != nil {
		return err
	}
	r.attempts++
	r.notBefore, r.msg = at, msg
	return nil
}

// Dead implements upstream.Queue.
func (q *Queue) Dead(ctx context.Context, id string, seq int64, msg string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, err := q.rec(id, seq)
	if err != nil {
		return err
	}
	r.dead, r.msg = true, msg
	return nil
}

// Merge implements upstream.Queue: for each field of c, a server value equal to
// ours needs nothing; a server value still equal to the base (the last
// value we know was on the server) means only we changed it, so ours is
// sent; otherwise both changed it and Policy decides, recording a
// conflict. The record's entries up to c.Seq become one update of the
// fields to send, with etag.
func (q *Queue) Merge(ctx context.Context, c upstream.Change, server map[string]string, etag string, _ time.Time) (map[string]string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, err := q.rec(c.RecordID, c.Seq)
	if err != nil {
		return nil, err
	}
	send := map[string]string{}
	for f, v := range c.Fields {
		s := server[f]
		b, known := r.base[f]
		switch {
		case s == v:
		case !known || s == b:
			send[f] = v
		default:
			cf := Conflict{RecordID: c.RecordID, Field: f, Base: b, Local: v, Upstream: s, Kept: v}
			if q.Policy == UpstreamWins {
				cf.Kept = s
			} else {
				send[f] = v
			}
			q.conflicts = append(q.conflicts, cf)
		}
	}
	clear(r.base)
	maps.Copy(r.base, server)
	r.etag = etag
	i := 0
	for i < len(r.entries) && r.entries[i].seq <= c.Seq {
		i++
	}
	oldHead := r.entries[0].seq
	merged := memEntry{seq: c.Seq, op: upstream.OpUpdate, fields: maps.Clone(send), parties: c.Parties, members: c.Members}
	r.entries = append([]memEntry{merged}, r.entries[i:]...)
	if oldHead != c.Seq {
		q.insertOrder(r)
	}
	return send, nil
}

// Dependency implements upstream.Dependencies.
func (q *Queue) Dependency(ctx context.Context, id string) (upstream.DepState, string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := q.recs[id]
	switch {
	case r == nil:
		return upstream.DepUnknown, "", nil
	case len(r.entries) > 0 && r.entries[len(r.entries)-1].op == upstream.OpDelete:
		return upstream.DepDeleted, "", nil
	case r.etag != "":
		return upstream.DepConfirmed, "", nil
	case r.dead:
		return upstream.DepDead, r.msg, nil
	case len(r.entries) > 0:
		return upstream.DepPending, "", nil
	}
	return upstream.DepDeleted, "", nil // a delete confirmed
}

// Defer implements upstream.Dependencies.
func (q *Queue) Defer(ctx context.Context, id string, seq int64, at time.Time, msg string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, err := q.rec(id, seq)
	if err != nil {
		return err
	}
	r.notBefore, r.msg = at, msg
	return nil
}

// CacheGet implements upstream.Cache.
func (q *Queue) CacheGet(ctx context.Context, key string) (string, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	v, ok := q.cache[key]
	return v, ok, nil
}

// CachePut implements upstream.Cache.
func (q *Queue) CachePut(ctx context.Context, key, value string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cache == nil {
		q.cache = map[string]string{}
	}
	q.cache[key] = value
	return nil
}

var (
	_ upstream.Queue        = (*Queue)(nil)
	_ upstream.Cache        = (*Queue)(nil)
	_ upstream.Dependencies = (*Queue)(nil)
)
