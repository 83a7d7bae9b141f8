package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"planet/internal/config"
	"planet/internal/secret"
)

// secretFileFlag names the mesh's platform secret file; every service and
// every CLI command that writes platform state reads it.
var secretFileFlag = &cli.StringFlag{Name: "secret-file", EnvVars: []string{secret.Env},
	Usage: "the mesh's platform secret `FILE` (mode 0600; empty: no authentication, development only)"}

// loadSecret loads --secret-file: nil if unset; a file that cannot be used
// is a configuration error (one line, exit code 2).
func loadSecret(c *cli.Context) (*secret.Secret, error) {
	path := c.String(secretFileFlag.Name)
	if path == "" {
		return nil, nil
	}
	s, err := secret.Load(path)
	if err != nil {
		return nil, &config.Error{Var: secret.Env, Err: err}
	}
	return s, nil
}

func secretCommand() *cli.Command {
	return &cli.Command{
		Name:  "secret",
		Usage: "the mesh's platform secret (PLANET_SECRET_FILE)",
		Subcommands: []*cli.Command{{
			Name:      "generate",
			Usage:     "write a new secret (256 random bits) to FILE, mode 0600; refuses to overwrite. Copy the same file to every region.",
			ArgsUsage: "FILE",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usageError("usage: planet secret generate FILE")
				}
				if err := secret.Generate(c.Args().First()); err != nil {
					return cli.Exit(err.Error(), config.ExitCode)
				}
				fmt.Fprintf(c.App.Writer, "wrote %s (mode 0600); set PLANET_SECRET_FILE=%s in every region's region.env\n", c.Args().First(), c.Args().First())
				return nil
			},
		}},
	}
}
