package main

import (
	"encoding/json"
	"os"
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

// list prints short ids that every id-taking command accepts; an id
// naming several records exits 2 listing them, on every command.
func TestShortIDsEverywhere(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crm.db")
	var full []string
	for _, n := range []string{"Lee", "Kim", "Ode"} {
		r := runCLI(t, false, "--db", db, "new", "contact", "lastname="+n)
		if r.code != 0 {
			t.Fatalf("new: %d %s", r.code, r.stderr)
		}
		full = append(full, strings.TrimSpace(r.stdout))
	}
	r := runCLI(t, false, "--db", db, "new", "task", "subject=Call")
	task := strings.TrimSpace(r.stdout)
	r = runCLI(t, false, "--db", db, "list", "contacts")
	for _, id := range full {
		if !strings.Contains(r.stdout, id[24:]) || strings.Contains(r.stdout, id) {
			t.Errorf("list does not show the short id %s: %s", id[24:], r.stdout)
		}
	}
	short := full[0][24:]
	for _, args := range [][]string{
		{"show", short},
		{"set", short, "jobtitle=CTO"},
		{"link", task[24:], "--regarding", short},
	} {
		if r := runCLI(t, false, append([]string{"--db", db}, args...)...); r.code != 0 {
			t.Errorf("%v: exit %d %s", args, r.code, r.stderr)
		}
	}
	// The three contacts were made within a second: their first 8
	// characters are one UUIDv7 timestamp, unless a 65 s boundary fell
	// between them; take two that share it.
	prefix := full[1][:8]
	if full[0][:8] == prefix || full[2][:8] == prefix {
		for _, args := range [][]string{{"show", prefix}, {"set", prefix, "jobtitle=x"}, {"delete", prefix}, {"link", prefix, "--regarding", short}} {
			r := runCLI(t, false, append([]string{"--db", db}, args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "ambiguous") || !strings.Contains(r.stderr, full[1]) {
				t.Errorf("%v: exit %d, want 2 listing %s: %s", args, r.code, full[1], r.stderr)
			}
		}
	}
	if r := runCLI(t, false, "--db", db, "delete", short); r.code != 0 {
		t.Errorf("delete by short id: %d %s", r.code, r.stderr)
	}
}

// show --json uses snake_case keys with the record's fields under
// "fields" and lists as [] (it printed Go field names and null).
func TestShowJSONSchema(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crm.db")
	r := runCLI(t, false, "--db", db, "new", "contact", "lastname=Lee", "emailaddress1=lee@example.com")
	id := strings.TrimSpace(r.stdout)
	r = runCLI(t, false, "--db", db, "show", "--json", id)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("show --json: %d %v\n%s", r.code, err, r.stdout)
	}
	want := []string{"id", "short_id", "entity", "deleted", "created_at", "modified_at", "fields", "parties", "members", "attachments", "extras", "sources", "keys"}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("show --json lacks %q: %s", k, r.stdout)
		}
		if got[k] == nil {
			t.Errorf("show --json: %q is null", k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("show --json has keys beyond the schema: %s", r.stdout)
	}
	if f, _ := got["fields"].(map[string]any); f["lastname"] != "Lee" || got["id"] != id || got["short_id"] != id[24:] {
		t.Errorf("show --json values: %s", r.stdout)
	}
}

// import --quiet prints nothing on success, and the summary when some
// item failed.
func TestImportQuiet(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	good := filepath.Join(dir, "a.vcf")
	os.WriteFile(good, []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\nEND:VCARD\r\n"), 0o644)
	db := filepath.Join(dir, "crm.db")
	if r := runCLI(t, false, "--quiet", "--db", db, "import", good); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("--quiet import on success: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "b.vcf")
	os.WriteFile(bad, []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Bo;;;\r\nFN:Bo Doe\r\n"), 0o644)
	if r := runCLI(t, false, "--quiet", "--db", db, "import", bad); r.code != exitPartial || !strings.Contains(r.stdout, "import:") {
		t.Errorf("--quiet import with a problem: exit %d, stdout %q", r.code, r.stdout)
	}
}

// show prints a party (or member) whose name is its address once: the
// party rule gives a participant known by name only its name as address
// (crm.SettleParties), and "Bob Roe <Bob Roe>" said nothing more.
func TestShowPartyNameIsAddress(t *testing.T) {
	dir := t.TempDir()
	db, eml := filepath.Join(dir, "crm.db"), filepath.Join(dir, "m.eml")
	if err := os.WriteFile(eml, []byte("From: Bob Roe\r\nTo: Ann <ann@example.com>\r\nSubject: s\r\nMessage-ID: <s@x>\r\n\r\nbody\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, false, "--db", db, "--quiet", "import", eml); r.code != 0 {
		t.Fatalf("import: %d %s", r.code, r.stderr)
	}
	list := listJSON(t, db, "activities")
	if len(list) != 1 {
		t.Fatalf("list: %+v", list)
	}
	r := runCLI(t, false, "--db", db, "show", list[0].ID)
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "from":
			if got := strings.Join(f[1:], " "); got != "Bob Roe" {
				t.Errorf("from %q, want %q", got, "Bob Roe")
			}
		case "to":
			if got := strings.Join(f[1:], " "); got != "Ann <ann@example.com>" {
				t.Errorf("to %q", got)
			}
		}
	}
	if !strings.Contains(r.stdout, "from") {
		t.Errorf("no from in\n%s", r.stdout)
	}
}
