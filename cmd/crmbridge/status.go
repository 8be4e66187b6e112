package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"crmbridge/crm"
	"crmbridge/crmstore"
)

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show records per entity, sources imported, outbox depth and the last run",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("status takes no arguments")
			}
			store, err := e.openStore(c.Context)
			if err != nil {
				return err
			}
			defer store.Close()
			st, err := store.Status(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return e.printJSON(st)
			}
			printStatus(e, st)
			return nil
		},
	}
}

func printStatus(e *env, st *crmstore.Status) {
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "store\t%s (schema %d)\n", st.Path, st.Schema)
	fmt.Fprintln(w, "records")
	for _, ent := range crm.Entities() {
		if n := st.Records[ent]; n > 0 {
			fmt.Fprintf(w, "  %s\t%d\n", ent, n)
		}
	}
	if len(st.Records) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	kinds := make([]string, 0, len(st.Sources))
	for k := range st.Sources {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, st.Sources[k]))
	}
	fmt.Fprintf(w, "sources\t%d file(s); items by source: %s\n", st.Files, orNone(strings.Join(parts, ", ")))
	fmt.Fprintf(w, "attachments\t%d (%d bytes stored)\n", st.Attachments, st.BlobBytes)
	ob := fmt.Sprintf("%d pending, %d in flight, %d dead", st.Outbox.Pending, st.Outbox.InFlight, st.Outbox.Dead)
	if st.Outbox.OldestPending != nil {
		ob += fmt.Sprintf("; oldest pending %s ago", time.Since(*st.Outbox.OldestPending).Round(time.Second))
	}
	fmt.Fprintf(w, "outbox\t%s\n", ob)
	fmt.Fprintf(w, "conflicts\t%d open\n", st.Conflicts)
	if n := len(st.KnownProblems); n > 0 {
		fmt.Fprintf(w, "known problems\t%d of unchanged imported files (import --recheck reads them again)\n", n)
		const show = 10
		for _, p := range st.KnownProblems[:min(n, show)] {
			fmt.Fprintf(w, "\t%s\n", oneLine(p.Message, 160))
		}
		if n > show {
			fmt.Fprintf(w, "\t... %d more (status --json lists every one)\n", n-show)
		}
	}
	if n := len(st.DeferredIndexes); n > 0 {
		fmt.Fprintf(w, "indexes\t%d deferred by a bulk import, running or killed (the next command that writes builds them; reads are slower until then): %s\n",
			n, strings.Join(st.DeferredIndexes, ", "))
	}
	if r := st.LastRun; r != nil {
		state := "running or killed"
		if !r.FinishedAt.IsZero() {
			state = fmt.Sprintf("exit %d, %s", r.ExitCode, r.FinishedAt.Local().Format("2006-01-02 15:04:05"))
		}
		fmt.Fprintf(w, "last run\t%s (%s)\n", r.Command, state)
		if r.Summary != "" {
			fmt.Fprintf(w, "\t%s\n", r.Summary)
		}
	}
	w.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
