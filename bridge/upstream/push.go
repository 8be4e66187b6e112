package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"crmbridge/crm"
)

// PushOptions tune one Push run. The zero value is ready to use.
type PushOptions struct {
	// DryRun, when not nil, receives the $batch request push would send
	// for the first batch of pending changes (Authorization redacted);
	// nothing is sent and the queue is not changed.
	DryRun io.Writer
	// Now and Sleep replace the clock in tests (Sleep returns ctx.Err()
	// when ctx ends first).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand draws backoff jitter: a value in [0, n). Default math/rand/v2.
	Rand func(n int64) int64
	// BaseBackoff and MaxBackoff bound the exponential backoff with full
	// jitter between attempts (defaults 1s and 5m).
	BaseBackoff, MaxBackoff time.Duration
	// MaxWait is how long Push waits for entries in backoff before it
	// returns and leaves them for the next run (default 2m).
	MaxWait time.Duration
	// Log receives one line per dead entry and per pause (default: none).
	Log *slog.Logger
	// Progress, when set, is called with the counts so far after each
	// batch is settled (for a progress line).
	Progress func(PushStats)
}

// PushStats counts what one Push run did.
type PushStats struct {
	Sent      int // requests sent (batch parts or single requests), retries included
	Confirmed int // changes the server confirmed (left the outbox)
	Retried   int // failed attempts scheduled again
	Dead      int // entries moved to the dead-letter state
	Conflicts int // 412/428 answers resolved by a read-back and merge
	ReadBacks int // records read back before deciding what to send
	Adjusted  int // values or parties changed to fit Dataverse (cut, left out, organizer): logged, the store keeps them
	// MembersAdded and MembersRemoved count list members added to and
	// removed from lists on the server.
	MembersAdded, MembersRemoved int
	Deferred                     int // changes held back until a record they bind to is confirmed
	Paused                       time.Duration
	// DeadReasons counts this run's dead entries by reason (DeadReason).
	DeadReasons map[string]int
}

// DeadReason classifies a dead entry's message for a summary: the HTTP
// status with the server's error code ("400 Bad Request 0x80044331"),
// "binds to a dead record" and the like, "encode", or "network".
func DeadReason(msg string) string {
	switch {
	case strings.HasPrefix(msg, "binds to "):
		switch {
		case strings.Contains(msg, "whose own change is dead"):
			return "binds to a dead record"
		case strings.Contains(msg, "which was deleted"):
			return "binds to a deleted record"
		}
		return "binds to a record never queued"
	case strings.HasPrefix(msg, "encode: "):
		return "encode"
	}
	msg = strings.TrimPrefix(msg, "read back: ")
	f := strings.Fields(msg)
	if len(f) > 0 && len(f[0]) == 3 && f[0][0] >= '1' && f[0][0] <= '5' {
		if n, err := strconv.Atoi(f[0]); err == nil {
			r := f[0] + " " + http.StatusText(n)
			if i := strings.Index(msg, ": 0x"); i >= 0 {
				code, _, _ := strings.Cut(msg[i+2:], ":")
				r += " " + code
			}
			return r
		}
	}
	return "network"
}

func (s PushStats) String() string {
	return fmt.Sprintf("sent %d, confirmed %d, retried %d, dead %d, conflicts %d, read back %d, adjusted %d",
		s.Sent, s.Confirmed, s.Retried, s.Dead, s.Conflicts, s.ReadBacks, s.Adjusted)
}

// ErrAuth means the server refused the credentials for a whole batch
// (401/403): push stops, nothing is dead-lettered.
var ErrAuth = errors.New("upstream: authentication refused")

// maxConflictRounds bounds how often one record is read back and merged in
// one run after 412 answers before it waits for backoff like any failure.
const maxConflictRounds = 5

// maxReadBacksPerRound bounds the records read back before the changes
// ready so far are sent: what a read-back learns is kept only once the
// change it decided is confirmed, so a push that is interrupted again and
// again must still get some of them out.
const maxReadBacksPerRound = 4

// item is one change about to be sent.
type item struct {
	ch     Change
	op     Op
	fields map[string]string
	sent   map[string]string // the values the body sends (fields fitted to the server's rules)
	deps   []string          // records the body binds to
	etag   string
	req    Request
}

type pusher struct {
	c     *Client
	q     Queue
	o     PushOptions
	stats PushStats

	batch, maxAttempts int
	pauseUntil         time.Time
	waiting            map[string]time.Time // records we scheduled for a retry
	known              map[string]int64     // record → seq whose last outcome is known not applied
	conflicts          map[string]int
}

// Push replays the queue's pending changes upstream until none is ready,
// in batches of the configured size, and returns what it did. It follows
// the rules in the package doc: an entry leaves the queue only after the
// server confirmed it; an unknown outcome or a failed create is read back
// before anything is sent again; 412 on an update is merged and retried
// with the new ETag; 429 and 503 pause all sending for Retry-After; other
// 5xx and network errors back off exponentially with full jitter up to
// MaxAttempts, then the entry is dead; 400, 401, 403, 404 on an update and
// 422 are dead at once with the server's message.
//
// Entries waiting for a backoff shorter than MaxWait are waited for; later
// ones are left for the next run. Push returns ctx's error when it is
// cancelled; it can be interrupted at any point and run again.
func (c *Client) Push(ctx context.Context, q Queue, o PushOptions) (PushStats, error) {
	p := &pusher{c: c, q: q, o: o, batch: c.cfg.batchSize(), maxAttempts: c.cfg.maxAttempts(),
		waiting: map[string]time.Time{}, known: map[string]int64{}, conflicts: map[string]int{}}
	if p.o.Now == nil {
		p.o.Now = time.Now
	}
	if p.o.Sleep == nil {
		p.o.Sleep = sleepCtx
	}
	if p.o.Rand == nil {
		p.o.Rand = rand.Int64N
	}
	if p.o.BaseBackoff <= 0 {
		p.o.BaseBackoff = time.Second
	}
	if p.o.MaxBackoff <= 0 {
		p.o.MaxBackoff = 5 * time.Minute
	}
	if p.o.MaxWait <= 0 {
		p.o.MaxWait = 2 * time.Minute
	}
	if p.o.Log == nil {
		p.o.Log = slog.New(slog.DiscardHandler)
	}
	if k, ok := q.(Cache); ok && c.cache == nil {
		c.cache = k // the outbox's store keeps what we learn about the server
	}
	if o.DryRun != nil {
		c.offline = true
		defer func() { c.offline = false }()
		return p.stats, p.dryRun(ctx)
	}
	err := p.run(ctx)
	return p.stats, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (p *pusher) run(ctx context.Context) error {
	idle := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if d := p.pauseUntil.Sub(p.o.Now()); d > 0 {
			p.stats.Paused += d
			if err := p.o.Sleep(ctx, d); err != nil {
				return err
			}
		}
		changes, err := p.q.Pending(ctx, p.batch)
		if err != nil {
			return fmt.Errorf("pending changes: %w", err)
		}
		if len(changes) == 0 {
			// Nothing ready: wait for the earliest retry we scheduled,
			// unless it is too far off or the queue no longer offers it.
			var next time.Time
			for _, at := range p.waiting {
				if next.IsZero() || at.Before(next) {
					next = at
				}
			}
			now := p.o.Now()
			if next.IsZero() || next.Sub(now) > p.o.MaxWait || idle > 1 {
				return nil
			}
			idle++
			if err := p.o.Sleep(ctx, next.Sub(now)); err != nil {
				return err
			}
			continue
		}
		idle = 0
		items := make([]*item, 0, len(changes))
		reads := p.stats.ReadBacks
		for _, ch := range changes {
			if p.stats.ReadBacks-reads >= maxReadBacksPerRound && len(items) > 0 {
				// Send what is ready before reading more back: a run cut
				// short keeps what it learned as confirmed changes.
				break
			}
			delete(p.waiting, ch.RecordID)
			it, err := p.prepare(ctx, ch)
			if err != nil {
				return err
			}
			if it != nil {
				items = append(items, it)
			}
			if p.pauseUntil.After(p.o.Now()) {
				break // throttled while reading back: send nothing now
			}
		}
		if items, err = p.order(ctx, items); err != nil {
			return err
		}
		if len(items) == 0 || p.pauseUntil.After(p.o.Now()) {
			continue
		}
		if err := p.send(ctx, items); err != nil {
			return err
		}
		if p.o.Progress != nil {
			p.o.Progress(p.stats)
		}
	}
}

// prepare decides what to send for ch, reading the record back first when
// the last outcome is unknown, a create failed before, or an update has no
// ETag. It returns nil when nothing is to be sent now.
func (p *pusher) prepare(ctx context.Context, ch Change) (*item, error) {
	if err := p.addContext(ctx, &ch); err != nil {
		return nil, err
	}
	unknown := ch.Unknown && p.known[ch.RecordID] != ch.Seq
	needRead := unknown || (ch.Op == OpCreate && ch.Attempts > 0) || (ch.Op == OpUpdate && ch.ETag == "")
	if !needRead {
		if ch.Entity == crm.List && ch.Op == OpUpdate && len(ch.Fields) == 0 && ch.Members != nil {
			// Only the members changed: no PATCH of the list itself, but
			// every member contact must be on the server first.
			it := &item{ch: ch, op: OpUpdate, deps: memberDeps(ch)}
			if v, err := p.depsVerdict(ctx, it, nil, nil); err != nil || v == depsHandled {
				return nil, err
			}
			return nil, p.done(ctx, ch, ch.ETag, map[string]string{})
		}
		return p.item(ctx, ch, ch.Op, ch.Fields, ch.ETag)
	}
	return p.readBack(ctx, ch)
}

func (p *pusher) item(ctx context.Context, ch Change, op Op, fields map[string]string, etag string) (*item, error) {
	it := &item{ch: ch, op: op, fields: fields, etag: etag}
	cr, err := p.c.changeRequest(ctx, ch, op, fields, etag)
	req, sent, notes := cr.Request, cr.sent, cr.notes
	it.deps = cr.deps
	if errors.Is(err, errTransient) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, p.retry(ctx, ch, err.Error())
	}
	if err != nil {
		// Our own data cannot be encoded: no retry will help.
		return nil, p.dead(ctx, ch, "encode: "+err.Error())
	}
	for _, n := range notes {
		p.stats.Adjusted++
		p.o.Log.Warn("push: "+n, "id", ch.RecordID)
	}
	it.sent = sent
	if it.sent == nil && op != OpDelete {
		it.sent = map[string]string{}
	}
	if desc, ok := it.sent["description"]; ok && ch.Entity.IsActivity() {
		// The merge base is the description without the subject placed
		// at its head (pull takes it off the same way), so that an edit
		// upstream below it is not taken for a conflict.
		subj, ok := fields["subject"]
		if !ok {
			subj = ch.Context["subject"]
		}
		if subjectTooLong(subj, p.c.maxLengths(ctx, ch.Entity)) {
			it.sent = maps.Clone(it.sent)
			it.sent["description"] = crm.SplitSubject(subj, desc)
		}
	}
	if op != OpDelete {
		// Ask for the record back, so the new ETag comes with the answer.
		req.Header.Set("Prefer", "return=representation")
	}
	it.req = req
	return it, nil
}

// addContext reads into ch.Context the store's subject or description
// when an activity's change carries only the other (see fit).
func (p *pusher) addContext(ctx context.Context, ch *Change) error {
	fr, ok := p.q.(FieldReader)
	if !ok || !ch.Entity.IsActivity() || ch.Op == OpDelete {
		return nil
	}
	_, s := ch.Fields["subject"]
	_, d := ch.Fields["description"]
	if s == d {
		return nil
	}
	cur, err := fr.CurrentFields(ctx, ch.RecordID, subjectContext)
	if err != nil {
		return fmt.Errorf("fields of %s %s: %w", ch.Entity, ch.RecordID, err)
	}
	ch.Context = cur
	return nil
}

// readBack reads ch's record from the server and decides: done, dead, or
// what to send with which ETag.
func (p *pusher) readBack(ctx context.Context, ch Change) (*item, error) {
	p.stats.ReadBacks++
	rctx, cancel := context.WithTimeout(ctx, p.c.cfg.timeout())
	rec, err := p.c.Get(rctx, ch.Entity, ch.RecordID)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var se *StatusError
		if errors.As(err, &se) {
			return nil, p.failed(ctx, ch, &se.Response, "read back: ")
		}
		return nil, p.retry(ctx, ch, "read back: "+err.Error())
	}
	p.known[ch.RecordID] = ch.Seq
	if !rec.Found {
		switch ch.Op {
		case OpCreate:
			return p.item(ctx, ch, OpCreate, ch.Fields, "")
		case OpDelete:
			return nil, p.done(ctx, ch, "", nil)
		}
		return nil, p.dead(ctx, ch, "404 Not Found: the record does not exist upstream")
	}
	if ch.Op == OpDelete {
		return p.item(ctx, ch, OpDelete, nil, "")
	}
	if ch.Op == OpUpdate && ch.ETag != "" && rec.ETag == ch.ETag {
		// The server has not changed since our last confirmed write: the
		// update was not applied. Send it as it is.
		return p.item(ctx, ch, OpUpdate, ch.Fields, ch.ETag)
	}
	fields, err := p.q.Merge(ctx, ch, rec.Fields, rec.ETag, rec.ModifiedOn)
	if err != nil {
		return nil, fmt.Errorf("merge %s %s: %w", ch.Entity, ch.RecordID, err)
	}
	// The merge may have taken the server's subject or description: the
	// store values read before it would send the old one back over the
	// server's change.
	ch.Context = nil
	if err := p.addContext(ctx, &ch); err != nil {
		return nil, err
	}
	// A value the server holds cut to fit (or never got: a date Dataverse
	// cannot hold) is what we would send: nothing to do for it.
	fitted, _ := p.c.fit(ctx, ch.Entity, fields, ch.Context)
	for k := range fields {
		if v, ok := fitted[k]; !ok || v == rec.Fields[k] {
			delete(fields, k)
		}
	}
	if ch.Parties != nil && (partyRoles[ch.Entity] == nil || rec.HasParties && p.sameParties(ctx, ch, rec.Parties)) {
		ch.Parties = nil
	}
	if len(fields) == 0 && ch.Parties == nil {
		return nil, p.done(ctx, ch, rec.ETag, map[string]string{})
	}
	ch.ETag = rec.ETag
	return p.item(ctx, ch, OpUpdate, fields, rec.ETag)
}

// send sends items as one $batch (or, with batch size 1, as one plain
// request) and settles each answer.
func (p *pusher) send(ctx context.Context, items []*item) error {
	seqs := make(map[string]int64, len(items))
	for _, it := range items {
		seqs[it.ch.RecordID] = it.ch.Seq
	}
	if err := p.q.InFlight(ctx, seqs); err != nil {
		return fmt.Errorf("mark in flight: %w", err)
	}
	for _, it := range items {
		delete(p.known, it.ch.RecordID)
	}
	p.stats.Sent += len(items)
	rctx, cancel := context.WithTimeout(ctx, p.c.cfg.timeout())
	defer cancel()
	if p.batch == 1 || len(items) == 1 {
		for _, it := range items {
			resp, err := p.c.Do(rctx, it.req)
			if err := p.settle(ctx, it, resp, err); err != nil {
				return err
			}
		}
		return nil
	}
	reqs := make([]Request, len(items))
	for i, it := range items {
		reqs[i] = it.req
	}
	resps, err := p.c.Batch(rctx, reqs)
	var be *BatchError
	if errors.As(err, &be) {
		switch {
		case be.Status == http.StatusTooManyRequests || be.Status == http.StatusServiceUnavailable:
			p.pause(&be.Response)
			if notApplied(&be.Response) {
				for _, it := range items {
					p.known[it.ch.RecordID] = it.ch.Seq
				}
			}
			return nil
		case be.Status < 400:
			// A success status without a multipart body: the outcome of
			// every part is unknown.
			for _, it := range items {
				if err := p.retry(ctx, it.ch, be.Error()+": not a multipart answer"); err != nil {
					return err
				}
			}
			return nil
		case be.Status == http.StatusUnauthorized || be.Status == http.StatusForbidden:
			return fmt.Errorf("%w: %s", ErrAuth, be.ErrorMessage())
		case be.Status >= 400 && be.Status < 500:
			// The batch as a whole was refused (a bad part makes some
			// servers reject everything): send each change on its own so
			// that only the bad one fails.
			for _, it := range items {
				resp, err := p.c.Do(rctx, it.req)
				if err := p.settle(ctx, it, resp, err); err != nil {
					return err
				}
			}
			return nil
		}
		for _, it := range items {
			if err := p.failed(ctx, it.ch, &be.Response, ""); err != nil {
				return err
			}
		}
		return nil
	}
	for i, it := range items {
		if i < len(resps) {
			if err := p.settle(ctx, it, &resps[i], nil); err != nil {
				return err
			}
			continue
		}
		// No answer for this part: the outcome is unknown.
		msg := "no answer in the batch response"
		if err != nil {
			msg = err.Error()
		}
		if err := p.settle(ctx, it, nil, errors.New(msg)); err != nil {
			return err
		}
	}
	return nil
}

// settle records the outcome of one sent change.
func (p *pusher) settle(ctx context.Context, it *item, resp *Response, err error) error {
	ch := it.ch
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Unknown outcome: the queue keeps the in-flight mark, so the next
		// attempt reads the record back first.
		return p.retry(ctx, ch, err.Error())
	}
	switch s := resp.Status; {
	case s >= 200 && s < 300:
		return p.done(ctx, ch, responseETag(resp), it.sent)
	case s == http.StatusNotFound && it.op == OpDelete:
		return p.done(ctx, ch, "", nil)
	case s == http.StatusPreconditionFailed && it.op == OpDelete:
		// If-Match: * on a record that is gone: read back to be sure.
		next, err := p.readBack(ctx, ch)
		if err != nil || next == nil {
			return err
		}
		return p.retry(ctx, ch, resp.ErrorMessage())
	case s == http.StatusPreconditionFailed || s == http.StatusPreconditionRequired ||
		(it.op == OpCreate && s >= 500 && s != http.StatusServiceUnavailable):
		// 412: an update's ETag is stale (someone changed the record) or a
		// create-only upsert found the record (Dataverse). CAP answers the
		// latter with 500 and an update without If-Match with 428. In
		// every case: read back, merge, and let the next round send the
		// merged change with the new ETag.
		p.known[ch.RecordID] = ch.Seq
		p.conflicts[ch.RecordID]++
		if p.conflicts[ch.RecordID] > maxConflictRounds {
			return p.failed(ctx, ch, resp, "")
		}
		if s == http.StatusPreconditionFailed && it.op == OpUpdate {
			p.stats.Conflicts++
		}
		next, err := p.readBack(ctx, ch)
		if err != nil || next == nil {
			return err
		}
		if next.op == OpCreate {
			// The create failed and the record is not there: a real
			// failure, retried after a backoff.
			return p.retry(ctx, ch, resp.ErrorMessage())
		}
		// The merged change goes out in a later round: the queue now holds
		// it with the new ETag.
		p.known[ch.RecordID] = next.ch.Seq
		return nil
	case s == http.StatusNotFound && it.op != OpDelete && len(it.deps) > 0:
		// A bind to a row the server does not have (Dataverse: 404 for the
		// record bound to). Wait for it when it is still on its way.
		if ok, err := p.depsSettled(ctx, it, nil, nil); err != nil || !ok {
			return err
		}
		return p.dead(ctx, ch, resp.ErrorMessage()+" (binds to "+strings.Join(it.deps, ", ")+")")
	}
	return p.failed(ctx, ch, resp, "")
}

// verdicts of depsSettled.
const (
	depsReady = iota
	depsWaitInBatch
	depsHandled // deferred or dead-lettered
)

// order returns items to send in an order where every record comes after
// the records it binds to that are in the same batch (Dataverse runs a
// batch's change sets in order, so the bind finds the row). A record
// binding to one that waits in the queue outside this batch is deferred;
// one binding to a dead, deleted or never queued record is dead with a
// message naming it.
func (p *pusher) order(ctx context.Context, items []*item) ([]*item, error) {
	if _, ok := p.q.(Dependencies); !ok {
		return items, nil
	}
	inBatch := map[string]bool{}
	for _, it := range items {
		if it.op != OpDelete { // a bind to a record being deleted is refused below
			inBatch[it.ch.RecordID] = true
		}
	}
	placed := map[string]bool{}
	out := make([]*item, 0, len(items))
	for remaining := items; len(remaining) > 0; {
		var next []*item
		progress := false
		for _, it := range remaining {
			v, err := p.depsVerdict(ctx, it, placed, inBatch)
			if err != nil {
				return nil, err
			}
			switch v {
			case depsReady:
				out = append(out, it)
				if it.op != OpDelete {
					placed[it.ch.RecordID] = true
				}
				progress = true
			case depsWaitInBatch:
				next = append(next, it)
			default:
				delete(inBatch, it.ch.RecordID)
				progress = true
			}
		}
		if !progress {
			// A cycle of binds: send in journal order; the server decides.
			return append(out, next...), nil
		}
		remaining = next
	}
	return out, nil
}

// depsSettled reports whether every record it binds to is on the server,
// deferring it or dead-lettering it otherwise (see order). placed and
// inBatch are nil after the batch was sent.
func (p *pusher) depsSettled(ctx context.Context, it *item, placed, inBatch map[string]bool) (bool, error) {
	v, err := p.depsVerdict(ctx, it, placed, inBatch)
	return v == depsReady, err
}

func (p *pusher) depsVerdict(ctx context.Context, it *item, placed, inBatch map[string]bool) (int, error) {
	dq, ok := p.q.(Dependencies)
	if !ok || it.op == OpDelete {
		return depsReady, nil
	}
	wait := false
	for _, dep := range it.deps {
		if dep == it.ch.RecordID || placed[dep] {
			continue
		}
		if inBatch[dep] {
			wait = true
			continue
		}
		st, msg, err := dq.Dependency(ctx, dep)
		if err != nil {
			return 0, fmt.Errorf("dependency of %s: %w", it.ch.RecordID, err)
		}
		switch st {
		case DepPending:
			at := p.o.Now().Add(p.o.BaseBackoff)
			if at.Before(p.pauseUntil) {
				at = p.pauseUntil
			}
			if err := dq.Defer(ctx, it.ch.RecordID, it.ch.Seq, at, "waits for "+dep+", which it binds to, to reach the server"); err != nil {
				return 0, fmt.Errorf("defer %s: %w", it.ch.RecordID, err)
			}
			p.waiting[it.ch.RecordID] = at
			p.stats.Deferred++
			return depsHandled, nil
		case DepDead:
			return depsHandled, p.dead(ctx, it.ch, "binds to "+dep+", whose own change is dead: "+msg)
		case DepDeleted:
			return depsHandled, p.dead(ctx, it.ch, "binds to "+dep+", which was deleted")
		case DepLocal:
			return depsHandled, p.dead(ctx, it.ch, "binds to "+dep+", which was never queued for the server")
		}
	}
	if wait {
		return depsWaitInBatch, nil
	}
	return depsReady, nil
}

// failed settles an error answer that is not a conflict.
func (p *pusher) failed(ctx context.Context, ch Change, resp *Response, prefix string) error {
	switch s := resp.Status; {
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		p.pause(resp)
		if notApplied(resp) {
			p.known[ch.RecordID] = ch.Seq
		}
		return nil
	case s >= 500 || s == http.StatusRequestTimeout || s == http.StatusConflict ||
		s == http.StatusPreconditionFailed || s == http.StatusPreconditionRequired:
		return p.retry(ctx, ch, prefix+resp.ErrorMessage())
	}
	// 400, 401, 403, 404 on an update, 422 and any other 4xx: permanent.
	return p.dead(ctx, ch, prefix+resp.ErrorMessage())
}

// memberDeps returns the member contacts of list change ch: the records
// its member requests bind to.
func memberDeps(ch Change) []string {
	var out []string
	for _, m := range ch.Members {
		if m.ContactID != "" {
			out = append(out, strings.ToLower(m.ContactID))
		}
	}
	return out
}

// sameParties reports whether the server's parties are those push would
// send for ch.
func (p *pusher) sameParties(ctx context.Context, ch Change, server []crm.Party) bool {
	ws, _, err := p.c.parties(ctx, ch.Entity, ch.Parties)
	if err != nil {
		return false
	}
	ours := make([]crm.Party, len(ws))
	for i, w := range ws {
		ours[i] = w.party()
	}
	return SameParties(ours, server)
}

func (p *pusher) done(ctx context.Context, ch Change, etag string, sent map[string]string) error {
	if ch.Entity == crm.List && ch.Members != nil && ch.Op != OpDelete {
		// The list is on the server: now its members. The entry stays
		// until they are, so a failure is retried from the top (SyncMembers
		// starts from the server's members, so a replay is harmless).
		ids, ok, err := p.syncMembers(ctx, ch)
		if err != nil || !ok {
			return err
		}
		if ids != nil {
			sent = maps.Clone(sent)
			if sent == nil {
				sent = map[string]string{}
			}
			js, _ := json.Marshal(ids)
			sent[SentMembers] = string(js)
		}
	}
	if err := p.q.Done(ctx, ch.RecordID, ch.Seq, etag, sent); err != nil {
		return fmt.Errorf("confirm %s %s: %w", ch.Entity, ch.RecordID, err)
	}
	delete(p.known, ch.RecordID)
	delete(p.conflicts, ch.RecordID)
	p.stats.Confirmed++
	return nil
}

func (p *pusher) dead(ctx context.Context, ch Change, msg string) error {
	if err := p.q.Dead(ctx, ch.RecordID, ch.Seq, msg); err != nil {
		return fmt.Errorf("dead-letter %s %s: %w", ch.Entity, ch.RecordID, err)
	}
	p.stats.Dead++
	if p.stats.DeadReasons == nil {
		p.stats.DeadReasons = map[string]int{}
	}
	p.stats.DeadReasons[DeadReason(msg)]++
	p.o.Log.Warn("push: entry dead", "entity", string(ch.Entity), "id", ch.RecordID, "error", msg)
	return nil
}

// retry schedules another attempt after an exponential backoff with full
// jitter, or moves the entry to the dead letters after MaxAttempts.
func (p *pusher) retry(ctx context.Context, ch Change, msg string) error {
	if ch.Attempts+1 >= p.maxAttempts {
		return p.dead(ctx, ch, fmt.Sprintf("%s (after %d attempts)", msg, ch.Attempts+1))
	}
	ceil := p.o.BaseBackoff << min(ch.Attempts, 30)
	if ceil > p.o.MaxBackoff || ceil <= 0 {
		ceil = p.o.MaxBackoff
	}
	at := p.o.Now().Add(time.Duration(p.o.Rand(int64(ceil)) + 1))
	if at.Before(p.pauseUntil) {
		at = p.pauseUntil
	}
	if err := p.q.Retry(ctx, ch.RecordID, ch.Seq, at, msg); err != nil {
		return fmt.Errorf("schedule retry of %s %s: %w", ch.Entity, ch.RecordID, err)
	}
	p.waiting[ch.RecordID] = at
	p.stats.Retried++
	return nil
}

// notApplied reports whether a 429 or 503 answer means the request was not
// applied, so that it can be sent again without reading the record back
// first. Dataverse's service protection limits answer 429 before running
// the request; a 503 that carries the server's own OData error body
// ({"error":{"code":…}}) comes from the service that refused it. A 503
// without one (an HTML page from a gateway or load balancer) may have been
// forwarded: its outcome is unknown, like a timeout or a 500/502/504.
func notApplied(r *Response) bool {
	switch r.Status {
	case http.StatusTooManyRequests:
		return true
	case http.StatusServiceUnavailable:
		var e struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		return json.Unmarshal(r.Body, &e) == nil && e.Error != nil && (e.Error.Code != "" || e.Error.Message != "")
	}
	return false
}

// pause stops all sending until the response's Retry-After (Dataverse's
// service protection limits: retrying early lengthens the wait).
func (p *pusher) pause(resp *Response) {
	d := retryAfter(resp.Header.Get("Retry-After"), p.o.Now())
	if d <= 0 {
		d = p.o.BaseBackoff
	}
	if until := p.o.Now().Add(d); until.After(p.pauseUntil) {
		p.pauseUntil = until
		p.o.Log.Info("push: server asks to wait", "status", resp.Status, "for", d)
	}
}

// retryAfter parses a Retry-After value (seconds or an HTTP date), capped
// at one hour.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		d = time.Duration(n * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}

// responseETag returns the ETag of a successful write: the ETag header, or
// the @odata.etag of the returned representation.
func responseETag(r *Response) string {
	if r.Header != nil {
		if e := r.Header.Get("ETag"); e != "" {
			return e
		}
	}
	i := strings.Index(string(r.Body), `"@odata.etag"`)
	if i < 0 {
		return ""
	}
	_, etag, _, _ := DecodeRecord("", decodeObject(r.Body))
	return etag
}

// dryRun writes the $batch request of the first batch of pending changes.
func (p *pusher) dryRun(ctx context.Context) error {
	changes, err := p.q.Pending(ctx, p.batch)
	if err != nil {
		return fmt.Errorf("pending changes: %w", err)
	}
	var reqs []Request
	w := p.o.DryRun
	for _, ch := range changes {
		op, etag := ch.Op, ch.ETag
		if op == OpUpdate && etag == "" {
			etag = "<ETag read back first>"
		}
		req, err := p.c.ChangeRequest(ctx, ch, op, ch.Fields, etag)
		if err != nil {
			fmt.Fprintf(w, "# %s %s %s: would be dead: %v\n", ch.Op, ch.Entity, ch.RecordID, err)
			continue
		}
		if ch.Unknown || (ch.Op == OpCreate && ch.Attempts > 0) || (ch.Op == OpUpdate && ch.ETag == "") {
			fmt.Fprintf(w, "# %s %s %s: would be read back first (GET %s)\n", ch.Op, ch.Entity, ch.RecordID, req.Path)
		}
		reqs = append(reqs, req)
	}
	fmt.Fprintf(w, "# %d change(s) pending in this batch\n", len(changes))
	if len(reqs) == 0 {
		return nil
	}
	return p.c.WriteBatchRequest(w, reqs)
}

// syncMembers brings the server's members of list ch to its members that
// resolve to a contact, from the member merge base (SyncMembers); members
// known only by address are reported (a warning each, counted as
// adjusted) and not sent. It returns the contact ids synced (nil when the
// server has no members), and false when the change was retried,
// dead-lettered or paused instead.
func (p *pusher) syncMembers(ctx context.Context, ch Change) ([]string, bool, error) {
	if _, dataverse, err := p.c.whoAmI(ctx); err != nil {
		return nil, false, p.retry(ctx, ch, err.Error())
	} else if !dataverse {
		// A plain OData service (CAP) has no list member actions.
		p.o.Log.Warn("push: the server has no list members: members not sent", "id", ch.RecordID)
		return nil, true, nil
	}
	ids := []string{}
	for _, m := range ch.Members {
		if m.ContactID == "" {
			p.stats.Adjusted++
			p.o.Log.Warn("push: list member is no contact: not sent", "id", ch.RecordID, "address", m.Address)
			continue
		}
		ids = append(ids, strings.ToLower(m.ContactID))
	}
	rctx, cancel := context.WithTimeout(ctx, p.c.cfg.timeout())
	st, err := p.c.SyncMembers(rctx, ch.RecordID, ids, ch.MemberBase)
	cancel()
	if err == nil {
		p.stats.MembersAdded += st.Added
		p.stats.MembersRemoved += st.Removed
		return ids, true, nil
	}
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	var se *StatusError
	if errors.As(err, &se) {
		return nil, false, p.failed(ctx, ch, &se.Response, "members: ")
	}
	return nil, false, p.retry(ctx, ch, "members: "+err.Error())
}
