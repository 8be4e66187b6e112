// Command crmbridge bridges Outlook data (PST/OST, .msg, vCard, iCalendar,
// EML, mbox) and a CRM: it imports items into a local SQLite store as CRM
// records, exports CRM-side changes back to files, and pushes queued
// changes to an upstream CRM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	_ "github.com/emersion/go-message/charset" // every charset go-message knows, registered once
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"crmbridge/crmstore"
)

// Exit statuses (see "EXIT STATUS" in each command's help).
const (
	exitOK          = 0
	exitPartial     = 1 // some items failed, the rest were applied
	exitUsage       = 2
	exitDamaged     = 65 // sysexits.h EX_DATAERR: the store is damaged or not a crmbridge store
	exitLocked      = 75 // sysexits.h EX_TEMPFAIL: another writer holds the store
	exitInterrupted = 130
)

const exitHelp = `EXIT STATUS:
   0    success
   1    some items or files failed (the rest were applied; see the messages)
   2    usage error
   65   the store is damaged, or the file is not a crmbridge store: it was
        refused and left as it is (see crmbridge check)
   75   the store is locked by another crmbridge (after --lock-timeout)
   130  interrupted`

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// partialError reports that a command finished but some items failed.
type partialError struct{ msg string }

func (e partialError) Error() string { return e.msg }

// exitCode maps an error to the process exit status, in one place.
func exitCode(err error) int {
	var ue usageError
	var pe partialError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case crmstore.IsLocked(err):
		return exitLocked
	case crmstore.IsCorrupt(err):
		return exitDamaged
	case errors.Is(err, crmstore.ErrNoDir), errors.Is(err, crmstore.ErrAmbiguous):
		return exitUsage
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &pe):
		return exitPartial
	}
	return exitPartial
}

// env is what every command gets: output streams, logger and options.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	dbPath         string
	quiet          bool
	tty            bool // stderr is a terminal: draw progress
	lockTimeout    time.Duration
	defaultPath    bool  // dbPath is the default, not --db or CRMBRIDGE_DB
	dbErr          error // why there is no store path (returned by openStore)
	unknown        error // an unknown command was given (CommandNotFound)
	// runResult is what a write command's run records as its result (its
	// --json object), set inside withStore's fn.
	runResult any
}

// unknownCommand is the usage error for a command name that is not one,
// with a did-you-mean.
func unknownCommand(name string, cmds []*cli.Command) error {
	if s := suggest(name, commandNames(cmds)); s != "" {
		return usagef("unknown command %q (did you mean %s?)", name, s)
	}
	return usagef("unknown command %q (see crmbridge --help)", name)
}

// defaultDB is the default store path: $XDG_DATA_HOME/crmbridge/crm.db,
// else $HOME/.local/share/crmbridge/crm.db. XDG Base Directory: a relative
// $XDG_DATA_HOME is invalid and ignored; without an absolute HOME either
// there is no default (never a path relative to the current folder).
func defaultDB() (string, error) {
	if base := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(base) {
		return filepath.Join(base, "crmbridge", "crm.db"), nil
	}
	if home := os.Getenv("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "share", "crmbridge", "crm.db"), nil
	}
	return "", usagef("no store path: neither XDG_DATA_HOME nor HOME is set to an absolute path; give --db FILE or set CRMBRIDGE_DB")
}

func newApp(stdout, stderr io.Writer, isTTY bool) (*cli.App, *env) {
	e := &env{stdout: stdout, stderr: stderr, tty: isTTY}
	app := &cli.App{
		Name:                  "crmbridge",
		Usage:                 "bridge Outlook data and a CRM through a local store",
		Writer:                stdout,
		ErrWriter:             stderr,
		Version:               versionString(),
		EnableBashCompletion:  true,
		HideHelpCommand:       true, // our own helpCommand: urfave's is a shared global that grows per run
		CustomAppHelpTemplate: cli.AppHelpTemplate + "\n" + exitHelp + "\n",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Usage: "store file (default $XDG_DATA_HOME/crmbridge/crm.db)", EnvVars: []string{"CRMBRIDGE_DB"}},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only warnings and errors; import, export, push, pull, sync and forget print nothing on success"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "lock-timeout", Value: "30s", Usage: "how long a write command waits for another to finish (with a unit: 30s, 5m)"},
		},
		Before: func(c *cli.Context) error {
			e.dbPath = c.String("db")
			e.defaultPath = e.dbPath == ""
			if e.defaultPath {
				var err error
				if e.dbPath, err = defaultDB(); err != nil {
					e.dbErr = err
				}
			}
			e.quiet = c.Bool("quiet")
			var err error
			if e.lockTimeout, err = parseLockTimeout(c.String("lock-timeout")); err != nil {
				return err
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return usagef("--log-level: %v", err)
			}
			if e.quiet && lvl < slog.LevelWarn {
				lvl = slog.LevelWarn
			}
			e.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
			return nil
		},
		OnUsageError: usageWithSuggestion,
		CommandNotFound: func(c *cli.Context, name string) {
			e.unknown = unknownCommand(name, c.App.Commands)
		},
		Commands: []*cli.Command{
			importCommand(e),
			statusCommand(e),
			listCommand(e),
			showCommand(e),
			newCommand(e),
			setCommand(e),
			deleteCommand(e),
			linkCommand(e),
			conflictsCommand(e),
			duplicatesCommand(e),
			exportCommand(e),
			configCommand(e),
			pushCommand(e),
			pullCommand(e),
			syncCommand(e),
			checkCommand(e),
			backupCommand(e),
			forgetCommand(e),
			versionCommand(e),
			helpCommand(),
		},
	}
	app.Commands = append(app.Commands, completionCommand(e, func() *cli.App { return app }), manCommand(e, func() *cli.App { return app }))
	for _, cmd := range app.Commands {
		cmd.HideHelpCommand = true
		cmd.OnUsageError = app.OnUsageError
		if cmd.CustomHelpTemplate == "" {
			cmd.CustomHelpTemplate = cli.CommandHelpTemplate + "\n" + exitHelp + "\n"
		}
		for _, sub := range cmd.Subcommands {
			sub.OnUsageError = app.OnUsageError
			if sub.CustomHelpTemplate == "" {
				sub.CustomHelpTemplate = cmd.CustomHelpTemplate
			}
		}
	}
	return app, e
}

// run runs the CLI with args (including the program name) and returns the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, isTTY bool) int {
	app, e := newApp(stdout, stderr, isTTY)
	args = interspersed(app, args)
	err := app.RunContext(ctx, args)
	if err == nil && e.unknown != nil {
		err = e.unknown
	}
	code := exitCode(err)
	if err != nil {
		var pe partialError
		if !errors.As(err, &pe) {
			fmt.Fprintf(stderr, "crmbridge: %v\n", err)
		}
		if crmstore.IsCorrupt(err) {
			fmt.Fprintln(stderr, damagedAdvice(err, e.dbPath))
		}
		if errors.Is(err, crmstore.ErrNoStore) {
			fmt.Fprintln(stderr, "crmbridge: nothing imported yet: run crmbridge import first, or give --db (or CRMBRIDGE_DB) for another store")
		}
		if code == exitLocked {
			fmt.Fprintln(stderr, "crmbridge: another crmbridge is writing to this store; try again when it has finished, or raise --lock-timeout")
		}
	}
	return code
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A soft memory limit that follows the live heap (memoryLimit), unless
	// the user chose one with GOMEMLIMIT.
	if os.Getenv("GOMEMLIMIT") == "" {
		followLiveHeap(ctx)
	}
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr, term.IsTerminal(int(os.Stderr.Fd()))))
}

// printJSON writes v as indented JSON (the --json output of every command).
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
