package upstream_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"crmbridge/bridge/upstream"
	"crmbridge/bridge/upstream/internal/memqueue"
	"crmbridge/crm"
	"crmbridge/internal/fakeserver"
)

// recorder wraps a doer and records each request's method, path and the
// fake clock's time.
type recorder struct {
	mu    sync.Mutex
	next  upstream.HTTPDoer
	clock *fakeClock
	reqs  []string
	times []time.Time
	meta  []string
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	if p := req.URL.Path; strings.Contains(p, "/EntityDefinitions(") || strings.HasSuffix(p, "/WhoAmI") || strings.Contains(p, "/systemusers(") {
		r.meta = append(r.meta, req.Method+" "+p) // what push asks about the server, not about records
	} else {
		r.reqs = append(r.reqs, req.Method+" "+p)
		r.times = append(r.times, r.clock.Now())
	}
	r.mu.Unlock()
	return r.next.Do(req)
}

func recordedEnv(t *testing.T, style fakeserver.Style, mod func(*upstream.Config, *fakeserver.Server)) (*env, *recorder) {
	e := newEnv(t, style, mod)
	rec := &recorder{next: &http.Client{}, clock: e.clock}
	c, err := upstream.NewClient(e.cfg, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e, rec
}

// onceFault injects f on the first call matching match.
func onceFault(f fakeserver.Fault, match func(fakeserver.Call) bool) func(fakeserver.Call) fakeserver.Fault {
	done := false
	return func(c fakeserver.Call) fakeserver.Fault {
		if !done && match(c) {
			done = true
			return f
		}
		return fakeserver.None
	}
}

// anyCall matches any request about records.
func anyCall(c fakeserver.Call) bool { return !c.Meta }

// TestUnknownOutcomeReadsBack: the server applies a batch and drops the
// connection; the next attempt must GET each record before sending, and
// send nothing that was applied.
func TestUnknownOutcomeReadsBack(t *testing.T) {
	for _, style := range []fakeserver.Style{fakeserver.Dataverse, fakeserver.CAP} {
		e, rec := recordedEnv(t, style, func(c *upstream.Config, s *fakeserver.Server) {
			s.Inject = onceFault(fakeserver.DropAfter, anyCall)
		})
		q := e.queue()
		q.Add(crm.Contact, guid(1), upstream.OpCreate, map[string]string{"lastname": "Lay"}, nil)
		q.Add(crm.Account, guid(2), upstream.OpCreate, map[string]string{"name": "Enron"}, nil)
		st, err := e.client.Push(context.Background(), q, e.opts())
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"POST " + fakeserver.Root + "$batch", "GET " + fakeserver.Root + "contacts(" + guid(1) + ")",
			"GET " + fakeserver.Root + "accounts(" + guid(2) + ")"}
		sort.Strings(rec.reqs[1:])
		sort.Strings(want[1:])
		if strings.Join(rec.reqs, "\n") != strings.Join(want, "\n") {
			t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(rec.reqs, "\n"), strings.Join(want, "\n"))
		}
		if q.Len() != 0 || st.Confirmed != 2 || st.ReadBacks != 2 || st.Retried != 2 {
			t.Errorf("left %d, stats %+v", q.Len(), st)
		}
		if e.srv.Creates(guid(1)) != 1 || e.srv.Creates(guid(2)) != 1 {
			t.Errorf("creates %d %d", e.srv.Creates(guid(1)), e.srv.Creates(guid(2)))
		}
		if q.ETag(guid(1)) == "" {
			t.Errorf("no ETag stored after read-back")
		}
	}
}

// TestSlowAnswerTimesOut: an answer slower than the timeout is an unknown
// outcome; the record is read back, not created twice.
func TestSlowAnswerTimesOut(t *testing.T) {
	e, rec := recordedEnv(t, fakeserver.Dataverse, func(c *upstream.Config, s *fakeserver.Server) {
		c.Timeout = 100 * time.Millisecond
		s.SlowDelay = 400 * time.Millisecond
		s.Inject = onceFault(fakeserver.Slow, anyCall)
	})
	q := e.queue()
	q.Add(crm.Task, guid(7), upstream.OpCreate, map[string]string{"subject": "call Ken"}, nil)
	st, err := e.client.Push(context.Background(), q, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 || st.ReadBacks != 1 || e.srv.Creates(guid(7)) != 1 || len(rec.reqs) != 2 {
		t.Errorf("left %d, stats %+v, creates %d, requests %v", q.Len(), st, e.srv.Creates(guid(7)), rec.reqs)
	}
}

// TestConflict: a 412 on an update reads the record back and merges;
// a field only the server changed is kept, a field both changed follows
// the policy.
func TestConflict(t *testing.T) {
	for _, pol := range []memqueue.Policy{memqueue.LocalWins, memqueue.UpstreamWins} {
		e := newEnv(t, fakeserver.CAP, nil)
		q := e.queue()
		q.Policy = pol
		id := guid(3)
		q.Add(crm.Contact, id, upstream.OpCreate, map[string]string{"firstname": "Andy", "lastname": "Fastow", "jobtitle": "CFO"}, nil)
		if _, err := e.client.Push(context.Background(), q, e.opts()); err != nil {
			t.Fatal(err)
		}
		e.srv.Touch("contacts", id, "jobtitle", "ex-CFO")     // both change jobtitle
		e.srv.Touch("contacts", id, "telephone1", "555-0100") // only the server
		q.Add(crm.Contact, id, upstream.OpUpdate, map[string]string{"jobtitle": "Chief Financial Officer", "firstname": "Andrew"}, nil)
		st, err := e.client.Push(context.Background(), q, e.opts())
		if err != nil {
			t.Fatal(err)
		}
		r, _ := e.srv.Record("contacts", id)
		wantJob := map[memqueue.Policy]string{memqueue.LocalWins: "Chief Financial Officer", memqueue.UpstreamWins: "ex-CFO"}[pol]
		if r.Fields["jobtitle"] != wantJob || r.Fields["telephone1"] != "555-0100" || r.Fields["firstname"] != "Andrew" {
			t.Errorf("policy %d: server has %v", pol, r.Fields)
		}
		cs := q.Conflicts()
		if len(cs) != 1 || cs[0].Field != "jobtitle" || cs[0].Upstream != "ex-CFO" || cs[0].Base != "CFO" {
			t.Errorf("conflicts %+v", cs)
		}
		if st.Conflicts != 1 || q.Len() != 0 || q.ETag(id) != `W/"`+strconv.FormatInt(r.Version, 10)+`"` {
			t.Errorf("stats %+v, left %d, etag %q (server v%d)", st, q.Len(), q.ETag(id), r.Version)
		}
	}
}

// stubDoer answers every request with the given status and body.
type stubDoer struct {
	status int
	header http.Header
	body   string
	n      int
}

func (d *stubDoer) Do(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/EntityDefinitions(") {
		// No metadata here: push uses its built-in column limits.
		return &http.Response{StatusCode: 404, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(""))}, nil
	}
	d.n++
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
	}
	h := d.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: d.status, Header: h, Body: io.NopCloser(strings.NewReader(d.body))}, nil
}

// TestStatusOutcomes: what each answer to a single request does to the
// entry.
func TestStatusOutcomes(t *testing.T) {
	errBody := `{"error":{"code":"0x80040203","message":"Invalid argument."}}`
	tests := []struct {
		status  int
		op      upstream.Op
		header  http.Header
		outcome string // "done", "dead", "retry", "pause"
	}{
		{200, upstream.OpUpdate, nil, "done"},
		{204, upstream.OpDelete, nil, "done"},
		{404, upstream.OpDelete, nil, "done"},
		{400, upstream.OpUpdate, nil, "dead"},
		{401, upstream.OpUpdate, nil, "dead"},
		{403, upstream.OpCreate, nil, "dead"},
		{404, upstream.OpUpdate, nil, "dead"},
		{422, upstream.OpUpdate, nil, "dead"},
		{500, upstream.OpUpdate, nil, "retry"},
		{502, upstream.OpDelete, nil, "retry"},
		{409, upstream.OpUpdate, nil, "retry"},
		{429, upstream.OpUpdate, http.Header{"Retry-After": {"30"}}, "pause"},
		{503, upstream.OpUpdate, http.Header{"Retry-After": {"30"}}, "pause"},
	}
	for _, tc := range tests {
		d := &stubDoer{status: tc.status, header: tc.header, body: errBody}
		cfg := upstream.Config{BaseURL: "https://org.example.com/api/data/v9.2/", TokenEnv: "CRMBRIDGE_TEST_TOKEN", BatchSize: 1, MaxAttempts: 5}
		t.Setenv("CRMBRIDGE_TEST_TOKEN", testToken)
		c, err := upstream.NewClient(cfg, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		clock := newFakeClock()
		q := memqueue.New()
		q.Now = clock.Now
		id := guid(9)
		q.SetKnown(crm.Contact, id, `W/"1"`, nil)
		var fields map[string]string
		if tc.op != upstream.OpDelete {
			fields = map[string]string{"lastname": "Lay"}
		}
		q.Add(crm.Contact, id, tc.op, fields, nil)
		o := upstream.PushOptions{Now: clock.Now, Sleep: clock.Sleep, MaxWait: time.Nanosecond}
		ctx, cancel := context.WithCancel(context.Background())
		if tc.outcome == "pause" {
			// Stop after the pause: the next Sleep ends the run.
			o.Sleep = func(ctx context.Context, d time.Duration) error {
				clock.Sleep(ctx, d)
				cancel()
				return context.Canceled
			}
		}
		st, err := c.Push(ctx, q, o)
		cancel()
		dead := q.DeadLetters()
		switch tc.outcome {
		case "done":
			if err != nil || q.Len() != 0 || st.Confirmed != 1 {
				t.Errorf("%d %v: err %v, left %d, %+v", tc.status, tc.op, err, q.Len(), st)
			}
		case "dead":
			if err != nil || len(dead) != 1 || !strings.Contains(dead[id], "Invalid argument") || !strings.HasPrefix(dead[id], strconv.Itoa(tc.status)) {
				t.Errorf("%d %v: err %v, dead %v", tc.status, tc.op, err, dead)
			}
		case "retry":
			if err != nil || len(dead) != 0 || st.Retried != 1 || q.Len() != 1 {
				t.Errorf("%d %v: err %v, dead %v, %+v", tc.status, tc.op, err, dead, st)
			}
		case "pause":
			if !errors.Is(err, context.Canceled) || clock.slept != 30*time.Second || len(dead) != 0 || st.Retried != 0 || d.n != 1 {
				t.Errorf("%d: err %v, slept %v, dead %v, %+v, %d requests", tc.status, err, clock.slept, dead, st, d.n)
			}
		}
	}
}

// TestBatchLevelAuth: a batch refused with 401 stops the push with ErrAuth
// and kills no entry.
func TestBatchLevelAuth(t *testing.T) {
	e := newEnv(t, fakeserver.Dataverse, nil)
	e.srv.Token = "another-token"
	q := e.queue()
	q.Add(crm.Contact, guid(1), upstream.OpCreate, map[string]string{"lastname": "Lay"}, nil)
	q.Add(crm.Contact, guid(2), upstream.OpCreate, map[string]string{"lastname": "Lay"}, nil)
	_, err := e.client.Push(context.Background(), q, e.opts())
	if !errors.Is(err, upstream.ErrAuth) || len(q.DeadLetters()) != 0 || q.Len() != 2 {
		t.Errorf("err %v, dead %v, left %d", err, q.DeadLetters(), q.Len())
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error shows the token: %v", err)
	}
}

// TestMaxAttempts: a record failing with 500 every time is dead after
// MaxAttempts, with exponential backoff and full jitter in between, while
// other records go on; later entries of the failing record wait.
func TestMaxAttempts(t *testing.T) {
	bad := guid(66)
	e := newEnv(t, fakeserver.Dataverse, func(c *upstream.Config, s *fakeserver.Server) {
		c.MaxAttempts = 4
		c.BatchSize = 1
		s.Inject = func(c fakeserver.Call) fakeserver.Fault {
			if c.ID == bad && c.Method == "PATCH" {
				return fakeserver.DropBefore
			}
			return fakeserver.None
		}
	})
	q := e.queue()
	q.Add(crm.Account, bad, upstream.OpCreate, map[string]string{"name": "Arthur Andersen"}, nil)
	q.Add(crm.Account, guid(1), upstream.OpCreate, map[string]string{"name": "Enron"}, nil)
	q.Add(crm.Account, bad, upstream.OpUpdate, map[string]string{"name": "Andersen"}, nil)
	o := e.opts()
	var waits []time.Duration
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return e.clock.Sleep(ctx, d)
	}
	st, err := e.client.Push(context.Background(), q, o)
	if err != nil {
		t.Fatal(err)
	}
	dead := q.DeadLetters()
	if _, ok := e.srv.Record("accounts", guid(1)); !ok || len(dead) != 1 || !strings.Contains(dead[bad], "after 4 attempts") {
		t.Fatalf("dead %v, stats %+v", dead, st)
	}
	if _, ok := e.srv.Record("accounts", bad); ok || st.Retried != 3 || st.ReadBacks != 3 || len(waits) != 3 {
		t.Errorf("stats %+v, waits %v", st, waits)
	}
	for i, w := range waits {
		if ceil := time.Second << i; w <= 0 || w > ceil {
			t.Errorf("wait %d = %v, want in (0, %v]", i, w, ceil)
		}
	}
}

// TestThrottlePausesAll: 429 with Retry-After stops every request until
// the time has passed.
func TestThrottlePausesAll(t *testing.T) {
	e, rec := recordedEnv(t, fakeserver.Dataverse, func(c *upstream.Config, s *fakeserver.Server) {
		s.RetryAfter = "7"
		s.Inject = onceFault(fakeserver.Throttle, anyCall)
	})
	q := e.queue()
	for i := 0; i < 3; i++ {
		q.Add(crm.Contact, guid(i), upstream.OpCreate, map[string]string{"lastname": "x"}, nil)
	}
	st, err := e.client.Push(context.Background(), q, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 || len(rec.times) < 2 || rec.times[1].Sub(rec.times[0]) < 7*time.Second || st.Paused != 7*time.Second {
		t.Errorf("left %d, request times %v, stats %+v", q.Len(), rec.times, st)
	}
}

// TestDryRun prints the batch without the token and sends nothing.
func TestDryRun(t *testing.T) {
	e := newEnv(t, fakeserver.Dataverse, nil)
	q := e.queue()
	q.Add(crm.Contact, guid(1), upstream.OpCreate, map[string]string{"lastname": "Lay", "parentcustomerid": guid(2)}, nil)
	q.Add(crm.Contact, guid(3), upstream.OpUpdate, map[string]string{"lastname": "Skilling"}, nil)
	var out bytes.Buffer
	o := e.opts()
	o.DryRun = &out
	if _, err := e.client.Push(context.Background(), q, o); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"Bearer [REDACTED]", "PATCH contacts(" + guid(1) + ") HTTP/1.1", "If-None-Match: *",
		`"parentcustomerid_account@odata.bind":"/accounts(` + guid(2) + `)"`, "would be read back first", "2 change(s)"} {
		if !strings.Contains(s, want) {
			t.Errorf("dry run lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, testToken) || e.srv.Requests() != 0 || q.Len() != 2 {
		t.Errorf("dry run leaked the token or sent/changed something (%d requests)", e.srv.Requests())
	}
}

// TestReadBackOnlyWhenUnknown: a 429, or a 503 carrying the service's own
// error body, means nothing was applied: the change is sent again without a
// read-back. A gateway's 502 or 503 (an HTML page) or a 500 leaves the
// outcome unknown: each record is read back first and never created twice.
func TestReadBackOnlyWhenUnknown(t *testing.T) {
	batch := func(c fakeserver.Call) bool { return c.Batch && c.Part == 0 }
	part := func(c fakeserver.Call) bool { return c.Batch && c.Part == 2 }
	for _, tc := range []struct {
		name      string
		f         fakeserver.Fault
		match     func(fakeserver.Call) bool
		readBacks int
	}{
		{"batch 429", fakeserver.Throttle, batch, 0},
		{"batch 503 from the service", fakeserver.Unavailable, batch, 0},
		{"part 503 from the service", fakeserver.Unavailable, part, 0},
		{"batch 503 from a gateway", fakeserver.GatewayUnavailable, batch, 3},
		{"batch 502 from a gateway", fakeserver.GatewayError, batch, 3},
		{"part 502 from a gateway", fakeserver.GatewayError, part, 1},
		{"batch 500", fakeserver.ServerError, batch, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, rec := recordedEnv(t, fakeserver.Dataverse, func(c *upstream.Config, s *fakeserver.Server) {
				s.Inject = onceFault(tc.f, tc.match)
			})
			q := e.queue()
			q.Add(crm.Contact, guid(1), upstream.OpCreate, map[string]string{"lastname": "Lay"}, nil)
			q.Add(crm.Contact, guid(2), upstream.OpCreate, map[string]string{"lastname": "Skilling"}, nil)
			q.Add(crm.Account, guid(3), upstream.OpCreate, map[string]string{"name": "Enron"}, nil)
			st, err := e.client.Push(context.Background(), q, e.opts())
			if err != nil {
				t.Fatal(err)
			}
			gets := 0
			for _, r := range rec.reqs {
				if strings.HasPrefix(r, "GET ") {
					gets++
				}
			}
			if st.ReadBacks != tc.readBacks || gets != tc.readBacks {
				t.Errorf("read backs %d, GETs %d, want %d (requests %v)", st.ReadBacks, gets, tc.readBacks, rec.reqs)
			}
			if q.Len() != 0 || st.Confirmed != 3 || len(q.DeadLetters()) != 0 {
				t.Errorf("left %d, dead %v, stats %+v", q.Len(), q.DeadLetters(), st)
			}
			for i := 1; i <= 3; i++ {
				if n := e.srv.Creates(guid(i)); n != 1 {
					t.Errorf("record %d created %d times", i, n)
				}
			}
		})
	}
}
