package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Usage errors exit 2 on every subcommand, with a did-you-mean for
// commands and flags; --version, version and help work.
func TestCLIContract(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crm.db")
	if r := runCLI(t, false, "--db", db, "new", "contact", "lastname=Lee"); r.code != 0 {
		t.Fatalf("new: %d %s", r.code, r.stderr)
	}
	for _, c := range []struct {
		args []string
		code int
		want string // in stdout or stderr
	}{
		{[]string{"link", "abc"}, exitUsage, "--regarding"},
		{[]string{"conflicts", "resolve", "1"}, exitUsage, "--take"},
		{[]string{"--lock-timeout", "5", "status"}, exitUsage, "unit"},
		{[]string{"stauts"}, exitUsage, "did you mean status?"},
		{[]string{"conflicts", "resolv", "1"}, exitUsage, "did you mean resolve?"},
		{[]string{"status", "--jsn"}, exitUsage, "did you mean --json?"},
		{[]string{"list", "contacts", "--limt", "3"}, exitUsage, "did you mean --limit?"},
		{[]string{"--quite", "status"}, exitUsage, "did you mean --quiet?"},
		{[]string{"--version"}, 0, "crmbridge version"},
		{[]string{"version"}, 0, "crmbridge "},
		{[]string{"help"}, 0, "COMMANDS"},
		{[]string{"help", "import"}, 0, "crmbridge import"},
		{[]string{"completion", "bash"}, 0, "complete -o bashdefault"},
		{[]string{"completion", "zsh"}, 0, "#compdef crmbridge"},
		{[]string{"completion", "fish"}, 0, "complete -c crmbridge"},
		{[]string{"completion", "tcsh"}, exitUsage, "unknown shell"},
		{[]string{"man"}, 0, ".SH COMMANDS"},
	} {
		r := runCLI(t, false, append([]string{"--db", db}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.want) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout %s\nstderr %s", c.args, r.code, c.code, c.want, r.stdout, r.stderr)
		}
	}
}

// Every command and subcommand's --help parses, lists its EXIT STATUS
// with 65, and each command line in a help's usage text names a command
// that exists.
func TestHelpParses(t *testing.T) {
	app, _ := newApp(&strings.Builder{}, &strings.Builder{}, false)
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		paths := [][]string{{c.Name}}
		for _, s := range c.Subcommands {
			paths = append(paths, []string{c.Name, s.Name})
		}
		for _, p := range paths {
			r := runCLI(t, false, append(p, "--help")...)
			if r.code != 0 || !strings.Contains(r.stdout, "USAGE:") {
				t.Errorf("%v --help: exit %d\n%s%s", p, r.code, r.stdout, r.stderr)
			}
			if p[0] != "help" && p[0] != "completion" && p[0] != "version" && !strings.Contains(r.stdout, "65") {
				t.Errorf("%v --help: EXIT STATUS lacks 65", p)
			}
		}
	}
}
