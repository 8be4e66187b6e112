package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"crmbridge/fixtures"
)

// readmeCommand is one crmbridge command line README.md shows.
type readmeCommand struct {
	line  int
	text  string // as written, without the comment
	exits []int  // the exit statuses README gives for it: 0, and any "exit N" in its comment
}

var (
	inlineCommand = regexp.MustCompile("(?s)`(crmbridge\\s[^`]*)`")
	exitInComment = regexp.MustCompile(`\bexit (\d+)`)
	placeholder   = regexp.MustCompile(`^[A-Z][A-Z0-9-]*$`)
)

// readmeCommands extracts every crmbridge command line from README: the
// lines of ```sh blocks that start with "crmbridge ", and the inline code
// spans that do (which may wrap over two lines).
func readmeCommands(t *testing.T, readme string) []readmeCommand {
	t.Helper()
	var out []readmeCommand
	lines := strings.Split(readme, "\n")
	inSh := false
	var prose strings.Builder
	flushProse := func(upTo int) {
		text := prose.String()
		for _, m := range inlineCommand.FindAllStringSubmatchIndex(text, -1) {
			cmd := strings.Join(strings.Fields(text[m[2]:m[3]]), " ")
			n := upTo - strings.Count(text[m[2]:], "\n")
			out = append(out, readmeCommand{line: n, text: cmd, exits: []int{0}})
		}
		prose.Reset()
	}
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "```"):
			if !inSh {
				flushProse(i)
			}
			inSh = !inSh && strings.TrimPrefix(l, "```") == "sh"
			continue
		case inSh:
			if !strings.HasPrefix(l, "crmbridge ") {
				continue
			}
			cmd, comment, _ := strings.Cut(l, " #")
			c := readmeCommand{line: i + 1, text: strings.TrimSpace(cmd), exits: []int{0}}
			for _, m := range exitInComment.FindAllStringSubmatch(comment, -1) {
				n, _ := strconv.Atoi(m[1])
				c.exits = append(c.exits, n)
			}
			out = append(out, c)
		default:
			prose.WriteString(l + "\n")
		}
	}
	flushProse(len(lines))
	return out
}

// shellWords splits a command line as sh would, for the quoting README
// uses (double quotes).
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, has := false, false
	for _, r := range s {
		switch {
		case r == '"':
			in, has = !in, true
		case r == ' ' && !in:
			if has {
				words = append(words, w.String())
			}
			w.Reset()
			has = false
		default:
			w.WriteRune(r)
			has = true
		}
	}
	if has {
		words = append(words, w.String())
	}
	return words
}

// variants expands README's notation: "a|b|c" (outside key=value) runs each
// alternative, "[X]" is left out.
func variants(words []string) [][]string {
	out := [][]string{{}}
	for _, w := range words {
		if strings.HasPrefix(w, "[") && strings.HasSuffix(w, "]") {
			continue
		}
		alts := []string{w}
		if strings.Contains(w, "|") && !strings.Contains(w, "=") {
			alts = strings.Split(w, "|")
		}
		var next [][]string
		for _, o := range out {
			for _, a := range alts {
				next = append(next, append(append([]string{}, o...), a))
			}
		}
		out = next
	}
	return out
}

// cliFixture is a store with records of every kind the documented
// commands name, the files they read and a fake upstream, and the values
// of the placeholders (ID, SOURCE, ...) README and the helps use.
type cliFixture struct {
	t       *testing.T
	dir, db string
	subst   func(w string, words []string) (string, bool)
}

func newCLIFixture(t *testing.T) *cliFixture {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("CRM_TOKEN", pushToken)
	_, url, _ := newFakeUpstream(t)
	db := filepath.Join(dir, "crm.db")
	out := filepath.Join(dir, "out")
	os.MkdirAll(filepath.Join(out, "mail"), 0o700)
	exports := filepath.Join(dir, "exports")
	os.Mkdir(exports, 0o700)
	// ~/exports/: contacts (two pairs of possible duplicates: same
	// address, other names), a task, and old.vcf to forget.
	os.WriteFile(filepath.Join(exports, "people.vcf"), []byte(
		"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nN:Lee;Ann;;;\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n"+
			"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u2\r\nN:Other;Zed;;;\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n"+
			"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u3\r\nN:Roe;Bo;;;\r\nTITLE:Engineer\r\nEMAIL:bo@example.com\r\nEND:VCARD\r\n"+
			"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u4\r\nN:Else;Yan;;;\r\nEMAIL:bo@example.com\r\nEND:VCARD\r\n"), 0o600)
	os.WriteFile(filepath.Join(exports, "old.vcf"), []byte(
		"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u5\r\nN:Old;Olga;;;\r\nEMAIL:olga@example.com\r\nEND:VCARD\r\n"), 0o600)
	os.WriteFile(filepath.Join(exports, "tasks.ics"), []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"+
		"BEGIN:VTODO\r\nUID:t1@example.com\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Send offer\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"), 0o600)
	msgFile := filepath.Join(dir, "mail.msg")
	os.WriteFile(msgFile, fixtures.WriteMSG(&fixtures.MSGMessage{Props: []fixtures.MSGProp{
		{ID: 0x001A, Type: 0x001F, Value: "IPM.Note"}, {ID: 0x0037, Type: 0x001F, Value: "Quote"},
		{ID: 0x1035, Type: 0x001F, Value: "<quote-1@example.com>"}}}), 0o600)

	// Ids for the placeholders, once the store holds the records.
	ids := map[string]string{}
	idsOf := func() {
		if len(ids) > 0 {
			return
		}
		if r := runCLI(t, false, "--db", db, "import", exports); r.code != 0 {
			t.Fatalf("set-up import: %d %s", r.code, r.stderr)
		}
		byTitle := map[string]string{}
		for _, what := range []string{"contacts", "activities"} {
			for _, s := range listJSON(t, db, what) {
				byTitle[s.Title] = s.ID
			}
		}
		ids["contact"], ids["task"] = byTitle["Olga Old"], byTitle["Send offer"]
		ids["a1"], ids["b1"] = byTitle["Ann Lee"], byTitle["Zed Other"]
		ids["a2"], ids["b2"] = byTitle["Bo Roe"], byTitle["Yan Else"]
		for k, v := range ids {
			if v == "" {
				t.Fatalf("no record for %s in %v", k, byTitle)
			}
		}
	}
	// conflictID makes an open conflict for "conflicts resolve 3" and
	// returns its id: a CRM edit, then the file changes the same field,
	// imported with --conflict fail.
	round := 0
	conflictID := func() string {
		round++
		if r := runCLI(t, false, "--db", db, "set", ids["a2"], fmt.Sprintf("jobtitle=Boss %d", round)); r.code != 0 {
			t.Fatalf("set-up edit: %d %s", r.code, r.stderr)
		}
		os.WriteFile(filepath.Join(exports, "people.vcf"), []byte(regexp.MustCompile(`TITLE:[^\r]*`).ReplaceAllString(
			string(must(os.ReadFile(filepath.Join(exports, "people.vcf")))), fmt.Sprintf("TITLE:Lead %d", round))), 0o600)
		if r := runCLI(t, false, "--db", db, "import", "--conflict", "fail", exports); r.code != 1 {
			t.Fatalf("set-up conflict: %d %s %s", r.code, r.stdout, r.stderr)
		}
		r := runCLI(t, false, "--db", db, "conflicts", "--open", "--json")
		m := regexp.MustCompile(`"id": (\d+)`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no open conflict: %s", r.stdout)
		}
		return m[1]
	}
	backups := 0
	subst := func(w string, words []string) (string, bool) {
		switch w {
		case "mail.pst":
			return filepath.Join(fixtures.GoPSTData(t), "support.pst"), true
		case "mail.msg":
			return msgFile, true
		case "~/exports/", "PATH...":
			return exports, true
		case "~/exports/old.vcf":
			return filepath.Join(exports, "old.vcf"), true
		case "SOURCE":
			return filepath.Join(exports, "tasks.ics"), true
		case "out.vcf", "out.ics", "outlook.csv", "outlook.pst", "mail/":
			return filepath.Join(out, w), true
		case "/safe/crm-2026-11-30.db", "FILE":
			backups++
			return filepath.Join(dir, fmt.Sprintf("backup-%d.db", backups)), true
		case "base_url=https://org.crm.dynamics.com/api/data/v9.2/":
			return "base_url=" + url, true
		case "PATH": // export --vcf|--ics|--eml|--csv|--pst PATH
			for _, x := range words {
				switch x {
				case "--eml":
					return filepath.Join(out, "mail"), true
				case "--vcf", "--ics", "--csv", "--pst":
					return filepath.Join(out, "usage."+x[2:]), true
				}
			}
		case "key=value...":
			return "timeout=20s", true
		case "TYPE":
			return "contact", true
		case "field=value...":
			if words[0] == "new" {
				return "lastname=Usage", true
			}
			return "jobtitle=Usage", true
		case "9c41e07b52d3", "ID":
			idsOf()
			if words[0] == "link" {
				return ids["a1"], true
			}
			if words[0] == "conflicts" {
				return conflictID(), true
			}
			return ids["contact"], true
		case "CONTACT-ID": // not the contact README deletes: a link to a deleted record does not push
			idsOf()
			return ids["a1"], true
		case "TASK-ID", "ACTIVITY-ID":
			idsOf()
			return ids["task"], true
		case "A", "B":
			idsOf()
			pair := "1"
			if words[1] == "dismiss" {
				pair = "2"
			}
			return ids[strings.ToLower(w)+pair], true
		case "3":
			if len(words) > 2 && words[0] == "conflicts" && words[1] == "resolve" {
				idsOf()
				return conflictID(), true
			}
		}
		return w, !placeholder.MatchString(w)
	}
	if r := runCLI(t, false, "config", "set", "base_url="+url, "token_env=CRM_TOKEN", "timeout=10s"); r.code != 0 {
		t.Fatalf("config set: %d %s", r.code, r.stderr)
	}
	return &cliFixture{t: t, dir: dir, db: db, subst: subst}
}

// run runs every variant of a documented command line (see variants) and
// reports an exit status not in exits.
func (f *cliFixture) run(where, text string, words []string, exits []int) {
	t := f.t
	for _, v := range variants(words) {
		args := make([]string, len(v))
		ok := true
		for i, w := range v {
			var known bool
			if args[i], known = f.subst(w, v); !known {
				t.Errorf("%s: %s: no value for the placeholder %s (add it to newCLIFixture)", where, text, w)
				ok = false
			}
		}
		if !ok {
			continue
		}
		r := runCLI(t, false, append([]string{"--db", f.db}, args...)...)
		if !slices.Contains(exits, r.code) {
			t.Errorf("%s: crmbridge %s: exit %d, the documentation says %v\nstdout: %s\nstderr: %s",
				where, strings.Join(v, " "), r.code, exits, lastLines(r.stdout, 5), lastLines(r.stderr, 10))
		}
	}
}

// Every crmbridge command line README shows runs, in README's order,
// against one store with the files it names, and exits as README says: 0,
// or a status its comment names. A command or flag that does not exist
// fails (exit 2); so does a placeholder the test does not know.
func TestREADMECommandsRun(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeCommands(t, string(readme))
	if len(cmds) < 30 {
		t.Fatalf("only %d commands found in README: the extraction is broken", len(cmds))
	}
	f := newCLIFixture(t)
	for _, c := range cmds {
		f.run(fmt.Sprintf("README.md:%d", c.line), c.text, shellWords(c.text)[1:], c.exits)
	}
}

// Every command's and subcommand's usage line, as its --help shows it
// ("crmbridge link [command options] ACTIVITY-ID --regarding ID"), runs
// with its placeholders filled in and exits 0; delete runs last.
func TestHelpUsageLinesRun(t *testing.T) {
	f := newCLIFixture(t)
	app, _ := newApp(nil, nil, false)
	var lines [][]string
	var last [][]string
	var walk func(prefix []string, cmds []*cli.Command)
	walk = func(prefix []string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Hidden {
				continue
			}
			words := append(append([]string{}, prefix...), c.Name)
			if c.Action != nil {
				line := append(words, dropOptional(strings.Fields(c.ArgsUsage))...)
				if c.Name == "delete" {
					last = append(last, line)
				} else {
					lines = append(lines, line)
				}
			}
			walk(words, c.Subcommands)
		}
	}
	walk(nil, app.Commands)
	if len(lines) < 20 {
		t.Fatalf("only %d usage lines", len(lines))
	}
	for _, words := range append(lines, last...) {
		f.run("--help of "+strings.Join(words[:1], " "), strings.Join(words, " "), words, []int{0})
	}
}

// dropOptional leaves out the bracketed parts of a usage line, which may
// span words: "[set key=value...]", "[COMMAND [SUBCOMMAND]]".
func dropOptional(words []string) []string {
	var out []string
	depth := 0
	for _, w := range words {
		if depth == 0 && !strings.HasPrefix(w, "[") {
			out = append(out, w)
			continue
		}
		depth += strings.Count(w, "[") - strings.Count(w, "]")
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return v
}

// A command that takes no arguments refuses one (exit 2) instead of
// ignoring it: "duplicates dismis A B" must not list duplicates and exit 0.
func TestExtraArgumentsAreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	db := filepath.Join(dir, "crm.db")
	if r := runCLI(t, false, "--db", db, "new", "contact", "lastname=Lee"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	needs := map[string][]string{"export": {"--vcf", filepath.Join(dir, "o.vcf")}}
	app, _ := newApp(nil, nil, false)
	for _, c := range app.Commands {
		// No positional arguments: no usage, or flags only (export).
		if c.ArgsUsage != "" && !strings.HasPrefix(c.ArgsUsage, "--") || c.Hidden || c.Name == "help" {
			continue
		}
		args := append(append([]string{"--db", db, c.Name}, needs[c.Name]...), "stray")
		if r := runCLI(t, false, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args[2:], r.code, r.stderr)
		}
	}
}
