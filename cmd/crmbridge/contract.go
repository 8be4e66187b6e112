package main

import (
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// version is set at build time (-ldflags "-X main.version=v1.2.3"); else
// it comes from the module's build information.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}

func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print crmbridge's version",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("version takes no arguments")
			}
			fmt.Fprintf(e.stdout, "crmbridge %s\n", versionString())
			return nil
		},
	}
}

// bareNumber is a duration given without its unit.
var bareNumber = regexp.MustCompile(`^[0-9.]+$`)

// parseLockTimeout reads --lock-timeout: a Go duration with its unit.
func parseLockTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		if bareNumber.MatchString(s) {
			return 0, usagef("--lock-timeout %s: give a unit, e.g. %ss or %sm", s, s, s)
		}
		return 0, usagef("--lock-timeout %q: want a duration such as 30s, 5m or 1h30m", s)
	}
	if d < 0 {
		return 0, usagef("--lock-timeout %s: must not be negative", s)
	}
	return d, nil
}

// suggest returns the candidate closest to name (edit distance at most 2,
// or name a prefix of it), or "".
func suggest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if c == "" {
			continue
		}
		d := editDistance(name, c)
		if strings.HasPrefix(c, name) && len(name) >= 2 && d > 1 {
			d = 1
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func commandNames(cmds []*cli.Command) []string {
	var names []string
	for _, c := range cmds {
		if !c.Hidden {
			names = append(names, c.Names()...)
		}
	}
	return names
}

var undefinedFlag = regexp.MustCompile(`flag provided but not defined: -+(\S+)`)

// usageWithSuggestion turns a flag parse error into a usage error with a
// did-you-mean for an unknown flag.
func usageWithSuggestion(c *cli.Context, err error, isSubcommand bool) error {
	m := undefinedFlag.FindStringSubmatch(err.Error())
	if m == nil {
		return usageError{err}
	}
	var flags []cli.Flag
	if isSubcommand && c.Command != nil {
		flags = c.Command.Flags
	} else {
		flags = c.App.Flags
	}
	var names []string
	for _, f := range flags {
		names = append(names, f.Names()...)
	}
	if s := suggest(m[1], names); s != "" {
		return usagef("unknown flag --%s (did you mean --%s?)", m[1], s)
	}
	return usagef("unknown flag --%s (see --help)", m[1])
}

func completionCommand(e *env, app func() *cli.App) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `Prints a script that completes crmbridge's commands and flags. Install it with:
   bash: crmbridge completion bash > ~/.local/share/bash-completion/completions/crmbridge
   zsh:  crmbridge completion zsh > "${fpath[1]}/_crmbridge"
   fish: crmbridge completion fish > ~/.config/fish/completions/crmbridge.fish`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("completion: give one shell: bash, zsh or fish")
			}
			switch c.Args().First() {
			case "bash":
				fmt.Fprint(e.stdout, bashCompletion)
			case "zsh":
				fmt.Fprint(e.stdout, zshCompletion)
			case "fish":
				fmt.Fprint(e.stdout, fishCompletion(app()))
			default:
				return usagef("completion: unknown shell %q (bash, zsh or fish)", c.Args().First())
			}
			return nil
		},
	}
}

func manCommand(e *env, app func() *cli.App) *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the manual page (roff), generated from the command definitions",
		Hidden: true,
		Action: func(c *cli.Context) error {
			s, err := app().ToMan()
			if err != nil {
				return err
			}
			fmt.Fprint(e.stdout, s)
			return nil
		},
	}
}

// bashCompletion and zshCompletion ask crmbridge itself for the words
// (urfave/cli's --generate-bash-completion), as urfave/cli's own
// autocomplete scripts do.
const bashCompletion = `# bash completion for crmbridge
_crmbridge() {
  local cur words
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=("${COMP_WORDS[@]:0:$COMP_CWORD}")
  local opts
  if [[ "$cur" == "-"* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -F _crmbridge crmbridge
`

const zshCompletion = `#compdef crmbridge
_crmbridge() {
  local -a opts
  local cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _crmbridge crmbridge
`

// fishCompletion writes fish's complete(1) lines from the command
// definitions (urfave/cli's ToFishCompletion recurses without end on this
// app's help command).
func fishCompletion(app *cli.App) string {
	var b strings.Builder
	b.WriteString("# fish completion for crmbridge\ncomplete -c crmbridge -f\n")
	flagLines := func(cond string, flags []cli.Flag) {
		for _, f := range flags {
			usage := ""
			if df, ok := f.(cli.DocGenerationFlag); ok {
				usage = df.GetUsage()
			}
			for _, n := range f.Names() {
				opt := "-l"
				if len(n) == 1 {
					opt = "-s"
				}
				fmt.Fprintf(&b, "complete -c crmbridge%s %s %s -d %s\n", cond, opt, n, fishQuote(usage))
			}
		}
	}
	flagLines("", app.Flags)
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		fmt.Fprintf(&b, "complete -c crmbridge -n __fish_use_subcommand -a %s -d %s\n", c.Name, fishQuote(c.Usage))
		cond := " -n '__fish_seen_subcommand_from " + c.Name + "'"
		for _, s := range c.Subcommands {
			fmt.Fprintf(&b, "complete -c crmbridge%s -a %s -d %s\n", cond, s.Name, fishQuote(s.Usage))
			flagLines(" -n '__fish_seen_subcommand_from "+s.Name+"'", s.Flags)
		}
		flagLines(cond, c.Flags)
	}
	return b.String()
}

func fishQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

func helpCommand() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Usage:     "show the commands, or one command's help",
		ArgsUsage: "[COMMAND [SUBCOMMAND]]",
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return cli.ShowAppHelp(c)
			}
			cmd := c.App.Command(args[0])
			if cmd == nil {
				return unknownCommand(args[0], c.App.Commands)
			}
			if len(args) > 1 {
				sub := cmd.Command(args[1])
				if sub == nil {
					return unknownCommand(args[1], cmd.Subcommands)
				}
				fmt.Fprintf(c.App.Writer, "NAME:\n   crmbridge %s %s - %s\n\nUSAGE:\n   crmbridge %s %s [command options] %s\n",
					cmd.Name, sub.Name, sub.Usage, cmd.Name, sub.Name, sub.ArgsUsage)
				return nil
			}
			return cli.ShowCommandHelp(c, args[0])
		},
	}
}
