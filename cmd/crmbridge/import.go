package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"crmbridge/bridge"
	"crmbridge/crm"
	"crmbridge/crmstore"
)

func importCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "import PST/OST and .msg files and folders of them and of ICS, VCF, EML and mbox files into the store",
		ArgsUsage: "PATH...",
		Description: `Reads each PATH (a file, or a folder walked recursively) and applies every
Outlook item in it to the store as a CRM record. Files are recognised by their
content. Re-importing an unchanged file changes nothing; a changed file updates
only what changed, field by field (see --conflict).

The problems of a file (items or values lost) are remembered while the file is
unchanged: a later run does not read it or report them again, and exits 0
(crmbridge status lists them; --recheck reads such files again). A file in a
folder that holds no data crmbridge reads (README.txt) is noted once.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "conflict", Value: "newest", Usage: "when a field changed on both sides: newest, local, incoming or fail"},
			&cli.BoolFlag{Name: "force", Usage: "read files even when unchanged since the last import"},
			&cli.BoolFlag{Name: "recheck", Usage: "read again unchanged files whose problems are remembered (crmbridge status lists them)"},
			&cli.IntFlag{Name: "batch", Value: bridge.DefaultBatchSize, Usage: "records per transaction"},
			&cli.StringFlag{Name: "bulk", Value: "auto", Usage: "build the store's list and short-id indexes once at the end instead of per record: auto (for a file new to the store of at least 16 MiB and an eighth of the store), on or off"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary and each file's item ledger as JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("import: no PATH given (see crmbridge import --help)")
			}
			policy, err := crmstore.ParsePolicy(c.String("conflict"))
			if err != nil {
				return usageError{err}
			}
			bulk, err := bridge.ParseBulkMode(c.String("bulk"))
			if err != nil {
				return usageError{err}
			}
			return runImport(c.Context, e, c.Args().Slice(), bridge.ImportOptions{
				Policy: policy, Force: c.Bool("force"), Recheck: c.Bool("recheck"), BatchSize: c.Int("batch"), Detail: c.Bool("json"),
				Bulk: bulk,
			}, c.Bool("json"))
		},
	}
}

func runImport(ctx context.Context, e *env, paths []string, opts bridge.ImportOptions, asJSON bool) error {
	return withStore(ctx, e, "import "+strings.Join(paths, " "), writeOpts{create: true}, func(store *crmstore.Store) (string, error) {
		rep := newReporter(e)
		opts.Reporter = rep
		sum, err := bridge.Import(ctx, store, paths, opts)
		rep.done()
		summary := sum.String()
		interrupted := errors.Is(err, context.Canceled)
		switch {
		case interrupted:
			summary += " — interrupted; run the same command again to finish"
		case crmstore.IsStoreFailure(err):
			// The counts above are what committed; say what did not.
			summary += " — stopped: the store failed; the batch being written was rolled back (its items are counted as not imported) and nothing after it was read"
		case err != nil:
		case sum.Failed():
			err = partialError{fmt.Sprintf("import finished with %d problem(s)", sum.Problems)}
		}
		e.runResult = importJSON(sum, interrupted)
		if asJSON {
			if jerr := e.printJSON(e.runResult); jerr != nil && err == nil {
				err = jerr
			}
		} else if !e.quiet || err != nil {
			// --quiet: nothing on success (cron mails any output).
			fmt.Fprintln(e.stdout, "import: "+summary)
		}
		return summary, err
	})
}

// importResult is the --json form of an import's summary.
type importResult struct {
	FilesRead      int                           `json:"files_read"`
	FilesUnchanged int                           `json:"files_unchanged"`
	FilesKnown     int                           `json:"files_known_problems"`
	FilesSkipped   []string                      `json:"files_skipped"`
	FilesFailed    int                           `json:"files_failed"`
	Entities       map[crm.Entity]*bridge.Counts `json:"entities"`
	Files          []*bridge.FileLedger          `json:"files"`
	Extras         map[string]int                `json:"extras"`
	Accounts       int                           `json:"accounts_created"`
	Conflicts      int                           `json:"conflicts"`
	Problems       int                           `json:"problems"`
	Warnings       int                           `json:"warnings"`
	Interrupted    bool                          `json:"interrupted"`
	Seconds        float64                       `json:"seconds"`
}

func importJSON(s *bridge.Summary, interrupted bool) importResult {
	r := importResult{FilesRead: s.Files, FilesUnchanged: s.FilesUnchanged, FilesKnown: s.FilesKnown, FilesSkipped: s.FilesSkipped,
		FilesFailed: s.FilesFailed, Entities: s.Entities, Files: s.Ledger, Extras: s.Extras, Accounts: s.Accounts,
		Conflicts: s.Conflicts, Problems: s.Problems, Warnings: s.Warnings, Interrupted: interrupted,
		Seconds: s.Duration.Seconds()}
	if r.FilesSkipped == nil {
		r.FilesSkipped = []string{}
	}
	if r.Files == nil {
		r.Files = []*bridge.FileLedger{}
	}
	if r.Extras == nil {
		r.Extras = map[string]int{}
	}
	return r
}
