package crmstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is returned (wrapped in a *LockedError) when another process
// holds the store's write lock past the lock timeout.
var ErrLocked = errors.New("crmstore: store is locked")

// LockInfo says who holds a write lock.
type LockInfo struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	User    string    `json:"user"`
	Command string    `json:"command"`
	Created time.Time `json:"created"`
}

func (l LockInfo) String() string {
	if l.PID == 0 {
		return "an unknown process"
	}
	return fmt.Sprintf("PID %d on %s by %s (%s), created at %s (%s ago)",
		l.PID, l.Host, l.User, l.Command, l.Created.Local().Format("2006-01-02 15:04:05"),
		time.Since(l.Created).Round(time.Second))
}

// LockedError reports that the store is locked and by whom.
type LockedError struct {
	Path   string
	Holder LockInfo
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("store %s is locked by %s", e.Path, e.Holder)
}

// Unwrap lets errors.Is(err, ErrLocked) match.
func (e *LockedError) Unwrap() error { return ErrLocked }

// IsLocked reports whether err says the store is locked.
func IsLocked(err error) bool { return errors.Is(err, ErrLocked) }

// fileLock is an exclusive advisory lock (flock) on "<db>.lock". The kernel
// drops it when the process dies, so a lock is never stale; the file holds
// the holder's description so that a waiting process can name it.
type fileLock struct {
	f *os.File
}

func acquireLock(ctx context.Context, path string, timeout time.Duration, command string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	deadline := time.Now().Add(timeout)
	delay := 20 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			holder := readLockInfo(path)
			f.Close()
			return nil, &LockedError{Path: strings.TrimSuffix(path, ".lock"), Holder: holder}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 500*time.Millisecond {
			delay *= 2
		}
	}
	host, _ := os.Hostname()
	uname := "unknown"
	if u, err := user.Current(); err == nil {
		uname = u.Username
	}
	info, _ := json.Marshal(LockInfo{PID: os.Getpid(), Host: host, User: uname, Command: command, Created: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(info, '\n'), 0)
	}
	return &fileLock{f: f}, nil
}

func readLockInfo(path string) LockInfo {
	var li LockInfo
	b, err := os.ReadFile(path)
	if err == nil {
		_ = json.Unmarshal(b, &li)
	}
	return li
}

func (l *fileLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing drops the flock
	l.f = nil
	return err
}

// LockWrite takes the store's write lock for a while, for a Store opened
// without Options.Write: an export reads a snapshot without it and locks
// only to record what it wrote. It waits up to Options.LockTimeout, like
// Open. Call the returned function to release the lock. With the lock
// already held (Options.Write) it does nothing.
func (s *Store) LockWrite(ctx context.Context) (release func() error, err error) {
	if s.lock != nil && s.lock.f != nil {
		return func() error { return nil }, nil
	}
	l, err := acquireLock(ctx, s.path+".lock", s.opts.LockTimeout, s.opts.Command)
	if err != nil {
		return nil, err
	}
	return l.release, nil
}
