package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersedArgs moves the flags that follow a leaf command's positional
// arguments in front of them, so that `planet discovery list web --json`
// works as well as `planet discovery list --json web` (urfave/cli v2 stops
// parsing flags at the first positional argument). Everything after "--"
// is left alone.
func interspersedArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	cmds := app.Commands
	var leaf *cli.Command
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			flags := app.Flags
			if leaf != nil {
				flags = leaf.Flags
			}
			if takesValue(flags, a) && !strings.Contains(a, "=") {
				i++ // the flag's value, not a command
			}
			continue
		}
		next := findCommand(cmds, a)
		if next == nil {
			break
		}
		leaf, cmds = next, next.Subcommands
	}
	if leaf == nil || len(leaf.Subcommands) > 0 {
		return args
	}
	out := append([]string(nil), args[:i]...)
	var positional []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			out = append(out, a)
			if takesValue(leaf.Flags, a) && !strings.Contains(a, "=") && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(out, positional...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether the flag token names a flag that is not boolean.
func takesValue(flags []cli.Flag, token string) bool {
	name := strings.TrimLeft(token, "-")
	if k := strings.IndexByte(name, '='); k >= 0 {
		name = name[:k]
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
