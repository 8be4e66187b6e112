package bridge

import (
	"context"
	"fmt"
	"runtime/debug"
)

// BulkMode says when an import defers the store's read-side indexes
// (crmstore.DeferIndexes) and builds them once at its end.
type BulkMode int

const (
	// BulkAuto defers them for a large file new to the store (bulkWorth).
	BulkAuto BulkMode = iota
	// BulkOn defers them for any file read.
	BulkOn
	// BulkOff never defers them.
	BulkOff
)

// ParseBulkMode reads "auto", "on" or "off".
func ParseBulkMode(s string) (BulkMode, error) {
	switch s {
	case "auto", "":
		return BulkAuto, nil
	case "on":
		return BulkOn, nil
	case "off":
		return BulkOff, nil
	}
	return BulkAuto, fmt.Errorf("--bulk %q: want auto, on or off", s)
}

// bulkMinBytes is the smallest file BulkAuto defers indexes for: below
// it, the indexes of what it brings fit the page cache and the end's
// build of every title index would cost more than it saves.
const bulkMinBytes = 16 << 20

// bulkWorth reports whether a file of size bytes, never imported before
// (known: the store has its fingerprint), into a store of storeBytes,
// is worth deferring the indexes for. Each record a file adds costs,
// with the indexes, about one page read and one page write per deferred
// index once they outgrow the page cache; building them at the end costs
// one sorted pass over the whole store. The records a new file adds
// scale with its size (a 49 MB VCF of 100,000 contacts makes a 280 MB
// store), so: a file of at least bulkMinBytes and at least an eighth of
// the store. A file imported before is mostly unchanged items (a re-read
// or a new version), which write no index.
func bulkWorth(size, storeBytes int64, known bool) bool {
	return !known && size >= bulkMinBytes && size*8 >= storeBytes
}

// startBulk defers the store's indexes before the file at abs is read,
// when the mode and bulkWorth say so and this run has not already.
func (im *Importer) startBulk(ctx context.Context, abs string, size int64) error {
	if im.bulk || im.opts.Bulk == BulkOff {
		return nil
	}
	if im.opts.Bulk == BulkAuto {
		prev, err := im.store.SourceFile(ctx, abs)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		storeBytes, err := im.store.Bytes(ctx)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if !bulkWorth(size, storeBytes, prev != nil) {
			return nil
		}
	}
	if _, err := im.store.DeferIndexes(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	im.bulk = true
	return nil
}

// endBulk builds the indexes startBulk deferred. It runs whatever ended
// the import (an interrupted one too); a process killed before leaves them
// recorded in the store, and the next command that writes builds them.
func (im *Importer) endBulk(ctx context.Context) error {
	if !im.bulk {
		return nil
	}
	im.bulk = false
	im.store.EndBulkLookups()
	// What the import held (the run's identity keys too) is garbage now; the build's sort and pages
	// come on top of whatever the process still holds (a million cards:
	// peak RSS 61 MiB while importing, 67 MiB while building).
	debug.FreeOSMemory()
	if err := im.store.BuildDeferred(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
