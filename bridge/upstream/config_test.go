package upstream_test

import (
	"bytes"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crmbridge/bridge/upstream"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	p, err := upstream.DefaultConfigPath()
	if err != nil || p != filepath.Join(dir, "crmbridge", "config") {
		t.Fatalf("default path %q %v", p, err)
	}
	os.MkdirAll(filepath.Dir(p), 0o700)
	os.WriteFile(p, []byte(`# upstream
base_url   = "https://org.crm.dynamics.com/api/data/v9.2/"
token_env  = CRMBRIDGE_TOKEN
timeout    = 90s
batch_size = 250
max_attempts = 5
`), 0o600)
	c, err := upstream.LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	want := upstream.Config{BaseURL: "https://org.crm.dynamics.com/api/data/v9.2/", TokenEnv: "CRMBRIDGE_TOKEN",
		Timeout: 90 * time.Second, BatchSize: 250, MaxAttempts: 5}
	if c != want {
		t.Errorf("config %+v, want %+v", c, want)
	}
	bad := map[string]string{
		"token":        "base_url = https://x.example/\ntoken = abc\n",
		"http":         "base_url = http://org.crm.dynamics.com/api/data/v9.2/\n",
		"batch":        "base_url = https://x.example/\nbatch_size = 1001\n",
		"unknown key":  "base_url = https://x.example/\ncolour = blue\n",
		"no equals":    "base_url https://x.example/\n",
		"bad duration": "base_url = https://x.example/\ntimeout = soon\n",
	}
	for name, text := range bad {
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte(text), 0o600)
		if _, err := upstream.LoadConfig(f); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	loop := upstream.Config{BaseURL: "http://127.0.0.1:4004/api/data/v9.2/"}
	if err := loop.Validate(); err != nil {
		t.Errorf("loopback http refused: %v", err)
	}
}

// TestTokenNeverShown: the token is read at use and neither String,
// LogValue nor a logged config shows it.
func TestTokenNeverShown(t *testing.T) {
	t.Setenv("CRMBRIDGE_TOKEN", testToken)
	c := upstream.Config{BaseURL: "https://org.crm.dynamics.com/api/data/v9.2/", TokenEnv: "CRMBRIDGE_TOKEN"}
	if tok, err := c.Token(); err != nil || tok != testToken {
		t.Fatalf("token %q %v", tok, err)
	}
	var log bytes.Buffer
	slog.New(slog.NewJSONHandler(&log, nil)).Info("config", "upstream", c)
	slog.New(slog.NewTextHandler(&log, nil)).Info("config", "upstream", c)
	for _, s := range []string{c.String(), log.String()} {
		if strings.Contains(s, testToken) || !strings.Contains(s, "CRMBRIDGE_TOKEN") {
			t.Errorf("shown: %s", s)
		}
	}
	t.Setenv("CRMBRIDGE_TOKEN", "")
	if _, err := c.Token(); err == nil {
		t.Errorf("empty token accepted")
	}
}

// TestTLS: verification is on; a private CA is trusted only via CAFile.
func TestTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	ts.StartTLS()
	defer ts.Close()
	cfg := upstream.Config{BaseURL: ts.URL + "/api/data/v9.2/"}
	hc, err := upstream.NewHTTPClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Get(ts.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("self-signed server accepted without CA file: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600)
	cfg.CAFile = ca
	hc, err = upstream.NewHTTPClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(ts.URL)
	if err != nil {
		t.Fatalf("with CA file: %v", err)
	}
	resp.Body.Close()
	os.WriteFile(ca, []byte("not a certificate"), 0o600)
	if _, err := upstream.NewHTTPClient(cfg); err == nil {
		t.Errorf("bad CA file accepted")
	}
}

// TestConfigEffective: what config shows is what push uses: defaults
// filled in, explicit values kept, a batch size above the Web API's limit
// capped.
func TestConfigEffective(t *testing.T) {
	for _, tc := range []struct {
		in, want upstream.Config
	}{
		{upstream.Config{}, upstream.Config{BatchSize: 100, MaxAttempts: 8, Timeout: 60 * time.Second}},
		{upstream.Config{BatchSize: 7, MaxAttempts: 2, Timeout: time.Second, TokenEnv: "T"},
			upstream.Config{BatchSize: 7, MaxAttempts: 2, Timeout: time.Second, TokenEnv: "T"}},
		{upstream.Config{BatchSize: 5000}, upstream.Config{BatchSize: 1000, MaxAttempts: 8, Timeout: 60 * time.Second}},
	} {
		if got := tc.in.Effective(); got != tc.want {
			t.Errorf("%+v.Effective() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   upstream.Config
		want string
	}{
		{upstream.Config{}, ""},
		{upstream.Config{TokenFile: "/t"}, "file /t"},
		{upstream.Config{TokenEnv: "CRM_TOKEN"}, "environment variable $CRM_TOKEN"},
	} {
		if got := tc.in.TokenSource(); got != tc.want {
			t.Errorf("TokenSource of %+v = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestBaseURLSecretsRefused: credentials in base_url (user info, or a
// query such as a SAS signature) are refused by LoadConfig, SetConfig and
// Validate with a message saying where the token goes, and no error, String
// or log line ever repeats them.
func TestBaseURLSecretsRefused(t *testing.T) {
	const pw, sig = "PASSWORD-xyz", "SIGSECRET-abc"
	dir := t.TempDir()
	for _, raw := range []string{
		"https://user:" + pw + "@org.crm.dynamics.com/api/data/v9.2/",
		"https://" + pw + "@org.crm.dynamics.com/api/data/v9.2/",
		"https://org.crm.dynamics.com/api/data/v9.2/?sig=" + sig,
		"https://org.crm.dynamics.com/api/data/v9.2/?access_token=" + sig,
		"https://org.crm.dynamics.com/api/data/v9.2/#" + sig,
		"https://user:" + pw + "@org.crm.dynamics.com/api/data/v9.2/?sig=" + sig,
	} {
		var msgs []string
		c := upstream.Config{BaseURL: raw}
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: accepted", raw)
			continue
		}
		msgs = append(msgs, err.Error(), c.String())
		var log bytes.Buffer
		slog.New(slog.NewTextHandler(&log, nil)).Info("config", "upstream", c)
		msgs = append(msgs, log.String())
		f := filepath.Join(dir, "config")
		os.WriteFile(f, []byte("base_url = "+raw+"\n"), 0o600)
		if _, err := upstream.LoadConfig(f); err == nil {
			t.Errorf("LoadConfig %s: accepted", raw)
		} else {
			msgs = append(msgs, err.Error())
		}
		g := filepath.Join(dir, "set")
		if err := upstream.SetConfig(g, []string{"base_url=" + raw}); err == nil {
			t.Errorf("SetConfig %s: accepted", raw)
		} else {
			msgs = append(msgs, err.Error())
		}
		if _, err := os.Stat(g); err == nil {
			t.Errorf("SetConfig %s: wrote the file", raw)
		}
		if !strings.Contains(err.Error(), "token_file") {
			t.Errorf("%s: message does not say where the token goes: %v", raw, err)
		}
		for _, m := range msgs {
			if strings.Contains(m, pw) || strings.Contains(m, sig) {
				t.Errorf("secret shown: %s", m)
			}
		}
	}
}
