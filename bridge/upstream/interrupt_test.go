package upstream_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"crmbridge/bridge/upstream"
	"crmbridge/internal/fakeserver"
)

// cancelDoer cancels the push's context after a random number of requests,
// either before sending the request or after the server answered it, as a
// SIGKILL of crmbridge push would cut it off.
type cancelDoer struct {
	mu     sync.Mutex
	rng    *rand.Rand
	hc     *http.Client
	cancel context.CancelFunc
	left   int
}

func (d *cancelDoer) Do(r *http.Request) (*http.Response, error) {
	d.mu.Lock()
	d.left--
	kill, after := d.left == 0, d.rng.IntN(2) == 0
	d.mu.Unlock()
	if kill && !after {
		d.cancel()
		return nil, context.Canceled
	}
	resp, err := d.hc.Do(r)
	if kill {
		if err == nil {
			resp.Body.Close()
		}
		d.cancel()
		return nil, context.Canceled
	}
	return resp, err
}

// TestInterruptedPush kills push at random points and runs it again until
// the queue is empty: the server must end with exactly the journal's
// records.
func TestInterruptedPush(t *testing.T) {
	kills := 0
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		e := newEnv(t, fakeserver.Style(seed%2), func(c *upstream.Config, _ *fakeserver.Server) { c.BatchSize = []int{1, 5, 50}[seed%3] })
		ops, want := genOps(rng, 30, func() string { return guid(rng.IntN(1 << 30)) })
		putPartyContacts(e.srv, ops)
		q := e.queue()
		for _, o := range ops {
			q.Add(o.e, o.id, o.op, o.fields, o.parties)
		}
		for run := 0; q.Len() > 0; run++ {
			if run > 300 {
				t.Fatalf("seed %d: not done after %d runs", seed, run)
			}
			ctx, cancel := context.WithCancel(context.Background())
			d := &cancelDoer{rng: rng, hc: &http.Client{}, cancel: cancel, left: 1 + rng.IntN(6)}
			c, err := upstream.NewClient(e.cfg, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Push(ctx, q, e.opts()); err != nil {
				kills++
			}
			cancel()
			e.clock.Sleep(context.Background(), 10*60e9) // past any backoff
		}
		checkServer(t, e.srv, want, ops)
		if d := q.DeadLetters(); len(d) > 0 {
			t.Errorf("seed %d: dead %v", seed, d)
		}
		if t.Failed() {
			t.Fatalf("seed %d failed", seed)
		}
	}
	if kills < 20 {
		t.Errorf("only %d pushes killed", kills)
	}
	t.Logf("%d pushes killed", kills)
}
