package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"crmbridge/bridge"
	"crmbridge/crmstore"
)

func importCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "import PST/OST files and folders of ICS, VCF, EML and mbox files into the store",
		ArgsUsage: "PATH...",
		Description: `Reads each PATH (a file, or a folder walked recursively) and applies every
Outlook item in it to the store as a CRM record. Files are recognised by their
content. Re-importing an unchanged file changes nothing; a changed file updates
only what changed, field by field (see --conflict).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "conflict", Value: "newest", Usage: "when a field changed on both sides: newest, local, incoming or fail"},
			&cli.BoolFlag{Name: "force", Usage: "read files even when unchanged since the last import"},
			&cli.IntFlag{Name: "batch", Value: 500, Usage: "records per transaction"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("import: no PATH given (see crmbridge import --help)")
			}
			policy, err := crmstore.ParsePolicy(c.String("conflict"))
			if err != nil {
				return usageError{err}
			}
			return runImport(c.Context, e, c.Args().Slice(), bridge.ImportOptions{
				Policy: policy, Force: c.Bool("force"), BatchSize: c.Int("batch"),
			})
		},
	}
}

func runImport(ctx context.Context, e *env, paths []string, opts bridge.ImportOptions) error {
	return withStore(ctx, e, "import "+strings.Join(paths, " "), writeOpts{create: true}, func(store *crmstore.Store) (string, error) {
		rep := newReporter(e)
		opts.Reporter = rep
		sum, err := bridge.Import(ctx, store, paths, opts)
		rep.done()
		line := "import: " + sum.String()
		switch {
		case errors.Is(err, context.Canceled):
			line += " — interrupted; run the same command again to finish"
		case err != nil:
		case sum.Failed():
			err = partialError{fmt.Sprintf("import finished with %d problem(s)", sum.Problems)}
		}
		fmt.Fprintln(e.stdout, line)
		return sum.String(), err
	})
}
