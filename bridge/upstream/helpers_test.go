package upstream_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"crmbridge/bridge/upstream"
	"crmbridge/bridge/upstream/internal/memqueue"
	"crmbridge/internal/fakeserver"
)

const testToken = "s3cret-token-value"

// env is a fake server and a client talking to it.
type env struct {
	srv    *fakeserver.Server
	client *upstream.Client
	cfg    upstream.Config
	clock  *fakeClock
}

func newEnv(t testing.TB, style fakeserver.Style, mod func(*upstream.Config, *fakeserver.Server)) *env {
	t.Helper()
	srv := fakeserver.New(style)
	srv.Token = testToken
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := upstream.Config{TokenFile: tok, Timeout: 5 * time.Second, BatchSize: 100}
	if mod != nil {
		mod(&cfg, srv)
	}
	cfg.BaseURL = srv.Start()
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	c, err := upstream.NewClient(cfg, hc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, client: c, cfg: cfg, clock: newFakeClock()}
}

// fakeClock advances only when push sleeps, so backoff and Retry-After
// cost no real time.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
		c.slept += d
	}
	return ctx.Err()
}

func (e *env) opts() upstream.PushOptions {
	return upstream.PushOptions{Now: e.clock.Now, Sleep: e.clock.Sleep}
}

func (e *env) queue() *memqueue.Queue {
	q := memqueue.New()
	q.Now = e.clock.Now
	return q
}

// guid returns a deterministic lower-case GUID for n.
func guid(n int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n)
}
