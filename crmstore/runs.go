package crmstore

import (
	"context"
	"encoding/json"
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
	// Result is the run's outcome as the JSON object the command prints
	// with --json; {} for a command that has none.
	Result json.RawMessage `json:"result"`
}

// StartRun records the start of a write command and returns its id.
func (s *Store) StartRun(ctx context.Context, command string) (int64, error) {
	r, err := s.db.ExecContext(ctx, `INSERT INTO run (command, started_at) VALUES (?, ?)`, command, s.stamp())
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	return r.LastInsertId()
}

// FinishRun records the end of a run: its exit status, summary line and
// result (a JSON object, or nil).
func (s *Store) FinishRun(ctx context.Context, id int64, exitCode int, summary string, result json.RawMessage) error {
	_, err := s.db.ExecContext(ctx, `UPDATE run SET finished_at = ?, exit_code = ?, summary = ?, result = ? WHERE id = ?`,
		s.stamp(), exitCode, summary, string(result), id)
	return err
}

// Runs returns the last n runs, newest first.
func (s *Store) Runs(ctx context.Context, n int) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, command, started_at, finished_at, COALESCE(exit_code, -1), summary, result FROM run ORDER BY id DESC LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var st, fin, res string
		if err := rows.Scan(&r.ID, &r.Command, &st, &fin, &r.ExitCode, &r.Summary, &res); err != nil {
			return nil, err
		}
		r.Result = json.RawMessage("{}")
		if len(res) > 0 && res[0] == '{' && json.Valid([]byte(res)) {
			r.Result = json.RawMessage(res)
		}
		r.StartedAt, _ = time.Parse(time.RFC3339Nano, st)
		r.FinishedAt, _ = time.Parse(time.RFC3339Nano, fin)
		out = append(out, r)
	}
	return out, rows.Err()
}
