package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

const jsonFixtureICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:meet-1@example.com\r\n" +
	"DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Review\r\n" +
	"ORGANIZER;CN=Ann Lee:mailto:ann@example.com\r\nATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n" +
	"END:VEVENT\r\nEND:VCALENDAR\r\n"

const jsonFixtureEML = "From: Ann Lee <ann@example.com>\r\nTo: bob@example.com\r\nSubject: Report\r\n" +
	"Date: Mon, 05 Jan 2026 10:00:00 +0000\r\nMessage-ID: <r1@example.com>\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
	"--b\r\nContent-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nhello\r\n--b--\r\n"

const jsonFixtureVCF = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann-1\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\nEMAIL:ann@example.com\r\n" +
	"TITLE:Engineer\r\nX-SKYPE:ann.lee\r\nREV:20200101T000000Z\r\nEND:VCARD\r\n" +
	"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:other-ann\r\nN:Other;Zed;;;\r\nFN:Zed Other\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n"

// jsonCommands are the command lines whose --json output the test checks,
// by schema definition. Every command and subcommand with a --json flag
// must have one (TestJSONOutputMatchesSchema fails otherwise).
func jsonCommands(dir, db, id, vcf string) map[string][]string {
	return map[string][]string{
		"status":     {"status", "--json"},
		"list":       {"list", "contacts", "--json"},
		"show":       {"show", "--json", id},
		"import":     {"import", "--json", dir},
		"export":     {"export", "--json", "--vcf", filepath.Join(dir, "out.vcf"), "--ics", filepath.Join(dir, "out.ics")},
		"new":        {"new", "--json", "contact", "lastname=Lee", "firstname=Bo"},
		"set":        {"set", "--json", id, "jobtitle=CTO"},
		"check":      {"check", "--json"},
		"conflicts":  {"conflicts", "--json"},
		"duplicates": {"duplicates", "--json"},
		"push":       {"push", "--json"},
		"pull":       {"pull", "--json"},
		"sync":       {"sync", "--json"},
		"forget":     {"forget", "--dry-run", "--json", vcf},
		"config":     {"config", "--json"},
	}
}

// Every --json output matches its definition in json.schema.json (the one
// schema README's "JSON output" points to): no key more or less, the
// types, ids and times as declared.
func TestJSONOutputMatchesSchema(t *testing.T) {
	schema, err := loadJSONSchema("json.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	_, url, _ := newFakeUpstream(t)
	configure(t, url)
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	src := filepath.Join(dir, "in")
	os.Mkdir(src, 0o700)
	vcf := filepath.Join(src, "people.vcf")
	os.WriteFile(vcf, []byte(jsonFixtureVCF), 0o600)
	os.WriteFile(filepath.Join(src, "meet.ics"), []byte(jsonFixtureICS), 0o600)
	os.WriteFile(filepath.Join(src, "report.eml"), []byte(jsonFixtureEML), 0o600)
	db := filepath.Join(dir, "crm.db")
	if r := runCLI(t, false, "--db", db, "import", src); r.code != 0 {
		t.Fatalf("import: %d %s", r.code, r.stderr)
	}
	// A conflict: a CRM edit, then the card changes the same field.
	var ann string
	for _, s := range listJSON(t, db, "contacts") {
		if s.Title == "Ann Lee" {
			ann = s.ID
		}
	}
	if r := runCLI(t, false, "--db", db, "set", ann, "jobtitle=Boss"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	os.WriteFile(vcf, []byte(strings.Replace(jsonFixtureVCF, "TITLE:Engineer", "TITLE:Lead", 1)), 0o600)

	// Commands with --json, from the command definitions.
	app, _ := newApp(nil, nil, false)
	var withJSON []string
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				if f.Names()[0] == "json" {
					withJSON = append(withJSON, prefix+c.Name)
				}
			}
			walk(prefix+c.Name+" ", c.Subcommands)
		}
	}
	walk("", app.Commands)
	cases := jsonCommands(src, db, ann, vcf)
	for _, name := range withJSON {
		if _, ok := cases[name]; !ok {
			t.Errorf("%s has --json but no case in jsonCommands (and maybe no $defs/%s in json.schema.json)", name, name)
		}
	}
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	// Run them in an order where each has something to say.
	order := []string{"import", "conflicts", "duplicates", "show", "list", "set", "new", "export", "config", "push", "pull", "sync", "forget", "check", "status"}
	if len(order) != len(names) {
		t.Fatalf("order %v does not cover %v", order, names)
	}
	for _, name := range order {
		args := cases[name]
		r := runCLI(t, false, append([]string{"--db", db}, args...)...)
		if r.code != 0 {
			t.Errorf("%v: exit %d\n%s", args, r.code, r.stderr)
			continue
		}
		for _, e := range schema.validate(name, []byte(r.stdout)) {
			t.Errorf("%v: %s", args, e)
		}
		if strings.Contains(r.stdout, pushToken) {
			t.Errorf("%v: the token is in the output", args)
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("%s --json:\n%s", name, r.stdout)
		}
	}
	// show of an e-mail with an attachment and parties, and of a meeting.
	acts := listJSON(t, db, "activities")
	if len(acts) != 2 {
		t.Fatalf("%d activities, want the e-mail and the meeting", len(acts))
	}
	for _, a := range acts {
		r := runCLI(t, false, "--db", db, "show", "--json", a.ID)
		if r.code != 0 || !strings.Contains(r.stdout, `"role": "to"`) && !strings.Contains(r.stdout, `"role": "organizer"`) {
			t.Errorf("show %s: exit %d, no parties\n%s", a.Title, r.code, r.stdout)
		}
		for _, e := range schema.validate("show", []byte(r.stdout)) {
			t.Errorf("show %s: %s", a.Title, e)
		}
	}
}

// The validator fails on drift: a key more, a key less, a wrong type, a
// null list.
func TestJSONSchemaValidatorFails(t *testing.T) {
	schema, err := loadJSONSchema("json.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	ok := `{"id":"0190a0b0-0000-7000-8000-0123456789ab","short_id":"0123456789ab","entity":"contact","changed":["x"]}`
	if errs := schema.validate("new", []byte(ok)); len(errs) != 0 {
		t.Fatalf("valid document refused: %v", errs)
	}
	for _, bad := range []string{
		`{"id":"0190a0b0-0000-7000-8000-0123456789ab","short_id":"0123456789ab","entity":"contact","changed":["x"],"extra":1}`,
		`{"id":"0190a0b0-0000-7000-8000-0123456789ab","short_id":"0123456789ab","entity":"contact"}`,
		`{"id":"0190a0b0-0000-7000-8000-0123456789ab","short_id":"0123456789ab","entity":"contact","changed":null}`,
		`{"ID":"0190a0b0-0000-7000-8000-0123456789ab","short_id":"0123456789ab","entity":"contact","changed":[]}`,
		`{"id":"3f2a9c1e","short_id":"0123456789ab","entity":"contact","changed":[]}`,
		`{"id":"0190a0b0-0000-7000-8000-0123456789ab","short_id":"0123456789ab","entity":"widget","changed":[]}`,
	} {
		if errs := schema.validate("new", []byte(bad)); len(errs) == 0 {
			t.Errorf("drift not caught: %s", bad)
		}
	}
}

// README's "JSON output" section names every key the schema defines.
func TestREADMENamesEveryJSONKey(t *testing.T) {
	schema, err := loadJSONSchema("json.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "## JSON output")
	if start < 0 {
		t.Fatal("README has no \"## JSON output\" section")
	}
	section := text[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	if !strings.Contains(section, "cmd/crmbridge/json.schema.json") {
		t.Error("the JSON output section does not point to the schema file")
	}
	keys := map[string]bool{}
	var collect func(v any)
	collect = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				for k := range props {
					keys[k] = true
				}
			}
			for _, y := range x {
				collect(y)
			}
		case []any:
			for _, y := range x {
				collect(y)
			}
		}
	}
	collect(schema.root)
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z_0-9]+)`").FindAllStringSubmatch(section, -1) {
		named[m[1]] = true
	}
	var missing []string
	for k := range keys {
		if !named[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("README's JSON output section does not name: %s", strings.Join(missing, ", "))
	}
}

type listEntry struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

func listJSON(t *testing.T, db, what string) []listEntry {
	t.Helper()
	r := runCLI(t, false, "--db", db, "list", what, "--json")
	var out []listEntry
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("list --json: %d %v %s", r.code, err, r.stdout)
	}
	return out
}

// status --json gives the last run's outcome as data, not only as a
// sentence: last_run.result is the object the command prints with --json.
func TestStatusLastRunResult(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	vcf := filepath.Join(dir, "a.vcf")
	os.WriteFile(vcf, []byte(jsonFixtureVCF), 0o600)
	db := filepath.Join(dir, "crm.db")
	if r := runCLI(t, false, "--db", db, "import", vcf); r.code != 0 {
		t.Fatal(r.stderr)
	}
	var st struct {
		LastRun struct {
			Command string `json:"command"`
			Result  struct {
				FilesRead int `json:"files_read"`
				Entities  map[string]struct {
					Created int `json:"created"`
				} `json:"entities"`
			} `json:"result"`
		} `json:"last_run"`
	}
	r := runCLI(t, false, "--db", db, "status", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.LastRun.Result.FilesRead != 1 || st.LastRun.Result.Entities["contact"].Created != 2 {
		t.Errorf("last_run.result after import: %+v\n%s", st.LastRun, r.stdout)
	}
	if r := runCLI(t, false, "--db", db, "delete", listJSON(t, db, "contacts")[0].ID); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r = runCLI(t, false, "--db", db, "status", "--json")
	if !strings.Contains(r.stdout, `"result": {}`) {
		t.Errorf("a command without --json output records {}:\n%s", r.stdout)
	}
}
