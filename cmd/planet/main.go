// Command planet is the one binary of the Planet platform: one subcommand
// per component (discovery, storage, caching, waltailer, wg, regions) and
// `planet dev`, a whole three-region platform on one machine. Every flag
// can also be set by an environment variable, so that a systemd unit with
// EnvironmentFile=/etc/planet/region.env configures it.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"planet/internal/config"
	"planet/internal/logging"
)

func main() {
	app := &cli.App{
		Name:  "planet",
		Usage: "self-hosted multi-region platform",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"LOG_LEVEL"}, Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"LOG_FORMAT"}, Usage: "text or json"},
		},
		Commands: []*cli.Command{
			discoveryCommand(),
			storageCommand(),
			cachingCommand(),
			waltailerCommand(),
			regionsCommand(),
			secretCommand(),
			wgCommand(),
			devCommand(),
			verifyCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main reports errors once, below
	}
	if err := app.Run(interspersedArgs(app, os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "planet: "+err.Error())
		var ce *config.Error
		var ec cli.ExitCoder
		switch {
		case errors.As(err, &ce):
			os.Exit(config.ExitCode)
		case errors.As(err, &ec):
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

// newLogger builds the process logger from the global flags.
func newLogger(c *cli.Context, attrs ...any) (*slog.Logger, error) {
	level, err := logging.ParseLevel(c.String("log-level"))
	if err != nil {
		return nil, config.Invalid("LOG_LEVEL", c.String("log-level"), err)
	}
	log, err := logging.New(os.Stderr, c.String("log-format"), level)
	if err != nil {
		return nil, config.Invalid("LOG_FORMAT", c.String("log-format"), err)
	}
	return log.With(attrs...), nil
}

// usageError is a wrong command line: exit code 2, like bad configuration.
func usageError(format string, args ...any) error {
	return cli.Exit(fmt.Sprintf(format, args...), config.ExitCode)
}
