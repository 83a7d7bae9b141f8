package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestInterspersedArgs(t *testing.T) {
	app := &cli.App{
		Flags:    []cli.Flag{&cli.StringFlag{Name: "log-level"}},
		Commands: []*cli.Command{discoveryCommand(), devCommand()},
	}
	for _, tc := range []struct{ in, want string }{
		{"planet discovery list web --local --json", "planet discovery list --local --json web"},
		{"planet discovery list --addr 1.2.3.4:5 web", "planet discovery list --addr 1.2.3.4:5 web"},
		{"planet discovery list web --addr 1.2.3.4:5", "planet discovery list --addr 1.2.3.4:5 web"},
		{"planet --log-level debug discovery register web 127.0.0.1:1 --ttl=5s", "planet --log-level debug discovery register --ttl=5s web 127.0.0.1:1"},
		{"planet dev kill ams discovery --control 127.0.0.1:1", "planet dev kill --control 127.0.0.1:1 ams discovery"},
		{"planet discovery list -- --weird", "planet discovery list -- --weird"},
		{"planet dev --ip-prefix 127.0.9", "planet dev --ip-prefix 127.0.9"},
		{"planet", "planet"},
		// A flag's value right after the leaf command is not positional.
		{"planet discovery list --addr regions web", "planet discovery list --addr regions web"},
		{"planet discovery list --addr 1.2.3.4:5 --json web", "planet discovery list --addr 1.2.3.4:5 --json web"},
	} {
		got := strings.Join(interspersedArgs(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("%q -> %q, want %q", tc.in, got, tc.want)
		}
	}
}
