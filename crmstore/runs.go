package crmstore

import (
	"context"
	"fmt"
	"time"
)

// Run is one recorded command run.
type Run struct {
	ID         int64     `json:"id"`
	Command    string    `json:"command"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	ExitCode   int       `json:"exit_code"`
	Summary    string    `json:"summary"`
}

// StartRun records the start of a write command and returns its id.
func (s *Store) StartRun(ctx context.Context, command string) (int64, error) {
	r, err := s.db.ExecContext(ctx, `INSERT INTO run (command, started_at) VALUES (?, ?)`, command, s.stamp())
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	return r.LastInsertId()
}

// FinishRun records the end of a run.
func (s *Store) FinishRun(ctx context.Context, id int64, exitCode int, summary string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE run SET finished_at = ?, exit_code = ?, summary = ? WHERE id = ?`, s.stamp(), exitCode, summary, id)
	return err
}

// Runs returns the last n runs, newest first.
func (s *Store) Runs(ctx context.Context, n int) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, command, started_at, finished_at, COALESCE(exit_code, -1), summary FROM run ORDER BY id DESC LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var st, fin string
		if err := rows.Scan(&r.ID, &r.Command, &st, &fin, &r.ExitCode, &r.Summary); err != nil {
			return nil, err
		}
		r.StartedAt, _ = time.Parse(time.RFC3339Nano, st)
		r.FinishedAt, _ = time.Parse(time.RFC3339Nano, fin)
		out = append(out, r)
	}
	return out, rows.Err()
}
