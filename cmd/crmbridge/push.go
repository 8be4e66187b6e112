package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"crmbridge/bridge/upstream"
	"crmbridge/crm"
	"crmbridge/crmstore"
)

var configFlag = &cli.StringFlag{Name: "config", Usage: "upstream config file (default $XDG_CONFIG_HOME/crmbridge/config)", EnvVars: []string{"CRMBRIDGE_CONFIG"}}

func configPath(c *cli.Context) (string, error) {
	if p := c.String("config"); p != "" {
		return p, nil
	}
	return upstream.DefaultConfigPath()
}

// loadUpstream reads the config file; a missing file is a usage error that
// says how to write one.
func loadUpstream(c *cli.Context) (upstream.Config, error) {
	path, err := configPath(c)
	if err != nil {
		return upstream.Config{}, err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return upstream.Config{}, usagef("no upstream configured (%s does not exist): run crmbridge config set base_url=https://org.crm.dynamics.com/api/data/v9.2/ token_file=PATH", path)
	}
	cfg, err := upstream.LoadConfig(path)
	if err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

func configCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "config",
		Usage:     "show the upstream configuration, or change it with: config set key=value...",
		ArgsUsage: "[set key=value...]",
		Description: `Without arguments, prints the effective upstream configuration: the config
file, the service root URL, where the bearer token comes from (never the token
itself), timeouts, batch size and attempts.

"config set key=value..." writes keys to the config file (created 0600):
   base_url      service root, e.g. https://org.crm.dynamics.com/api/data/v9.2/
                 (plain http only on a loopback address)
   token_file    file holding the bearer token
   token_env     or: environment variable holding it
   ca_file       extra PEM CA certificates to trust (TLS verification stays on)
   timeout       per request, e.g. 60s
   batch_size    requests per $batch, 1..1000
   max_attempts  attempts before an entry goes dead
The token itself is never written to the config.`,
		Flags: []cli.Flag{configFlag, &cli.BoolFlag{Name: "json", Usage: "print the effective settings as JSON (never the token)"}},
		Action: func(c *cli.Context) error {
			path, err := configPath(c)
			if err != nil {
				return err
			}
			args := c.Args().Slice()
			if len(args) > 0 {
				if args[0] != "set" || len(args) < 2 {
					return usagef("config: want no arguments, or: set key=value...")
				}
				if err := upstream.SetConfig(path, args[1:]); err != nil {
					if errors.Is(err, upstream.ErrBadSetting) {
						return usageError{err}
					}
					return err
				}
				if !e.quiet {
					fmt.Fprintf(e.stdout, "wrote %s\n", path)
				}
				return nil
			}
			if c.Bool("json") {
				return printConfigJSON(e, path)
			}
			return printConfig(e, path)
		},
	}
}

func printConfig(e *env, path string) error {
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	defer w.Flush()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(w, "config file\t%s (not found)\n", path)
		fmt.Fprintln(w, "upstream\tnot configured: crmbridge config set base_url=URL token_file=PATH")
		return nil
	}
	cfg, err := upstream.LoadConfig(path)
	if err != nil {
		fmt.Fprintf(w, "config file\t%s (invalid)\n", path)
		w.Flush()
		return err
	}
	fmt.Fprintf(w, "config file\t%s\n", path)
	fmt.Fprintf(w, "base_url\t%s\n", cfg.BaseURL)
	src := cfg.TokenSource()
	switch _, err := cfg.Token(); {
	case src == "":
		src = "none (set token_file or token_env)"
	case err != nil:
		src += " (unreadable or empty)"
	}
	fmt.Fprintf(w, "token\t%s\n", src)
	if cfg.CAFile != "" {
		fmt.Fprintf(w, "ca_file\t%s\n", cfg.CAFile)
	}
	eff := cfg.Effective()
	fmt.Fprintf(w, "timeout\t%v\n", eff.Timeout)
	fmt.Fprintf(w, "batch_size\t%d\n", eff.BatchSize)
	fmt.Fprintf(w, "max_attempts\t%d\n", eff.MaxAttempts)
	return nil
}

var conflictFlag = &cli.StringFlag{Name: "conflict", Value: "newest", Usage: "when a field changed both here and upstream: newest, local, incoming or fail"}

func pushFlags() []cli.Flag {
	return []cli.Flag{
		configFlag,
		&cli.IntFlag{Name: "batch", Value: upstream.DefaultBatchSize, DefaultText: "the config's batch_size, else 100", Usage: "requests per $batch, 1..1000"},
		&cli.IntFlag{Name: "max-attempts", Value: upstream.DefaultMaxAttempts, DefaultText: "the config's max_attempts, else 8", Usage: "attempts before an entry goes dead"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the first $batch request push would send (token redacted); send nothing"},
		&cli.BoolFlag{Name: "retry-dead", Usage: "make dead entries pending again first"},
		conflictFlag,
		jsonSummaryFlag,
	}
}

var jsonSummaryFlag = &cli.BoolFlag{Name: "json", Usage: "print the summary as one JSON object instead of a line"}

// pushJSON is push --json's summary (snake_case, as every --json output).
type pushJSON struct {
	Sent          int            `json:"sent"`
	Confirmed     int            `json:"confirmed"`
	Retried       int            `json:"retried"`
	ReadBack      int            `json:"read_back"`
	Deferred      int            `json:"deferred"`
	Adjusted      int            `json:"adjusted"`
	Conflicts     int            `json:"conflicts"`
	Merged        int            `json:"merged"`
	OpenConflicts int            `json:"open_conflicts"`
	Dead          int            `json:"dead"`
	DeadByReason  map[string]int `json:"dead_by_reason"`
	Waiting       int            `json:"waiting"`
	DeadInOutbox  int            `json:"dead_in_outbox"`
	PausedSeconds float64        `json:"paused_seconds"`
	Interrupted   bool           `json:"interrupted"`
}

// pullJSON is pull --json's summary.
type pullJSON struct {
	Read          int `json:"read"`
	New           int `json:"new"`
	Updated       int `json:"updated"`
	Deleted       int `json:"deleted"`
	Kept          int `json:"kept"`
	Pages         int `json:"pages"`
	Conflicts     int `json:"conflicts"`
	OpenConflicts int `json:"open_conflicts"`
	// List members the pull added to and removed from the store's lists,
	// and those not added because their contact is not in the store.
	MembersAdded   int               `json:"members_added"`
	MembersRemoved int               `json:"members_removed"`
	MembersUnknown int               `json:"members_unknown"`
	FailedSets     map[string]string `json:"failed_sets"`
	Interrupted    bool              `json:"interrupted"`
}

// pushSettings are the parsed push flags.
type pushSettings struct {
	cfg       upstream.Config
	policy    crmstore.Policy
	dryRun    bool
	retryDead bool
	json      bool
}

func parsePush(c *cli.Context) (pushSettings, error) {
	var ps pushSettings
	if c.NArg() > 0 {
		return ps, usagef("%s takes no arguments", c.Command.Name)
	}
	var err error
	if ps.policy, err = crmstore.ParsePolicy(c.String("conflict")); err != nil {
		return ps, usageError{err}
	}
	if ps.cfg, err = loadUpstream(c); err != nil {
		return ps, err
	}
	if c.IsSet("batch") || ps.cfg.BatchSize == 0 {
		n := c.Int("batch")
		if n < 1 || n > upstream.MaxBatchSize {
			return ps, usagef("--batch %d: want 1..%d", n, upstream.MaxBatchSize)
		}
		ps.cfg.BatchSize = n
	}
	if c.IsSet("max-attempts") || ps.cfg.MaxAttempts == 0 {
		n := c.Int("max-attempts")
		if n < 1 {
			return ps, usagef("--max-attempts %d: want at least 1", n)
		}
		ps.cfg.MaxAttempts = n
	}
	ps.dryRun, ps.retryDead, ps.json = c.Bool("dry-run"), c.Bool("retry-dead"), c.Bool("json")
	if ps.dryRun && ps.json {
		return ps, usagef("--dry-run prints the request itself: no --json")
	}
	return ps, nil
}

const pushExitHelp = `EXIT STATUS:
   0    success: every ready entry was confirmed (some may wait for a later run)
   1    some entries went dead (see crmbridge status; retry with push --retry-dead),
        or the server refused the credentials, or another error
   2    usage error, or no upstream configured
   65   the store is damaged, or the file is not a crmbridge store: it was
        refused and left as it is (see crmbridge check)
   75   the store is locked by another crmbridge (after --lock-timeout)
   130  interrupted; run the same command again to resume`

func pushCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "push",
		Usage: "send the outbox (queued local changes) to the upstream CRM",
		Description: `Replays the outbox to the upstream CRM (Dataverse Web API, OData v4; see
crmbridge config) in $batch requests, one change set per record. An entry
leaves the outbox only when the server confirmed it; a push can be interrupted
at any point and run again. Failing entries are retried with backoff up to
--max-attempts; permanent failures go dead (crmbridge status counts them).`,
		Flags:              pushFlags(),
		CustomHelpTemplate: cli.CommandHelpTemplate + "\n" + pushExitHelp + "\n",
		Action: func(c *cli.Context) error {
			ps, err := parsePush(c)
			if err != nil {
				return err
			}
			return withStore(c.Context, e, "push", writeOpts{}, func(store *crmstore.Store) (string, error) {
				js := &pushJSON{}
				line, err := runPush(c.Context, e, store, ps, js, ps.json)
				if !ps.dryRun {
					e.runResult = js
				}
				if ps.json {
					if perr := e.printJSON(js); perr != nil && err == nil {
						err = perr
					}
				}
				return line, err
			})
		},
	}
}

func pullCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "pull",
		Usage: "bring the upstream CRM's changes into the store",
		Description: `Reads the changes made upstream since the last pull (OData change tracking,
or modifiedon where the server has none) and merges them into the store field
by field (see --conflict). Pulled changes are not queued back upstream.`,
		Flags: []cli.Flag{configFlag, conflictFlag, jsonSummaryFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("pull takes no arguments")
			}
			policy, err := crmstore.ParsePolicy(c.String("conflict"))
			if err != nil {
				return usageError{err}
			}
			cfg, err := loadUpstream(c)
			if err != nil {
				return err
			}
			return withStore(c.Context, e, "pull", writeOpts{create: true}, func(store *crmstore.Store) (string, error) {
				js := &pullJSON{}
				line, err := runPull(c.Context, e, store, cfg, policy, js, c.Bool("json"))
				e.runResult = js
				if c.Bool("json") {
					if perr := e.printJSON(js); perr != nil && err == nil {
						err = perr
					}
				}
				return line, err
			})
		},
	}
}

func syncCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:               "sync",
		Usage:              "push, then pull",
		Flags:              pushFlags(),
		CustomHelpTemplate: cli.CommandHelpTemplate + "\n" + pushExitHelp + "\n",
		Action: func(c *cli.Context) error {
			ps, err := parsePush(c)
			if err != nil {
				return err
			}
			if ps.dryRun {
				return usagef("sync --dry-run: use push --dry-run")
			}
			return withStore(c.Context, e, "sync", writeOpts{create: true}, func(store *crmstore.Store) (string, error) {
				type syncJSON struct {
					Push *pushJSON `json:"push"`
					Pull *pullJSON `json:"pull"`
				}
				js := syncJSON{&pushJSON{}, &pullJSON{}}
				e.runResult = js
				if ps.json {
					defer func() { _ = e.printJSON(js) }()
				}
				sum, perr := runPush(c.Context, e, store, ps, js.Push, ps.json)
				var pe partialError
				if perr != nil && !errors.As(perr, &pe) {
					return sum, perr
				}
				pull, err := runPull(c.Context, e, store, ps.cfg, ps.policy, js.Pull, ps.json)
				sum += "; " + pull
				if err != nil {
					return sum, err
				}
				return sum, perr
			})
		},
	}
}

func newUpstreamClient(store *crmstore.Store, cfg upstream.Config) (*upstream.Client, error) {
	return upstream.NewClient(cfg, nil, func(ctx context.Context, id string) (crm.Entity, error) {
		return store.EntityOf(ctx, id)
	})
}

// runPush pushes the outbox and fills js with its outcome (the run's
// recorded result); it prints the summary line unless asJSON (push --json
// prints js instead).
func runPush(ctx context.Context, e *env, store *crmstore.Store, ps pushSettings, js *pushJSON, asJSON bool) (string, error) {
	client, err := newUpstreamClient(store, ps.cfg)
	if err != nil {
		return "", usageError{err}
	}
	if ps.retryDead && !ps.dryRun {
		n, err := store.OutboxRetryDead(ctx)
		if err != nil {
			return "", err
		}
		if n > 0 {
			e.log.Info("push: dead entries made pending again", "entries", n)
		}
	}
	q := &upstream.StoreQueue{Store: store, Policy: ps.policy}
	opts := upstream.PushOptions{Log: e.log}
	if ps.dryRun {
		opts.DryRun = e.stdout
	}
	pl := newProgressLine(e, asJSON)
	opts.Progress = func(st upstream.PushStats) {
		pl.draw(fmt.Sprintf("push: sent %d, confirmed %d, retried %d, dead %d", st.Sent, st.Confirmed, st.Retried, st.Dead))
	}
	stats, err := client.Push(ctx, q, opts)
	pl.clear()
	if ps.dryRun {
		return "push --dry-run", err
	}
	line := fmt.Sprintf("push: sent %d, confirmed %d, retried %d, dead %d, conflicts %d (%d field(s) merged, %d open)",
		stats.Sent, stats.Confirmed, stats.Retried, stats.Dead, stats.Conflicts, q.Conflicts, q.Open)
	if stats.Paused > 0 {
		line += fmt.Sprintf(", paused %v at the server's request", stats.Paused.Round(time.Second))
	}
	*js = pushJSON{Sent: stats.Sent, Confirmed: stats.Confirmed, Retried: stats.Retried, ReadBack: stats.ReadBacks,
		Deferred: stats.Deferred, Adjusted: stats.Adjusted, Conflicts: stats.Conflicts, Merged: q.Conflicts,
		OpenConflicts: q.Open, Dead: stats.Dead, DeadByReason: stats.DeadReasons, PausedSeconds: stats.Paused.Seconds(),
		Interrupted: ctx.Err() != nil}
	if js.DeadByReason == nil {
		js.DeadByReason = map[string]int{}
	}
	if ctx.Err() != nil {
		line += " — interrupted; run push again to resume"
	} else if st, serr := store.Status(ctx); serr == nil {
		if n := st.Outbox.Pending + st.Outbox.InFlight; n > 0 {
			line += fmt.Sprintf("; %d entr(ies) wait for a later push", n)
		}
		if st.Outbox.Dead > 0 {
			line += fmt.Sprintf("; %d dead in the outbox", st.Outbox.Dead)
		}
		js.Waiting, js.DeadInOutbox = st.Outbox.Pending+st.Outbox.InFlight, st.Outbox.Dead
	}
	if !asJSON && (!e.quiet || err != nil || stats.Dead > 0) {
		// --quiet: nothing on success (cron mails any output).
		fmt.Fprintln(e.stdout, line)
	}
	switch {
	case err != nil:
		return line, err
	case stats.Dead > 0:
		return line, partialError{fmt.Sprintf("push: %d entr(ies) went dead (see crmbridge status; retry with crmbridge push --retry-dead)", stats.Dead)}
	}
	return line, nil
}

// runPull pulls and fills js with its outcome (the run's recorded result);
// it prints the summary line unless asJSON (pull --json prints js instead).
func runPull(ctx context.Context, e *env, store *crmstore.Store, cfg upstream.Config, policy crmstore.Policy, js *pullJSON, asJSON bool) (string, error) {
	client, err := newUpstreamClient(store, cfg)
	if err != nil {
		return "", usageError{err}
	}
	sink := &upstream.StoreSink{Store: store, Policy: policy}
	pl := newProgressLine(e, asJSON)
	stats, err := client.Pull(ctx, sink, upstream.PullOptions{Progress: func(set string, st upstream.PullStats) {
		pl.draw(fmt.Sprintf("pull: %s, %d record(s) read, %d deleted, %d page(s)", set, st.Applied, st.Deleted, st.Pages))
	}})
	pl.clear()
	line := fmt.Sprintf("pull: %d record(s) read (%d new, %d updated), %d deleted, %d page(s), conflicts %d (%d open)",
		stats.Applied, sink.Created, sink.Modified, stats.Deleted-sink.Kept, stats.Pages, sink.Conflicts+sink.Kept, sink.Open)
	if sink.Kept > 0 {
		line += fmt.Sprintf("; %d deleted upstream but edited here: kept (see crmbridge conflicts)", sink.Kept)
	}
	if stats.MembersAdded+stats.MembersRemoved+stats.MembersUnknown > 0 {
		line += fmt.Sprintf("; list members: %d added, %d removed", stats.MembersAdded, stats.MembersRemoved)
		if stats.MembersUnknown > 0 {
			line += fmt.Sprintf(", %d not added (their contact is not in the store)", stats.MembersUnknown)
		}
	}
	*js = pullJSON{Read: stats.Applied, New: sink.Created, Updated: sink.Modified, Deleted: stats.Deleted - sink.Kept,
		Kept: sink.Kept, Pages: stats.Pages, Conflicts: sink.Conflicts + sink.Kept, OpenConflicts: sink.Open,
		MembersAdded: stats.MembersAdded, MembersRemoved: stats.MembersRemoved, MembersUnknown: stats.MembersUnknown,
		FailedSets: map[string]string{}, Interrupted: ctx.Err() != nil}
	var pe *upstream.PullError
	if errors.As(err, &pe) {
		for _, set := range pe.Sets {
			js.FailedSets[set] = pe.Errs[set].Error()
		}
		line += fmt.Sprintf("; %d entity set(s) failed: %s", len(pe.Sets), strings.Join(pe.Sets, ", "))
		for _, set := range pe.Sets {
			e.log.Error("pull: entity set not pulled", "set", set, "err", pe.Errs[set])
		}
		err = partialError{fmt.Sprintf("pull: %d entity set(s) failed (%s); the others were pulled", len(pe.Sets), strings.Join(pe.Sets, ", "))}
	}
	if ctx.Err() != nil {
		line += " — interrupted; run pull again"
	}
	if !asJSON && (!e.quiet || err != nil) {
		fmt.Fprintln(e.stdout, line)
	}
	return line, err
}
