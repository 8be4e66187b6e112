package main

import (
	"errors"
	"os"

	"crmbridge/bridge/upstream"
)

// configJSON is config --json: the effective upstream settings, never the
// token itself.
type configJSON struct {
	ConfigFile     string  `json:"config_file"`
	Configured     bool    `json:"configured"` // the file exists and holds a base_url
	BaseURL        string  `json:"base_url"`
	TokenSource    string  `json:"token_source"` // where the token comes from, as config prints it; "" when none
	TokenReadable  bool    `json:"token_readable"`
	CAFile         string  `json:"ca_file"`
	TimeoutSeconds float64 `json:"timeout_seconds"`
	BatchSize      int     `json:"batch_size"`
	MaxAttempts    int     `json:"max_attempts"`
}

func printConfigJSON(e *env, path string) error {
	var cfg upstream.Config
	js := configJSON{ConfigFile: path}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		c, err := upstream.LoadConfig(path)
		if err != nil {
			return err
		}
		cfg = c
		js.Configured = cfg.BaseURL != ""
	}
	js.BaseURL, js.TokenSource, js.CAFile = cfg.BaseURL, cfg.TokenSource(), cfg.CAFile
	if js.TokenSource != "" {
		_, err := cfg.Token()
		js.TokenReadable = err == nil
	}
	eff := cfg.Effective()
	js.TimeoutSeconds, js.BatchSize, js.MaxAttempts = eff.Timeout.Seconds(), eff.BatchSize, eff.MaxAttempts
	return e.printJSON(js)
}
