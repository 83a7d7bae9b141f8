// Command planet is the one binary of the Planet platform: one subcommand
// per component (discovery, storage, caching, waltailer, wg, regions) and
// `planet dev`, a whole three-region platform on one machine. Every flag
// can also be set by an environment variable, so that a systemd unit with
// EnvironmentFile=/etc/planet/region.env configures it.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

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

// runner is a service that serves until its context ends.
type runner interface{ Run(context.Context) error }

// serve builds a service's Config from the command line (config errors
// exit 2), its logger, the service (other errors exit 1), and runs it
// until SIGINT or SIGTERM.
func serve[C any, S runner](c *cli.Context, parse func(*cli.Context) (C, error), region func(*C) string,
	setLogger func(*C, *slog.Logger), build func(C) (S, error)) error {
	cfg, err := parse(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c, "region", region(&cfg))
	if err != nil {
		return err
	}
	setLogger(&cfg, log)
	srv, err := build(cfg)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx)
}

// clientLimits reads a RESP service's maxclients and idle timeout flags,
// named by their environment variables (prefix "STORAGE" or "CACHE").
func clientLimits(c *cli.Context, prefix string) (maxClients int, idle time.Duration, err error) {
	if maxClients, err = intVar(c, "maxclients", prefix+"_MAXCLIENTS", 1, 1<<20); err != nil {
		return 0, 0, err
	}
	if c.String("timeout") != "0" {
		if idle, err = durationVar(c, "timeout", prefix+"_TIMEOUT", time.Second, 365*24*time.Hour); err != nil {
			return 0, 0, err
		}
	}
	return maxClients, idle, nil
}

// regionHost reads a service's REGION and BIND_HOST.
func regionHost(c *cli.Context) (region, host string, err error) {
	if region, err = config.ParseRegion(c.String("region")); err != nil {
		return "", "", config.Invalid("REGION", c.String("region"), err)
	}
	if _, err := config.ParseIP(c.String("bind-host")); err != nil {
		return "", "", config.Invalid("BIND_HOST", c.String("bind-host"), err)
	}
	return region, c.String("bind-host"), nil
}

// servicePorts reads a RESP service's PORT and ADMIN_PORT; an admin port
// left unset is 0, which the service takes as PORT+1000.
func servicePorts(c *cli.Context) (port, admin int, err error) {
	if port, err = config.ParsePort(c.String("port")); err != nil {
		return 0, 0, config.Invalid("PORT", c.String("port"), err)
	}
	if c.String("admin-port") != "" {
		if admin, err = config.ParsePort(c.String("admin-port")); err != nil {
			return 0, 0, config.Invalid("ADMIN_PORT", c.String("admin-port"), err)
		}
	} else if port+1000 > 65535 {
		return 0, 0, config.Invalid("PORT", c.String("port"), errors.New("PORT+1000 (the default admin port) is past 65535; set ADMIN_PORT"))
	}
	return port, admin, nil
}
