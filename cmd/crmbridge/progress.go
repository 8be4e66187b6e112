package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"crmbridge/bridge"
)

// reporter shows import progress: a one-line bar redrawn on a terminal,
// nothing but problems and the summary otherwise (cron), through slog.
type reporter struct {
	e        *env
	width    int // terminal columns
	file     string
	items    int
	start    time.Time
	lastDraw time.Time
	drawn    bool
	problems int
	// A run over many files: file N of M, bytes of the files before this
	// one out of all (bridge.FileCounter).
	fileN, files        int
	bytesDone, bytesAll int64
	curSize             int64
}

var (
	_ bridge.Reporter      = (*reporter)(nil)
	_ bridge.MergeReporter = (*reporter)(nil)
	_ bridge.FileCounter   = (*reporter)(nil)
)

func newReporter(e *env) *reporter {
	w := 80
	if f, ok := e.stderr.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			w = cols
		}
	}
	return &reporter{e: e, width: w}
}

func (r *reporter) Plan(files int, bytes int64) { r.files, r.bytesAll = files, bytes }

func (r *reporter) NextFile(path string, size int64) {
	r.fileN++
	r.bytesDone += r.curSize
	r.curSize = size
}

func (r *reporter) StartFile(path string, format bridge.Format, size int64) {
	r.file, r.items, r.start = path, 0, time.Now()
	r.e.log.Debug("reading", slog.String("file", path), slog.String("format", string(format)), slog.Int64("bytes", size))
	r.draw(true)
}

func (r *reporter) Progress(items int) {
	r.items = items
	r.draw(false)
}

func (r *reporter) Problem(err error) {
	r.problems++
	r.clear()
	r.e.log.Warn("skipped", slog.String("problem", err.Error()))
	r.draw(true)
}

func (r *reporter) Warning(err error) {
	r.clear()
	r.e.log.Warn("imported with a problem", slog.String("problem", err.Error()))
	r.draw(true)
}

// Merged names the record an item was merged into: at info level when the
// item was found to be another item's record (a duplicate, another
// source's copy), at debug level when it is the same item read again.
func (r *reporter) Merged(m bridge.MergedItem) {
	lvl := slog.LevelInfo
	if m.Again {
		lvl = slog.LevelDebug
	}
	if !r.e.log.Enabled(context.Background(), lvl) {
		return
	}
	r.clear()
	r.e.log.Log(context.Background(), lvl, "merged", slog.String("item", m.Pos), slog.String("entity", string(m.Entity)), slog.String("into", m.ID), slog.Bool("changed", m.Changed))
	r.draw(true)
}

func (r *reporter) Skipped(path string) {
	r.clear()
	r.e.log.Info("skipped: not a PST, OST, .msg, vCard, iCalendar, EML or mbox file", slog.String("file", path))
	r.draw(true)
}

func (r *reporter) EndFile(path string, skipped bool) {
	if skipped {
		r.e.log.Debug("unchanged since last import", slog.String("file", path))
		return
	}
	r.clear()
	r.e.log.Debug("imported", slog.String("file", path), slog.Int("items", r.items), slog.Duration("took", time.Since(r.start).Round(time.Millisecond)))
}

func (r *reporter) draw(force bool) {
	if !r.e.tty || r.e.quiet || r.file == "" {
		return
	}
	if !force && time.Since(r.lastDraw) < 100*time.Millisecond {
		return
	}
	r.lastDraw = time.Now()
	rate := float64(r.items) / time.Since(r.start).Seconds()
	const width = 24
	spin := r.items / 50 % width
	bar := strings.Repeat("·", spin) + "█" + strings.Repeat("·", width-1-spin)
	var prefix string
	if r.files > 1 {
		prefix = fmt.Sprintf("file %d of %d, %s of %s · ", r.fileN, r.files, byteSize(r.bytesDone), byteSize(r.bytesAll))
	}
	rest := fmt.Sprintf(" [%s] %d items %.0f/s", bar, r.items, rate)
	// One screen line: a wrapped line cannot be redrawn with \r. The file
	// name gives way first (to 8 characters), then the end of the line.
	name := []rune(filepath.Base(r.file))
	if avail := r.width - 1 - len([]rune(prefix)) - len([]rune(rest)); len(name) > avail {
		name = append(name[:min(max(avail-1, 8), len(name))], '…')
	}
	line := prefix + string(name) + rest
	if rs := []rune(line); len(rs) > r.width-1 {
		line = string(rs[:r.width-1])
	}
	fmt.Fprint(r.e.stderr, "\r\x1b[K"+line)
	r.drawn = true
}

func (r *reporter) clear() {
	if r.drawn {
		fmt.Fprint(r.e.stderr, "\r\x1b[K")
		r.drawn = false
	}
}

func (r *reporter) done() { r.clear() }

// progressLine is the one-line progress of push and pull: redrawn on a
// terminal at most every 100 ms, nothing otherwise (cron, --json, --quiet).
type progressLine struct {
	e     *env
	on    bool
	last  time.Time
	drawn bool
}

func newProgressLine(e *env, asJSON bool) *progressLine {
	return &progressLine{e: e, on: e.tty && !e.quiet && !asJSON}
}

func (p *progressLine) draw(text string) {
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprint(p.e.stderr, "\r\x1b[K"+text)
	p.drawn = true
}

func (p *progressLine) clear() {
	if p.drawn {
		fmt.Fprint(p.e.stderr, "\r\x1b[K")
		p.drawn = false
	}
}

// byteSize writes n bytes for people: 512 B, 1.5 kB, 20.3 MB, 1.1 GB.
func byteSize(n int64) string {
	const k = 1000
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f kB", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.1f MB", float64(n)/(k*k))
	}
	return fmt.Sprintf("%.1f GB", float64(n)/(k*k*k))
}
