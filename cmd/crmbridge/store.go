package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"crmbridge/crmstore"
)

// openStore opens the store for reading (no lock, never created).
func (e *env) openStore(ctx context.Context) (*crmstore.Store, error) {
	return e.open(ctx, false, false, "")
}

func (e *env) open(ctx context.Context, write, create bool, command string) (*crmstore.Store, error) {
	if e.dbErr != nil {
		return nil, e.dbErr
	}
	return crmstore.Open(ctx, e.dbPath, crmstore.Options{
		Write: write, LockTimeout: e.lockTimeout, Command: command,
		Create: create, CreateDir: create && e.defaultPath,
		Warn: func(msg string) { e.log.Warn(msg) },
	})
}

// writeOpts say how withStore opens the store.
type writeOpts struct {
	// create makes the store when it does not exist (import, new, pull):
	// at the default path with its directories, elsewhere only in an
	// existing directory.
	create bool
	// lockLater opens the store without the write lock: the command
	// (export) reads a snapshot and takes the lock itself, only to write
	// (crmstore.Store.LockWrite).
	lockLater bool
}

// withStore is the one way a command writes to the store: it opens the
// store (checked, see crmstore.Open), takes the write lock, records the run
// and its outcome (summary and exit status), and runs fn. fn returns the
// summary to record and an error that exitCode maps.
func withStore(ctx context.Context, e *env, command string, o writeOpts, fn func(*crmstore.Store) (string, error)) error {
	store, err := e.open(ctx, !o.lockLater, o.create, "crmbridge "+command)
	if err != nil {
		return err
	}
	defer store.Close()
	runID, err := store.StartRun(ctx, command)
	if err != nil {
		store.Fail(err)
		return err
	}
	e.runResult = nil
	summary, err := fn(store)
	if ctx.Err() != nil && err != nil && !errors.Is(err, context.Canceled) {
		// A store call cut short by the interrupt: report it as one.
		err = fmt.Errorf("%w (%v)", context.Canceled, err)
	}
	store.Fail(err)
	var result json.RawMessage
	if e.runResult != nil {
		result, _ = json.Marshal(e.runResult)
	}
	if ferr := store.FinishRun(context.WithoutCancel(ctx), runID, exitCode(err), summary, result); ferr != nil {
		e.log.Warn("record run", slog.Any("err", ferr))
	}
	return err
}

// withTx runs fn in one write transaction of the store (see withStore).
func withTx(ctx context.Context, e *env, command string, o writeOpts, fn func(tx *crmstore.Tx) (string, error)) error {
	return withStore(ctx, e, command, o, func(store *crmstore.Store) (string, error) {
		var summary string
		err := store.Update(ctx, func(tx *crmstore.Tx) error {
			var err error
			summary, err = fn(tx)
			return err
		})
		return summary, err
	})
}

// damagedAdvice says what to do about a refused store file.
func damagedAdvice(err error, path string) string {
	var de *crmstore.DamagedError
	if errors.As(err, &de) {
		path = de.Path
	}
	if errors.Is(err, crmstore.ErrNotStore) {
		return fmt.Sprintf("crmbridge: %s was not used or changed. Give --db (or CRMBRIDGE_DB) the path of your store, or move this file away to start a new store there.", path)
	}
	return fmt.Sprintf("crmbridge: the store %s was not changed. Keep a copy of it, run crmbridge --db %s check for the details, and restore the store from a backup (crmbridge backup makes one); sqlite3's .recover can often rescue what it holds.", path, path)
}
