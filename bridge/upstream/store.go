package upstream

import (
	"context"
	"errors"
	"time"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

// StoreQueue is the store's outbox as a Queue (crmstore cannot import this
// package: the layering is cmd → bridge → crmstore). Not safe for
// concurrent use.
type StoreQueue struct {
	Store  *crmstore.Store
	Policy crmstore.Policy // for conflicts found on a 412

	Conflicts int // fields changed on both sides, merged under Policy
	Open      int // conflicts left open (PolicyFail)
}

// CurrentFields implements FieldReader.
func (q *StoreQueue) CurrentFields(ctx context.Context, id string, names []string) (map[string]string, error) {
	return q.Store.CurrentFields(ctx, id, names)
}

var (
	_ FieldReader  = (*StoreQueue)(nil)
	_ Queue        = (*StoreQueue)(nil)
	_ Cache        = (*StoreQueue)(nil)
	_ Dependencies = (*StoreQueue)(nil)
)

// Dependency implements Dependencies.
func (q *StoreQueue) Dependency(ctx context.Context, id string) (DepState, string, error) {
	st, msg, err := q.Store.OutboxDependency(ctx, id)
	m := map[string]DepState{crmstore.DepConfirmed: DepConfirmed, crmstore.DepPending: DepPending, crmstore.DepDead: DepDead,
		crmstore.DepDeleted: DepDeleted, crmstore.DepLocal: DepLocal}
	return m[st], msg, err
}

// Defer implements Dependencies.
func (q *StoreQueue) Defer(ctx context.Context, id string, seq int64, at time.Time, msg string) error {
	return q.Store.OutboxDefer(ctx, id, seq, at, msg)
}

// CacheGet implements Cache.
func (q *StoreQueue) CacheGet(ctx context.Context, key string) (string, bool, error) {
	return q.Store.CacheGet(ctx, key)
}

// CachePut implements Cache.
func (q *StoreQueue) CachePut(ctx context.Context, key, value string) error {
	return q.Store.CachePut(ctx, key, value)
}

func toOp(op string) Op {
	switch op {
	case crmstore.OutboxCreate:
		return OpCreate
	case crmstore.OutboxDelete:
		return OpDelete
	}
	return OpUpdate
}

func fromOp(op Op) string {
	switch op {
	case OpCreate:
		return crmstore.OutboxCreate
	case OpDelete:
		return crmstore.OutboxDelete
	}
	return crmstore.OutboxUpdate
}

// Pending implements Queue.
func (q *StoreQueue) Pending(ctx context.Context, limit int) ([]Change, error) {
	cs, err := q.Store.OutboxPending(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Change, len(cs))
	for i, c := range cs {
		out[i] = Change{Seq: c.Seq, RecordID: c.RecordID, Entity: c.Entity, Op: toOp(c.Op),
			Fields: c.Fields, Parties: c.Parties, Members: c.Members, MemberBase: c.MemberBase, ETag: c.ETag, Attempts: c.Attempts, Unknown: c.Unknown}
	}
	return out, nil
}

// InFlight implements Queue.
func (q *StoreQueue) InFlight(ctx context.Context, seqs map[string]int64) error {
	return q.Store.OutboxInFlight(ctx, seqs)
}

// Done implements Queue.
func (q *StoreQueue) Done(ctx context.Context, id string, seq int64, etag string, sent map[string]string) error {
	return q.Store.OutboxDoneSent(ctx, id, seq, etag, sent)
}

// Retry implements Queue.
func (q *StoreQueue) Retry(ctx context.Context, id string, seq int64, at time.Time, msg string) error {
	return q.Store.OutboxRetry(ctx, id, seq, at, msg)
}

// Dead implements Queue.
func (q *StoreQueue) Dead(ctx context.Context, id string, seq int64, msg string) error {
	return q.Store.OutboxDead(ctx, id, seq, msg)
}

// Merge implements Queue.
func (q *StoreQueue) Merge(ctx context.Context, c Change, server map[string]string, etag string, modifiedOn time.Time) (map[string]string, error) {
	mr, err := q.Store.OutboxMerge(ctx, crmstore.OutboxChange{Seq: c.Seq, RecordID: c.RecordID, Entity: c.Entity, Op: fromOp(c.Op),
		Fields: c.Fields, Parties: c.Parties, Members: c.Members, MemberBase: c.MemberBase, ETag: c.ETag, Attempts: c.Attempts, Unknown: c.Unknown}, server, etag, modifiedOn, q.Policy)
	q.Conflicts += mr.Conflicts
	q.Open += mr.Open
	return mr.Send, err
}

// StoreSink is the store as a Sink for pull: changes apply through the
// three-way merge with origin "upstream". Not safe for concurrent use.
type StoreSink struct {
	Store  *crmstore.Store
	Policy crmstore.Policy

	Conflicts, Open   int // as for StoreQueue
	Created, Modified int // records created and changed by the pull
	Kept              int // records deleted upstream but edited here: kept (a conflict is recorded)
}

var _ MemberSink = (*StoreSink)(nil)

// ApplyMembers implements MemberSink.
func (k *StoreSink) ApplyMembers(ctx context.Context, listID string, ids []string) (MemberPull, error) {
	mm, err := k.Store.PullMembers(ctx, listID, ids)
	return MemberPull{Added: mm.Added, Removed: mm.Removed, Unknown: mm.Unknown}, err
}

// UpstreamIDs implements KnownSink.
func (k *StoreSink) UpstreamIDs(ctx context.Context, e crm.Entity) ([]string, error) {
	return k.Store.UpstreamIDs(ctx, e)
}

// Apply implements Sink.
func (k *StoreSink) Apply(ctx context.Context, e crm.Entity, id string, fields map[string]string, etag string, mod time.Time) error {
	res, err := k.Store.PullApply(ctx, e, id, fields, etag, mod, k.Policy)
	k.Conflicts += res.Conflicts
	k.Open += res.Open
	switch res.Outcome {
	case crmstore.Created:
		k.Created++
	case crmstore.Updated:
		k.Modified++
	}
	if errors.Is(err, crmstore.ErrConflict) {
		return nil // recorded; the rest of the record was applied
	}
	return err
}

// Delete implements Sink.
func (k *StoreSink) Delete(ctx context.Context, e crm.Entity, id string) error {
	kept, err := k.Store.PullDelete(ctx, e, id, k.Policy)
	if kept {
		k.Kept++
	}
	return err
}

// PullState implements Sink.
func (k *StoreSink) PullState(ctx context.Context, set string) (PullMark, error) {
	delta, last, seen, err := k.Store.PullState(ctx, set)
	return PullMark{DeltaLink: delta, Last: last, Seen: seen}, err
}

// SavePullState implements Sink.
func (k *StoreSink) SavePullState(ctx context.Context, set string, m PullMark) error {
	return k.Store.SavePullState(ctx, set, m.DeltaLink, m.Last, m.Seen)
}
