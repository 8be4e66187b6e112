package upstream

import (
	"context"
	"time"

	"crmbridge/crm"
)

// Op is the kind of change an outbox entry makes upstream.
type Op int

// The operations push sends.
const (
	OpCreate Op = iota + 1
	OpUpdate
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "op?"
}

// Change is one outbox entry, already coalesced per record by the queue.
type Change struct {
	Seq      int64             // highest outbox sequence number folded into this change (journal order)
	RecordID string            // lower-case GUID, also the upstream id
	Entity   crm.Entity        // record type
	Op       Op                // OpCreate, OpUpdate, OpDelete
	Fields   map[string]string // changed upstream fields only (crmstore.Field.Upstream), canonical text values
	Parties  []crm.Party       // activities: full party list when it changed (nil = unchanged)
	Members  []crm.Party       // lists: full member list when it changed (nil = unchanged)
	// MemberBase is, with Members, the member contact ids the server held
	// when the list was last synced (its merge base; nil = not known).
	// Push adds and removes only what changed since: members the server
	// gained or lost meanwhile are pull's to merge.
	MemberBase []string
	ETag       string // last ETag seen for the record ("" = none)
	// Context holds current values of fields the change does not carry
	// that decide what is sent (an activity's subject and description:
	// see FieldReader); push fills it.
	Context  map[string]string
	Attempts int  // failed attempts so far
	Unknown  bool // the last attempt's outcome is unknown: read back before re-sending
}

// Queue is the outbox as push sees it. The store implements it (StoreQueue);
// internal/memqueue is an in-memory one for tests and benchmarks.
//
// Push calls the methods from one goroutine. Every method that changes state
// must be durable when it returns (one transaction each), so that push can be
// killed at any point and resumed.
type Queue interface {
	// Pending returns up to limit changes ready to send, in journal order,
	// one per record, skipping records whose head entry is dead or waiting
	// for its backoff time.
	Pending(ctx context.Context, limit int) ([]Change, error)
	// InFlight marks changes as sent-with-unknown-outcome before the request
	// goes out (so a crash → read back first). seqs maps record id to the
	// Change.Seq being sent. The mark stays until Done or Dead.
	InFlight(ctx context.Context, seqs map[string]int64) error
	// Done removes the record's entries up to seq and stores the new ETag,
	// in one transaction. sent holds the field values the server now has
	// from this change (they may differ from the store's when cut to fit a
	// column): they become the upstream merge base. nil = the changed
	// fields' current values. For a list whose members were synced,
	// sent[SentMembers] is the JSON array of the member contact ids
	// sent: the member merge base.
	Done(ctx context.Context, recordID string, seq int64, etag string, sent map[string]string) error
	// Retry records a failed attempt: attempts+1, not before at, the error
	// text.
	Retry(ctx context.Context, recordID string, seq int64, at time.Time, msg string) error
	// Dead moves the record's head entry to the dead-letter state with the
	// server's message.
	Dead(ctx context.Context, recordID string, seq int64, msg string) error
	// Merge runs the three-way field merge with the server's current record
	// as a source ("upstream"), records conflicts, and returns the fields that
	// still differ from the server (to send with the new ETag). It also
	// rewrites the record's entries up to c.Seq into that one update with
	// the new ETag (an empty result leaves nothing to send), so that the next
	// Pending returns the merged change.
	// modifiedOn is the server version's modifiedon (zero = unknown), for
	// a policy that lets the newer change win.
	Merge(ctx context.Context, c Change, server map[string]string, etag string, modifiedOn time.Time) (map[string]string, error)
}

// FieldReader is implemented by a Queue that can read a record's current
// field values. Push uses it for an activity whose subject or description
// changed alone: a subject too long for its column goes whole at the head
// of the description, so each needs the other.
type FieldReader interface {
	CurrentFields(ctx context.Context, id string, names []string) (map[string]string, error)
}

// Dependency states: whether a record another one binds to is on the
// server.
type DepState int

// Dependency states.
const (
	DepUnknown   DepState = iota // not a record of the queue's store: it may exist upstream
	DepConfirmed                 // the server confirmed it
	DepPending                   // its create waits in the queue
	DepDead                      // its create is dead: it will not reach the server
	DepDeleted                   // deleted locally
	DepLocal                     // never queued for the server
)

// Dependencies is implemented by a Queue that can tell push about the
// records a change binds to (lookups and activity parties), so that a
// record goes out only after every record it binds to, and a bind to a
// dead or deleted record is reported for the record that binds.
type Dependencies interface {
	// Dependency returns the state of record id, and the dead entry's
	// message for DepDead.
	Dependency(ctx context.Context, id string) (DepState, string, error)
	// Defer makes the record's entries up to seq wait until at without
	// counting an attempt.
	Defer(ctx context.Context, recordID string, seq int64, at time.Time, msg string) error
}

// Sink receives pulled changes (applied with origin "upstream": never back
// into the outbox).
type Sink interface {
	// Apply merges the server's version of a record into the store.
	Apply(ctx context.Context, e crm.Entity, id string, fields map[string]string, etag string, modifiedOn time.Time) error
	// Delete removes a record the server deleted.
	Delete(ctx context.Context, e crm.Entity, id string) error
	// PullState returns where the last pull of an entity set ended.
	PullState(ctx context.Context, entitySet string) (PullMark, error)
	// SavePullState records where this pull ended.
	SavePullState(ctx context.Context, entitySet string, m PullMark) error
}

// KnownSink is a Sink that can tell which of its records of an entity
// the server held when they were last synced (pushed or pulled). Pull
// uses it to see deletes that no delta carries: a record known upstream
// that a complete listing of its entity set lacks was deleted there.
type KnownSink interface {
	Sink
	// UpstreamIDs returns the ids of the records of entity e (not
	// deleted locally) known to exist upstream.
	UpstreamIDs(ctx context.Context, e crm.Entity) ([]string, error)
}

// MemberSink is a KnownSink that takes the members of marketing lists.
// Pull reads the members of every list the sink knows upstream (one
// request per list and 5,000 members: a member change does not show in
// the list's own change tracking) and hands them over.
type MemberSink interface {
	KnownSink
	// ApplyMembers merges the contact ids the server holds as members
	// of list listID into the sink.
	ApplyMembers(ctx context.Context, listID string, contactIDs []string) (MemberPull, error)
}

// MemberPull is what MemberSink.ApplyMembers did with one list.
type MemberPull struct {
	Added, Removed int      // members added to and removed from the sink's list
	Unknown        []string // members whose contact the sink does not have: not added
}

// PullMark is where a pull of one entity set ended: the change-tracking
// delta link, or, on a server without change tracking, the newest
// modifiedon seen and the rows (id and row version) seen with exactly that
// time, so that the next pull can ask for modifiedon ge it without
// applying those rows again and without losing a row changed in the same
// second after the pull.
type PullMark struct {
	DeltaLink string
	Last      time.Time
	Seen      []string // "id etag" of the rows read whose modifiedon is Last
}
