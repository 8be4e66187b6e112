package upstream

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults and limits of Config.
const (
	DefaultBatchSize   = 100
	MaxBatchSize       = 1000 // the Web API's limit of requests in one $batch
	DefaultMaxAttempts = 8
	DefaultTimeout     = 60 * time.Second
)

// Config names the upstream service and how to authenticate to it. The
// token itself is never part of a Config: it is read from TokenFile or the
// environment variable TokenEnv each time a request is made, and String and
// LogValue never show it.
type Config struct {
	BaseURL     string        // service root, e.g. https://org.crm.dynamics.com/api/data/v9.2/
	TokenFile   string        // file holding a bearer token
	TokenEnv    string        // or: environment variable holding it
	CAFile      string        // extra PEM CA certificates to trust (TLS verification stays on)
	Timeout     time.Duration // per HTTP request; 0 = DefaultTimeout
	BatchSize   int           // requests per $batch; 0 = DefaultBatchSize, at most MaxBatchSize
	MaxAttempts int           // attempts before an entry goes dead; 0 = DefaultMaxAttempts
}

// DefaultConfigPath returns $XDG_CONFIG_HOME/crmbridge/config, or
// ~/.config/crmbridge/config when XDG_CONFIG_HOME is unset.
func DefaultConfigPath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("config path: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "crmbridge", "config"), nil
}

// LoadConfig reads a config file ("" = DefaultConfigPath). The format is
// one `key = value` per line, '#' starts a comment line, a value may be
// double-quoted:
//
//	base_url     = "https://org.crm.dynamics.com/api/data/v9.2/"
//	token_file   = /home/me/.config/crmbridge/token
//	token_env    = CRMBRIDGE_TOKEN
//	ca_file      = /etc/ssl/corp-ca.pem
//	timeout      = 60s
//	batch_size   = 100
//	max_attempts = 8
//
// A token may not be written in the file itself.
func LoadConfig(path string) (Config, error) {
	if path == "" {
		p, err := DefaultConfigPath()
		if err != nil {
			return Config{}, err
		}
		path = p
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	var c Config
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return Config{}, fmt.Errorf("%s:%d: want key = value", path, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			uq, err := strconv.Unquote(v)
			if err != nil {
				return Config{}, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			v = uq
		}
		if err := c.set(k, v); err != nil {
			return Config{}, fmt.Errorf("%s:%d: %w", path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return Config{}, fmt.Errorf("read %s: %w", path, err)
	}
	return c, c.Validate()
}

func (c *Config) set(k, v string) error {
	var err error
	switch k {
	case "base_url":
		c.BaseURL = v
	case "token_file":
		c.TokenFile = v
	case "token_env":
		c.TokenEnv = v
	case "ca_file":
		c.CAFile = v
	case "timeout":
		c.Timeout, err = time.ParseDuration(v)
	case "batch_size":
		c.BatchSize, err = strconv.Atoi(v)
	case "max_attempts":
		c.MaxAttempts, err = strconv.Atoi(v)
	case tokenKeys[0], tokenKeys[1], tokenKeys[2]:
		return fmt.Errorf("%s: put the token in a file (token_file) or an environment variable (token_env), not in the config", k)
	default:
		return fmt.Errorf("unknown key %q", k)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", k, err)
	}
	return nil
}

// Validate checks the config and fills defaults' bounds. A plain-http base
// URL is allowed only on a loopback address (a local test server), so a
// token never crosses the network in clear text.
func (c *Config) Validate() error {
	shown := RedactURL(c.BaseURL)
	u, err := url.Parse(c.BaseURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("base_url %q is not an absolute URL", shown)
	}
	// A service root carries no credentials: user info or a query (a SAS
	// "sig=", an "access_token=") would be stored in clear in the config
	// and sent with every request.
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("base_url %q carries credentials or a query: give the bare service root "+
			"(https://org.crm.dynamics.com/api/data/v9.2/) and put the bearer token in a file (token_file) "+
			"or an environment variable (token_env)", shown)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("base_url %q: plain http only on a loopback address; use https", shown)
		}
	default:
		return fmt.Errorf("base_url %q: scheme must be https", shown)
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		return fmt.Errorf("batch_size %d: must be 1..%d", c.BatchSize, MaxBatchSize)
	}
	if c.MaxAttempts < 0 {
		return fmt.Errorf("max_attempts %d: must be positive", c.MaxAttempts)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout %v: must be positive", c.Timeout)
	}
	return nil
}

// RedactURL returns raw with any user info, query and fragment
// replaced by "REDACTED", for messages and logs; an unparseable URL is not
// shown at all.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL, not shown)"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	if u.Fragment != "" {
		u.Fragment, u.RawFragment = "REDACTED", ""
	}
	return u.String()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Effective returns c with every default filled in: the batch size, the
// attempts and the timeout push and pull actually use.
func (c Config) Effective() Config {
	c.BatchSize, c.MaxAttempts, c.Timeout = c.batchSize(), c.maxAttempts(), c.timeout()
	return c
}

// TokenSource says where the bearer token comes from ("file PATH",
// "environment variable $NAME", or "" when the config names no source),
// never the token itself.
func (c Config) TokenSource() string {
	switch {
	case c.TokenFile != "":
		return "file " + c.TokenFile
	case c.TokenEnv != "":
		return "environment variable $" + c.TokenEnv
	}
	return ""
}

func (c Config) batchSize() int {
	switch {
	case c.BatchSize <= 0:
		return DefaultBatchSize
	case c.BatchSize > MaxBatchSize:
		return MaxBatchSize
	}
	return c.BatchSize
}

func (c Config) maxAttempts() int {
	if c.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return c.MaxAttempts
}

func (c Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// ErrNoToken means the config names no token source, or the source is empty.
var ErrNoToken = errors.New("upstream: no bearer token")

// Token reads the bearer token from TokenFile or TokenEnv. It is called at
// each use and its result is never logged.
func (c Config) Token() (string, error) {
	switch {
	case c.TokenFile != "":
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return "", fmt.Errorf("read token file: %w", err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", fmt.Errorf("token file %s: %w", c.TokenFile, ErrNoToken)
		}
		return t, nil
	case c.TokenEnv != "":
		t := strings.TrimSpace(os.Getenv(c.TokenEnv))
		if t == "" {
			return "", fmt.Errorf("environment variable %s: %w", c.TokenEnv, ErrNoToken)
		}
		return t, nil
	}
	return "", ErrNoToken
}

// String describes the config without any secret.
func (c Config) String() string {
	src := c.TokenSource()
	if src == "" {
		src = "none"
	}
	return fmt.Sprintf("upstream %s (token: %s, batch %d, max attempts %d, timeout %v)",
		RedactURL(c.BaseURL), src, c.batchSize(), c.maxAttempts(), c.timeout())
}

// LogValue implements slog.LogValuer without any secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", RedactURL(c.BaseURL)),
		slog.String("token_file", c.TokenFile),
		slog.String("token_env", c.TokenEnv),
		slog.String("ca_file", c.CAFile),
		slog.Int("batch_size", c.batchSize()),
		slog.Int("max_attempts", c.maxAttempts()),
		slog.Duration("timeout", c.timeout()),
	)
}

// NewHTTPClient returns an HTTP client for c: TLS verification always on,
// at least TLS 1.2, the system roots plus CAFile's certificates, and
// c.Timeout per request.
func NewHTTPClient(c Config) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = 4
	return &http.Client{Transport: tr, Timeout: c.timeout()}, nil
}

// ErrBadSetting marks a key or value that SetConfig refuses.
var ErrBadSetting = errors.New("bad config setting")

// tokenKeys are keys someone might try for the token itself: refused.
var tokenKeys = []string{"token", "access_token", "bearer"}

// ConfigKeys are the keys of the config file.
var ConfigKeys = []string{"base_url", "token_file", "token_env", "ca_file", "timeout", "batch_size", "max_attempts"}

// checkSetting validates one key = value as LoadConfig will read it, with
// the bounds Validate applies, and returns the value to store (paths made
// absolute).
func checkSetting(k, v string) (string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadSetting}, args...)...)
	}
	if !slices.Contains(ConfigKeys, k) && !slices.Contains(tokenKeys, k) {
		return "", bad("unknown config key %q (valid: %s)", k, strings.Join(ConfigKeys, ", "))
	}
	var c Config
	if err := c.set(k, v); err != nil {
		return "", bad("%v", err) // a token refused, or a value that does not parse
	}
	switch k {
	case "base_url":
		if err := c.Validate(); err != nil {
			return "", bad("%v", err)
		}
	case "token_file", "ca_file":
		if v != "" {
			abs, err := filepath.Abs(v)
			if err != nil {
				return "", err
			}
			v = abs
		}
	case "timeout":
		if c.Timeout <= 0 {
			return "", bad("timeout %q: want a positive duration such as 60s", v)
		}
	case "batch_size":
		if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
			return "", bad("batch_size %q: want 1..%d", v, MaxBatchSize)
		}
	case "max_attempts":
		if c.MaxAttempts < 1 {
			return "", bad("max_attempts %q: want a positive integer", v)
		}
	}
	return v, nil
}

// SetConfig sets keys ("key=value") in the config file at path, keeping
// its other lines, atomically and with mode 0600. A refused key or value
// is reported wrapping ErrBadSetting, and nothing is written.
func SetConfig(path string, assigns []string) error {
	var lines []string
	if b, err := os.ReadFile(path); err == nil {
		lines = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read config: %w", err)
	}
	for _, a := range assigns {
		k, v, ok := strings.Cut(a, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return fmt.Errorf("%w: config set: %q is not key=value", ErrBadSetting, a)
		}
		v, err := checkSetting(k, strings.TrimSpace(v))
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s = %s", k, strconv.Quote(v))
		found := false
		for i, l := range lines {
			lk, _, ok := strings.Cut(strings.TrimSpace(l), "=")
			if ok && strings.TrimSpace(lk) == k && !strings.HasPrefix(strings.TrimSpace(l), "#") {
				lines[i], found = line, true
			}
		}
		if !found {
			lines = append(lines, line)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	defer os.Remove(tmp.Name())
	data := strings.TrimLeft(strings.Join(lines, "\n"), "\n") + "\n"
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
