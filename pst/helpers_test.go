package pst

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"crmbridge/fixtures"
	"crmbridge/internal/recovered"

	gopst "github.com/mooijtech/go-pst/v6/pkg"
)

// corpusPSTs returns every PST of the shared corpus and go-pst's data/,
// keyed by base name without extension. Skips when neither is present.
func corpusPSTs(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range fixtures.CorpusFiles(t, "pst") {
		if strings.HasSuffix(strings.ToLower(p), ".pst") || strings.HasSuffix(strings.ToLower(p), ".ost") {
			out[strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))] = p
		}
	}
	data := fixtures.GoPSTData(t)
	ents, _ := os.ReadDir(data)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".pst") {
			out[strings.TrimSuffix(e.Name(), ".pst")] = filepath.Join(data, e.Name())
		}
	}
	return out
}

// corpusFile returns one corpus PST by base name, skipping when absent.
func corpusFile(t testing.TB, name string) string {
	t.Helper()
	p, ok := corpusPSTs(t)[name]
	if !ok {
		t.Skipf("corpus file %s not found", name)
	}
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readAll opens path and collects every item; item errors fail the test.
func readAll(t testing.TB, path string) []*Item {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer f.Close()
	var items []*Item
	for it, err := range f.Items(context.Background()) {
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
			continue
		}
		items = append(items, it)
	}
	return items
}

var (
	pffMu    sync.Mutex
	pffCache = map[string]string{}
	pffDirs  []string
)

// TestMain removes pffexport's directories and fails the run when any
// panic was recovered (a go-pst panic on a corrupt file included: each one
// is a reader bug to fix or to guard before go-pst is called).
func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range pffDirs {
		os.RemoveAll(d)
	}
	os.Exit(recovered.CheckMain(code, os.Stderr))
}

// pffexport runs `pffexport -m items -f all` on path into a temporary
// directory (once per test binary) and returns the export directory, or
// skips when pffexport is not installed.
func pffexport(t testing.TB, path string) string {
	t.Helper()
	return pffexportCP(t, path, "")
}

// pffexportCP is pffexport with -c codepage for 8-bit strings ("" = its
// default, windows-1252).
func pffexportCP(t testing.TB, path, codepage string) string {
	t.Helper()
	bin, err := exec.LookPath("pffexport")
	if err != nil {
		t.Skip("pffexport (pff-tools) not installed: skipping the comparison with an independent reader")
	}
	pffMu.Lock()
	defer pffMu.Unlock()
	key := path + "\x00" + codepage
	if d, ok := pffCache[key]; ok {
		return d
	}
	dir, err := os.MkdirTemp("", "pffexport-")
	if err != nil {
		t.Fatal(err)
	}
	pffDirs = append(pffDirs, dir)
	target := filepath.Join(dir, "x")
	args := []string{"-m", "items", "-f", "all", "-t", target}
	if codepage != "" {
		args = append(args, "-c", codepage)
	}
	cmd := exec.Command(bin, append(args, path)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("pffexport %s: %v\n%s", path, err, out)
	}
	pffCache[key] = target + ".export"
	return pffCache[key]
}

// pffItem is one item directory of a pffexport tree.
type pffItem struct {
	dir    string // path relative to the export root
	kind   string // directory name without digits: Message, Contact, Appointment, …
	folder string

	created, modified time.Time // from its text file, for matching
	subject           string
}

// pffItems lists the top-level items (not those inside attachments) of an
// export tree.
func pffItems(t testing.TB, root string) []pffItem {
	t.Helper()
	var out []pffItem
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == root {
			return nil
		}
		if d.Name() == "Attachments" {
			return filepath.SkipDir
		}
		name := d.Name()
		i := len(name)
		for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
			i--
		}
		if len(name)-i == 5 && i > 0 && strings.ToUpper(name[:1]) == name[:1] {
			if _, err := os.Stat(filepath.Join(p, "OutlookHeaders.txt")); err == nil || kindOfPff(name[:i]) != "" {
				rel, _ := filepath.Rel(root, p)
				out = append(out, pffItem{dir: rel, kind: name[:i], folder: filepath.Dir(rel)})
				return filepath.SkipDir
			}
		}
		return nil
	})
	return out
}

// kindOfPff maps pffexport's item directory names to our kinds.
func kindOfPff(name string) string {
	switch name {
	case "Message", "Meeting":
		return "email"
	case "Contact":
		return "contact"
	case "Appointment":
		return "appointment"
	case "Task":
		return "task"
	case "DistributionList":
		return "distlist"
	case "Note", "Activity":
		return "note"
	}
	return ""
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gopstID(nid uint32) gopst.Identifier { return gopst.Identifier(nid) }

// corpusPSTsNoSkip is corpusPSTs for fuzz seeding: a missing corpus gives
// no seeds instead of skipping.
func corpusPSTsNoSkip(tb testing.TB) map[string]string {
	out := map[string]string{}
	root := filepath.Join(fixtures.Root(), "..", "shared", "corpus", "pst")
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".pst") {
			out[strings.TrimSuffix(e.Name(), ".pst")] = filepath.Join(root, e.Name())
		}
	}
	if d := goPSTDataNoSkip(); d != "" {
		out["32-bit"] = filepath.Join(d, "32-bit.pst")
	}
	return out
}

func goPSTDataNoSkip() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/mooijtech/go-pst/v6").Output()
	if err != nil {
		return ""
	}
	return filepath.Join(strings.TrimSpace(string(out)), "data")
}
