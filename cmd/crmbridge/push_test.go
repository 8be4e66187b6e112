package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/internal/fakeserver"
)

const pushToken = "tok-e2e-7f3a91"

// writeCards writes n vCards with distinct names, addresses and titles.
func writeCards(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Person%03d;Given%03d;;;\r\nFN:Given%03d Person%03d\r\n", i, i, i, i)
		fmt.Fprintf(&b, "EMAIL:p%03d@example.com\r\nTEL;TYPE=WORK:+1 555 01%02d\r\nTITLE:Title %d\r\nEND:VCARD\r\n", i, i%100, i)
	}
	p := filepath.Join(dir, "cards.vcf")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// faults injects up to max faults at random (seeded) into the server.
type faults struct {
	mu    sync.Mutex
	rng   *rand.Rand
	left  int
	kinds []fakeserver.Fault
	p     float64
}

func (f *faults) inject(c fakeserver.Call) fakeserver.Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.left <= 0 || c.Method == http.MethodGet || f.rng.Float64() >= f.p {
		return fakeserver.None
	}
	f.left--
	return f.kinds[f.rng.IntN(len(f.kinds))]
}

// injector lets a test change the server's fault injection while it
// runs (Server.Inject itself must be set before Start).
type injector struct {
	mu sync.Mutex
	fn func(fakeserver.Call) fakeserver.Fault
}

func (in *injector) set(fn func(fakeserver.Call) fakeserver.Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.fn = fn
}

func (in *injector) call(c fakeserver.Call) fakeserver.Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fn == nil {
		return fakeserver.None
	}
	return in.fn(c)
}

func newFakeUpstream(t *testing.T, mods ...func(*fakeserver.Server)) (*fakeserver.Server, string, *injector) {
	t.Helper()
	srv := fakeserver.New(fakeserver.Dataverse)
	srv.Token = pushToken
	srv.RetryAfter = "1"
	for _, m := range mods {
		m(srv)
	}
	in := &injector{}
	srv.Inject = in.call
	url := srv.Start()
	t.Cleanup(srv.Close)
	return srv, url, in
}

// configure writes the upstream config with `crmbridge config set` under a
// fresh XDG_CONFIG_HOME and returns the config dir.
func configure(t *testing.T, baseURL string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte(pushToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, false, "config", "set", "base_url="+baseURL, "token_file="+tok, "timeout=10s")
	if r.code != 0 {
		t.Fatalf("config set: %d %s", r.code, r.stderr)
	}
	return dir
}

// storeRecords returns the live records of the store by id, upstream
// fields only (absent = empty).
func storeRecords(t *testing.T, db string) (live map[string]map[string]string, deleted []string) {
	t.Helper()
	ctx := context.Background()
	s, err := crmstore.Open(ctx, db, crmstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	list, err := s.List(ctx, crmstore.ListFilter{Entities: []crm.Entity{crm.Contact}})
	if err != nil {
		t.Fatal(err)
	}
	live = map[string]map[string]string{}
	for _, sm := range list {
		v, err := s.Get(ctx, sm.ID)
		if err != nil {
			t.Fatal(err)
		}
		live[sm.ID] = upstreamFields(v.Fields)
	}
	return live, nil
}

func upstreamFields(in map[string]string) map[string]string {
	out := map[string]string{}
	for _, f := range crm.Fields(crm.Contact) {
		if f.Upstream && in[f.Name] != "" {
			out[f.Name] = in[f.Name]
		}
	}
	return out
}

// checkServerEqualsStore asserts that the server holds exactly the store's
// live contacts with the same upstream field values, none created twice.
func checkServerEqualsStore(t *testing.T, db string, srv *fakeserver.Server) {
	t.Helper()
	live, _ := storeRecords(t, db)
	recs := srv.Records("contacts")
	if len(recs) != len(live) {
		t.Errorf("server has %d contacts, store %d", len(recs), len(live))
	}
	for id, want := range live {
		r, ok := recs[id]
		if !ok {
			t.Errorf("%s: not on the server", id)
			continue
		}
		got := upstreamFields(r.Fields)
		for k := range mergeKeys(want, got) {
			if want[k] != got[k] {
				t.Errorf("%s.%s: server %q, store %q", id, k, got[k], want[k])
			}
		}
		if n := srv.Creates(id); n > 1 {
			t.Errorf("%s created %d times upstream", id, n)
		}
	}
	for id := range recs {
		if _, ok := live[id]; !ok {
			t.Errorf("%s: on the server but not live in the store", id)
		}
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("protocol violations: %q", v)
	}
}

func mergeKeys(a, b map[string]string) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// pushUntilEmpty runs push until the outbox is empty (a run may leave
// entries in a long backoff for the next one).
func pushUntilEmpty(t *testing.T, db string, args ...string) result {
	t.Helper()
	var r result
	for range 6 {
		r = runCLI(t, false, append([]string{"--db", db, "push"}, args...)...)
		if r.code != 0 {
			t.Fatalf("push: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		st := statusJSON(t, db)
		if st.Outbox.Pending+st.Outbox.InFlight+st.Outbox.Dead == 0 {
			return r
		}
		time.Sleep(time.Second) // entries in a backoff a previous run chose
	}
	t.Fatalf("outbox not empty after 6 pushes: %+v", statusJSON(t, db).Outbox)
	return r
}

func TestPushEndToEnd(t *testing.T) {
	srv, url, inj := newFakeUpstream(t)
	cfgDir := configure(t, url)
	db := filepath.Join(t.TempDir(), "crm.db")

	// config: the file is 0600 where XDG says; the token is never shown.
	path := filepath.Join(cfgDir, "crmbridge", "config")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	r := runCLI(t, false, "config")
	if r.code != 0 || !strings.Contains(r.stdout, url) || !strings.Contains(r.stdout, "file "+filepath.Join(cfgDir, "token")) || strings.Contains(r.stdout, pushToken) {
		t.Fatalf("config: %d\n%s", r.code, r.stdout)
	}
	for _, bad := range []string{"token=abc", "base_url=http://example.com/api/", "batch_size=1001", "nosuchkey=1", "set"} {
		if r := runCLI(t, false, "config", "set", bad); r.code != exitUsage {
			t.Errorf("config set %s: exit %d, want 2", bad, r.code)
		}
	}

	if r := runCLI(t, false, "--db", db, "import", writeCards(t, t.TempDir(), 40)); r.code != 0 {
		t.Fatalf("import: %d %s", r.code, r.stderr)
	}
	before := statusJSON(t, db).Outbox
	if before.Pending != 40 {
		t.Fatalf("outbox after import: %+v", before)
	}

	// --dry-run prints the batch, redacts the token and changes nothing.
	r = runCLI(t, false, "--db", db, "push", "--dry-run", "--batch", "5")
	if r.code != 0 || !strings.Contains(r.stdout, "If-None-Match: *") || !strings.Contains(r.stdout, "[REDACTED]") ||
		strings.Contains(r.stdout, pushToken) || strings.Count(r.stdout, "PATCH ") != 5 {
		t.Fatalf("dry run: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := statusJSON(t, db).Outbox; got.Pending != 40 || got.InFlight != 0 || srv.Requests() != 0 {
		t.Fatalf("dry run changed something: %+v, %d requests", got, srv.Requests())
	}
	for _, args := range [][]string{{"push", "--batch", "0"}, {"push", "--batch", "1001"}, {"push", "--conflict", "maybe"}, {"push", "extra"}} {
		if r := runCLI(t, false, append([]string{"--db", db}, args...)...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, r.code)
		}
	}

	// Push through faults: dropped connections before and after the server
	// applied a request, 500 after applying, concurrent writers.
	f := &faults{rng: rand.New(rand.NewPCG(1, 2)), left: 10, p: 0.2,
		kinds: []fakeserver.Fault{fakeserver.DropAfter, fakeserver.DropBefore, fakeserver.ServerError, fakeserver.ConcurrentWrite}}
	inj.set(f.inject)
	r = pushUntilEmpty(t, db, "--batch", "7")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "push: sent ") {
		t.Errorf("want one summary line, got %q", r.stdout)
	}
	checkServerEqualsStore(t, db, srv)

	// Local edits then sync: the update and the delete go up.
	live, _ := storeRecords(t, db)
	var ids []string
	for id := range live {
		ids = append(ids, id)
	}
	if r := runCLI(t, false, "--db", db, "set", ids[0], "jobtitle=Chief"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := runCLI(t, false, "--db", db, "delete", ids[1]); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// Someone changes another record upstream; sync pulls it in.
	inj.set(nil)
	if !srv.Touch("contacts", ids[2], "jobtitle", "Changed upstream") {
		t.Fatal("touch")
	}
	r = runCLI(t, false, "--db", db, "sync")
	if r.code != 0 || !strings.Contains(r.stdout, "push: ") || !strings.Contains(r.stdout, "pull: ") {
		t.Fatalf("sync: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got, _ := storeRecords(t, db); got[ids[2]]["jobtitle"] != "Changed upstream" || got[ids[0]]["jobtitle"] != "Chief" {
		t.Errorf("after sync: %v / %v", got[ids[2]], got[ids[0]])
	}
	if st := statusJSON(t, db); st.Outbox.Pending+st.Outbox.InFlight != 0 {
		t.Errorf("pulled changes were queued back: %+v", st.Outbox)
	}
	checkServerEqualsStore(t, db, srv)
	// A second pull changes nothing.
	if r := runCLI(t, false, "--db", db, "pull"); r.code != 0 || !strings.Contains(r.stdout, "(0 new, 0 updated)") {
		t.Errorf("second pull: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// Pull with change tracking (Dataverse): records created, changed and
// deleted upstream come into the store without being queued back.
func TestPullChangeTracking(t *testing.T) {
	srv, url, _ := newFakeUpstream(t, func(s *fakeserver.Server) { s.ChangeTracking = true })
	configure(t, url)
	db := filepath.Join(t.TempDir(), "crm.db")
	if r := runCLI(t, false, "--db", db, "import", writeCards(t, t.TempDir(), 3)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := runCLI(t, false, "--db", db, "sync"); r.code != 0 || !strings.Contains(r.stdout, "confirmed 3") {
		t.Fatalf("sync: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Every run records the object it prints with --json, printed or not.
	lastResult := func(want string) {
		t.Helper()
		r := runCLI(t, false, "--db", db, "status", "--json")
		var st struct {
			LastRun struct {
				Result json.RawMessage `json:"result"`
			} `json:"last_run"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatal(err)
		}
		// The keys given must have the values given (the others, such
		// as pages, depend on the server).
		var got, exp map[string]any
		json.Unmarshal(st.LastRun.Result, &got)
		if err := json.Unmarshal([]byte(want), &exp); err != nil {
			t.Fatal(err)
		}
		for k, v := range exp {
			if sub, ok := v.(map[string]any); ok {
				g, _ := got[k].(map[string]any)
				for k2, v2 := range sub {
					if !reflect.DeepEqual(g[k2], v2) {
						t.Errorf("last_run.result.%s.%s = %v, want %v (%s)", k, k2, g[k2], v2, st.LastRun.Result)
					}
				}
			} else if !reflect.DeepEqual(got[k], v) {
				t.Errorf("last_run.result.%s = %v, want %v (%s)", k, got[k], v, st.LastRun.Result)
			}
		}
	}
	lastResult(`{"push": {"sent": 3, "confirmed": 3, "dead": 0, "interrupted": false, "waiting": 0},
		"pull": {"new": 0, "deleted": 0, "interrupted": false}}`)
	live, _ := storeRecords(t, db)
	var ids []string
	for id := range live {
		ids = append(ids, id)
	}
	srv.Remove("contacts", ids[0])
	srv.Touch("contacts", ids[1], "telephone1", "+44 20 7946 0000")
	newID := "6f1e2d3c-0000-4000-8000-000000000042"
	srv.Put(crm.Contact, newID, map[string]string{"lastname": "Upstream", "emailaddress1": "up@example.com"})
	r := runCLI(t, false, "--db", db, "pull")
	if r.code != 0 || !strings.Contains(r.stdout, "(1 new, 1 updated), 1 deleted") {
		t.Fatalf("pull: %d %s %s", r.code, r.stdout, r.stderr)
	}
	lastResult(`{"new": 1, "updated": 1, "deleted": 1, "kept": 0, "interrupted": false}`)
	after, _ := storeRecords(t, db)
	if _, ok := after[ids[0]]; ok {
		t.Error("record deleted upstream is still live")
	}
	if after[ids[1]]["telephone1"] != "+44 20 7946 0000" || after[newID]["lastname"] != "Upstream" {
		t.Errorf("pulled changes: %v %v", after[ids[1]], after[newID])
	}
	if st := statusJSON(t, db); st.Outbox.Pending+st.Outbox.InFlight+st.Outbox.Dead != 0 {
		t.Errorf("pulled changes queued back: %+v", st.Outbox)
	}
	// A local change of the pulled record goes up as an update.
	if r := runCLI(t, false, "--db", db, "set", newID, "jobtitle=Local"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := runCLI(t, false, "--db", db, "push"); r.code != 0 || !strings.Contains(r.stdout, "confirmed 1") {
		t.Fatalf("push: %d %s %s", r.code, r.stdout, r.stderr)
	}
	lastResult(`{"sent": 1, "confirmed": 1, "dead": 0}`)
	if got, _ := srv.Record("contacts", newID); got.Fields["jobtitle"] != "Local" || srv.Creates(newID) != 0 {
		t.Errorf("server after pushing the pulled record: %+v, %d creates", got, srv.Creates(newID))
	}
	checkServerEqualsStore(t, db, srv)
}

// Permanent errors move entries to the dead letters (exit 1, counted by
// status); --retry-dead sends them again.
func TestPushDeadAndRetryDead(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"code":"0x80048d19","message":"Error identified in Payload provided by the user"}}`)
	}))
	defer bad.Close()
	configure(t, bad.URL+fakeserver.Root)
	db := filepath.Join(t.TempDir(), "crm.db")
	if r := runCLI(t, false, "--db", db, "import", writeCards(t, t.TempDir(), 3)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCLI(t, false, "--db", db, "push")
	if r.code != exitPartial || !strings.Contains(r.stdout, "dead 3") || !strings.Contains(r.stderr, "Payload") {
		t.Fatalf("push to a refusing server: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st := statusJSON(t, db)
	if st.Outbox.Dead != 3 || st.Outbox.Pending != 0 {
		t.Fatalf("status: %+v", st.Outbox)
	}
	if r := runCLI(t, false, "--db", db, "status"); !strings.Contains(r.stdout, "3 dead") {
		t.Errorf("status text: %s", r.stdout)
	}
	// Dead entries stay dead on a plain push.
	srv, url, _ := newFakeUpstream(t)
	configure(t, url)
	if r := runCLI(t, false, "--db", db, "push"); r.code != 0 || !strings.Contains(r.stdout, "sent 0") {
		t.Fatalf("plain push: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, false, "--db", db, "push", "--retry-dead")
	if r.code != 0 || !strings.Contains(r.stdout, "confirmed 3") {
		t.Fatalf("push --retry-dead: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	checkServerEqualsStore(t, db, srv)
}

func TestPushWithoutConfigAndLocked(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	db := filepath.Join(t.TempDir(), "crm.db")
	if r := runCLI(t, false, "--db", db, "push"); r.code != exitUsage || !strings.Contains(r.stderr, "config set") {
		t.Errorf("push without config: %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, false, "config"); r.code != 0 || !strings.Contains(r.stdout, "not found") {
		t.Errorf("config without a file: %d %s", r.code, r.stdout)
	}
	_, url, _ := newFakeUpstream(t)
	configure(t, url)
	holder, err := crmstore.Open(context.Background(), db, crmstore.Options{Create: true, Write: true, Command: "crmbridge push (test holder)"})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	for _, cmd := range []string{"push", "pull", "sync"} {
		if r := runCLI(t, false, "--db", db, "--lock-timeout", "100ms", cmd); r.code != exitLocked {
			t.Errorf("%s while locked: exit %d, want 75 (%s)", cmd, r.code, r.stderr)
		}
	}
}

// An interrupted push (context cancelled, as SIGINT does) exits 130 and
// a re-run finishes the job.
func TestPushInterrupted(t *testing.T) {
	srv, url, inj := newFakeUpstream(t)
	configure(t, url)
	db := filepath.Join(t.TempDir(), "crm.db")
	if r := runCLI(t, false, "--db", db, "import", writeCards(t, t.TempDir(), 20)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	inj.set(func(c fakeserver.Call) fakeserver.Fault {
		if c.Part > 3 {
			once.Do(cancel) // interrupt in the middle of a batch
		}
		return fakeserver.None
	})
	var out, errb strings.Builder
	code := run(ctx, []string{"crmbridge", "--db", db, "push", "--batch", "5"}, &out, &errb, false)
	if code != exitInterrupted || !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("interrupted push: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	inj.set(nil)
	pushUntilEmpty(t, db)
	checkServerEqualsStore(t, db, srv)
}

// SIGKILL at random points, then re-run until the outbox is empty: the
// upstream ends with exactly the store's records, none created twice.
func TestPushKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	exe := buildCLI(t)
	srv, url, inj := newFakeUpstream(t)
	cfgDir := configure(t, url)
	f := &faults{rng: rand.New(rand.NewPCG(3, 4)), left: 15, p: 0.05,
		kinds: []fakeserver.Fault{fakeserver.DropAfter, fakeserver.DropBefore, fakeserver.ConcurrentWrite}}
	inj.set(f.inject)
	db := filepath.Join(t.TempDir(), "crm.db")
	if r := runCLI(t, false, "--db", db, "import", writeCards(t, t.TempDir(), 150)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	push := func() *exec.Cmd {
		c := exec.Command(exe, "--db", db, "--quiet", "push", "--batch", "8")
		c.Env = append(os.Environ(), "XDG_CONFIG_HOME="+cfgDir)
		return c
	}
	kills := 0
	killRounds := func(n int) {
		for range n {
			c := push()
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(5+rng.IntN(150)) * time.Millisecond)
			if c.Process.Signal(syscall.SIGKILL) == nil {
				kills++
			}
			c.Wait()
		}
	}
	finish := func() {
		for i := 0; ; i++ {
			out, err := push().CombinedOutput()
			st := statusJSON(t, db)
			if err == nil && st.Outbox.Pending+st.Outbox.InFlight+st.Outbox.Dead == 0 {
				return
			}
			if i == 40 { // a killed run may have left a backoff of several seconds
				t.Fatalf("outbox not empty: %v %+v\n%s", err, st.Outbox, out)
			}
			time.Sleep(time.Second) // entries in a backoff a killed run chose
		}
	}
	// SIGINT: a clean stop with exit 130 (or 0 if it had finished).
	c := push()
	var out strings.Builder
	c.Stdout = &out
	before := srv.Requests()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once it is sending: a signal before main has installed its
	// handler would kill it the default way, which is not what is tested.
	for deadline := time.Now().Add(10 * time.Second); srv.Requests() == before && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
	c.Process.Signal(os.Interrupt)
	c.Wait()
	if code := c.ProcessState.ExitCode(); code != exitInterrupted && code != 0 || code == exitInterrupted && !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("push after SIGINT: exit %d, %q", code, out.String())
	}
	t.Logf("push after SIGINT: exit %d", c.ProcessState.ExitCode())
	killRounds(6)
	mid := statusJSON(t, db).Outbox
	finish()
	checkServerEqualsStore(t, db, srv)

	// Local changes, then more kills mid-push.
	live, _ := storeRecords(t, db)
	n := 0
	for id := range live {
		switch n % 3 {
		case 0:
			runCLI(t, false, "--db", db, "set", id, fmt.Sprintf("jobtitle=Round two %d", n))
		case 1:
			runCLI(t, false, "--db", db, "delete", id)
		}
		if n++; n == 30 {
			break
		}
	}
	killRounds(4)
	finish()
	checkServerEqualsStore(t, db, srv)
	t.Logf("%d kills; outbox when first killed: %+v; %d requests served", kills, mid, srv.Requests())
}

// Through the CLI against a real OData v4 server (SAP CAP), when one runs.
func TestPushCAP(t *testing.T) {
	base := os.Getenv("CRMBRIDGE_CAP_URL")
	if base == "" {
		t.Skip("CRMBRIDGE_CAP_URL is not set: start the CAP server (make upstream) to run the CAP integration tests")
	}
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("CRMBRIDGE_CAP_TOKEN", "unused-by-cap")
	if r := runCLI(t, false, "config", "set", "base_url="+base, "token_env=CRMBRIDGE_CAP_TOKEN"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	db := filepath.Join(t.TempDir(), "crm.db")
	// CAP keeps its records between tests: fresh ids come from the import.
	if r := runCLI(t, false, "--db", db, "import", writeCards(t, t.TempDir(), 12)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	pushUntilEmpty(t, db, "--batch", "5")
	live, _ := storeRecords(t, db)
	var ids []string
	for id := range live {
		ids = append(ids, id)
	}
	runCLI(t, false, "--db", db, "set", ids[0], "jobtitle=Updated on CAP")
	runCLI(t, false, "--db", db, "delete", ids[1])
	if r := runCLI(t, false, "--db", db, "sync"); r.code != 0 {
		t.Fatalf("sync: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Read every record back from CAP.
	t.Setenv("T", "x")
	cfg := upstream.Config{BaseURL: base, TokenEnv: "T", Timeout: 30 * time.Second}
	c, err := upstream.NewClient(cfg, &http.Client{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The pull also brought in what other tests left on the shared CAP
	// server: check the records this test made.
	after, _ := storeRecords(t, db)
	if len(after) < 11 {
		t.Fatalf("%d live records, want at least 11", len(after))
	}
	for _, id := range ids[2:] {
		if _, ok := after[id]; !ok {
			t.Errorf("%s: no longer live after sync", id)
		}
	}
	if got := after[ids[0]]["jobtitle"]; got != "Updated on CAP" {
		t.Errorf("local update lost: jobtitle %q", got)
	}
	if _, ok := after[ids[1]]; ok {
		t.Errorf("%s: deleted record live again after sync", ids[1])
	}
	for _, id := range append([]string{ids[0]}, ids[2:]...) {
		want := after[id]
		rec, err := c.Get(context.Background(), crm.Contact, id)
		if err != nil || !rec.Found {
			t.Fatalf("get %s: %v %+v", id, err, rec)
		}
		got := upstreamFields(rec.Fields)
		for k := range mergeKeys(want, got) {
			if want[k] != got[k] {
				t.Errorf("%s.%s: CAP %q, store %q", id, k, got[k], want[k])
			}
		}
	}
	if rec, err := c.Get(context.Background(), crm.Contact, ids[1]); err != nil || rec.Found {
		t.Errorf("deleted record still on CAP: %v %+v", err, rec)
	}
}

// BenchmarkPushStore pushes 10,000 outbox entries (new contacts) from a
// store to the fake server, per batch size; it reports entries per second.
//
//	go test -run '^$' -bench PushStore -benchtime 1x ./cmd/crmbridge
func BenchmarkPushStore(b *testing.B) {
	const n = 10000
	type target struct {
		name  string
		batch int
	}
	var targets []target
	for _, batch := range []int{10, 100, 1000} {
		targets = append(targets, target{"fake", batch})
	}
	capURL := os.Getenv("CRMBRIDGE_CAP_URL") // CAP too when it runs (make upstream)
	if capURL != "" {
		for _, batch := range []int{10, 100, 1000} {
			targets = append(targets, target{"cap", batch})
		}
	}
	for _, tg := range targets {
		batch := tg.batch
		b.Run(fmt.Sprintf("%s/batch=%d", tg.name, batch), func(b *testing.B) {
			url := capURL
			if tg.name == "fake" {
				srv := fakeserver.New(fakeserver.Dataverse)
				url = srv.Start()
				defer srv.Close()
			}
			b.Setenv("CRMBRIDGE_BENCH_TOKEN", "t")
			cfg := upstream.Config{BaseURL: url, TokenEnv: "CRMBRIDGE_BENCH_TOKEN", BatchSize: batch, Timeout: 5 * time.Minute}
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ctx := context.Background()
				s, err := crmstore.Open(ctx, filepath.Join(b.TempDir(), "crm.db"), crmstore.Options{Create: true, Write: true})
				if err != nil {
					b.Fatal(err)
				}
				tx, err := s.Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for j := range n {
					if _, err := tx.Create(crm.Contact, map[string]string{"lastname": fmt.Sprintf("Bench %d", j), "emailaddress1": fmt.Sprintf("b%d@example.com", j)}, "cli"); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				c, err := newUpstreamClient(s, cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				st, err := c.Push(ctx, &upstream.StoreQueue{Store: s, Policy: crmstore.PolicyNewest}, upstream.PushOptions{})
				elapsed += time.Since(start)
				b.StopTimer()
				if err != nil || st.Confirmed != n {
					b.Fatalf("push: %v %s", err, st)
				}
				s.Close()
			}
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "entries/s")
		})
	}
}

// A randomized journal of creates, updates (fields and parties) and
// deletes made through the store's own API, pushed in rounds through
// random faults of every kind: the server ends with exactly the store's
// records and parties, each created once, with no protocol violation.
func TestPushRandomStore(t *testing.T) {
	ctx := context.Background()
	srv, url, inj := newFakeUpstream(t, func(srv *fakeserver.Server) {
		srv.RetryAfter = "0"
		srv.SlowDelay = 5 * time.Millisecond
	})
	db := filepath.Join(t.TempDir(), "crm.db")
	s, err := crmstore.Open(ctx, db, crmstore.Options{Create: true, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte(pushToken), 0o600)
	c, err := newUpstreamClient(s, upstream.Config{BaseURL: url, TokenFile: tok, BatchSize: 9, MaxAttempts: 1000, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(7)
	if v := os.Getenv("CRMBRIDGE_TEST_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 8))
	f := &faults{rng: rand.New(rand.NewPCG(seed, 10)), left: 1 << 30, p: 0.25,
		kinds: []fakeserver.Fault{fakeserver.DropBefore, fakeserver.DropAfter, fakeserver.Throttle, fakeserver.Unavailable,
			fakeserver.ServerError, fakeserver.Slow, fakeserver.ConcurrentWrite, fakeserver.GatewayError, fakeserver.GatewayUnavailable}}
	type rec struct {
		e     crm.Entity
		id    string
		n     int // versions of its parties (emails)
		alive bool
	}
	var recs []*rec
	counter := 0
	val := func() string { counter++; return fmt.Sprintf("v%d", counter) }
	parties := func() []crm.Party {
		ps := []crm.Party{{Role: crm.RoleSender, Address: "from" + val() + "@elsewhere.org"}}
		for range rng.IntN(3) {
			ps = append(ps, crm.Party{Role: crm.RoleTo + rng.IntN(2), Address: "to" + val() + "@elsewhere.org"})
		}
		return ps
	}
	step := func(tx *crmstore.Tx) error {
		var live []*rec
		for _, r := range recs {
			if r.alive {
				live = append(live, r)
			}
		}
		switch k := rng.IntN(10); {
		case k < 3 || len(live) == 0: // create
			r := &rec{alive: true}
			switch rng.IntN(3) {
			case 0:
				r.e = crm.Contact
				id, err := tx.Create(r.e, map[string]string{"lastname": val(), "jobtitle": val()}, "cli")
				if err != nil {
					return err
				}
				r.id = id
			case 1:
				r.e = crm.Task
				id, err := tx.Create(r.e, map[string]string{"subject": val()}, "cli")
				if err != nil {
					return err
				}
				r.id = id
			default:
				r.e = crm.Email
				res, err := tx.Apply(&crm.Incoming{Source: crm.SourceRef{Kind: "eml", Key: val(), Version: "0"},
					Record: crm.Record{Entity: r.e, Fields: map[string]string{"subject": val()}, Parties: parties()}}, crmstore.PolicyNewest)
				if err != nil {
					return err
				}
				r.id = res.ID
			}
			recs = append(recs, r)
		case k < 9: // update
			r := live[rng.IntN(len(live))]
			switch r.e {
			case crm.Contact:
				_, err := tx.Set(r.id, map[string]string{[]string{"jobtitle", "telephone1", "lastname"}[rng.IntN(3)]: val()}, "cli")
				return err
			case crm.Task:
				_, err := tx.Set(r.id, map[string]string{"subject": val()}, "cli")
				return err
			default:
				r.n++
				_, err := tx.Apply(&crm.Incoming{Source: crm.SourceRef{Kind: "cli-test", Key: r.id, Version: strconv.Itoa(r.n)},
					Record: crm.Record{ID: r.id, Entity: r.e, Fields: map[string]string{"subject": val()}, Parties: parties()}}, crmstore.PolicyIncoming)
				return err
			}
		default: // delete
			r := live[rng.IntN(len(live))]
			r.alive = false
			return tx.Delete(r.id, "cli")
		}
		return nil
	}
	opts := upstream.PushOptions{BaseBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	for round := range 20 {
		tx, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 25 {
			if err := step(tx); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		inj.set(f.inject)
		if _, err := c.Push(ctx, &upstream.StoreQueue{Store: s, Policy: crmstore.PolicyNewest}, opts); err != nil {
			t.Fatalf("round %d: push: %v", round, err)
		}
	}
	inj.set(nil)
	if st, err := c.Push(ctx, &upstream.StoreQueue{Store: s, Policy: crmstore.PolicyNewest}, opts); err != nil || st.Dead > 0 {
		t.Fatalf("final push: %v %s", err, st)
	}
	if st, _ := s.Status(ctx); st.Outbox.Pending+st.Outbox.InFlight+st.Outbox.Dead != 0 {
		t.Fatalf("outbox not empty: %+v", st.Outbox)
	}
	for _, r := range recs {
		got, ok := srv.Record(upstream.EntitySet(r.e), r.id)
		if ok != r.alive {
			t.Errorf("%s %s: on the server %v, alive %v", r.e, r.id, ok, r.alive)
			continue
		}
		if n := srv.Creates(r.id); n > 1 || (r.alive && n != 1) {
			t.Errorf("%s %s created %d times", r.e, r.id, n)
		}
		if !r.alive {
			continue
		}
		v, err := s.Get(ctx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range crm.Fields(r.e) {
			if fd.Upstream && v.Fields[fd.Name] != got.Fields[fd.Name] {
				t.Errorf("%s %s.%s: server %q, store %q", r.e, r.id, fd.Name, got.Fields[fd.Name], v.Fields[fd.Name])
			}
		}
		if r.e == crm.Email && !upstream.SameParties(v.Parties, got.Parties) {
			t.Errorf("%s parties: server %+v, store %+v", r.id, got.Parties, v.Parties)
		}
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("protocol violations: %q", v)
	}
	t.Logf("seed %d (CRMBRIDGE_TEST_SEED): %d records, %d values written, %d requests, %d faults injected", seed, len(recs), counter, srv.Requests(), 1<<30-f.left)
}

// TestConfigRefusesSecretsInURL: config set refuses a base_url carrying
// credentials (exit 2, saying where the token goes), and a config file
// written by hand with one is refused by config, push --dry-run and pull
// without ever printing the secret.
func TestConfigRefusesSecretsInURL(t *testing.T) {
	const pw, sig = "PASSWORD-q1", "SIGSECRET-q2"
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	raw := "https://user:" + pw + "@org.crm.dynamics.com/api/data/v9.2/?sig=" + sig
	r := runCLI(t, false, "config", "set", "base_url="+raw, "token_env=CRM_TOKEN")
	if r.code != exitUsage || !strings.Contains(r.stderr, "token_file") {
		t.Errorf("config set with credentials: exit %d, stderr %s", r.code, r.stderr)
	}
	outs := []string{r.stdout + r.stderr}
	path := filepath.Join(dir, "crmbridge", "config")
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte("base_url = "+raw+"\ntoken_env = CRM_TOKEN\n"), 0o600)
	db := filepath.Join(t.TempDir(), "crm.db")
	runCLI(t, false, "--db", db, "new", "contact", "lastname=Lee")
	for _, args := range [][]string{{"config"}, {"--db", db, "push", "--dry-run"}, {"--db", db, "pull"}} {
		r := runCLI(t, false, args...)
		if r.code == 0 {
			t.Errorf("%v: exit 0 with credentials in base_url", args)
		}
		outs = append(outs, r.stdout+r.stderr)
	}
	for _, o := range outs {
		if strings.Contains(o, pw) || strings.Contains(o, sig) {
			t.Errorf("secret shown:\n%s", o)
		}
	}
}
