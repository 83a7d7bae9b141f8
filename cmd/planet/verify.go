package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"planet/discovery/client"
	"planet/internal/config"
	"planet/internal/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name: "verify",
		Usage: "check that every storage replica of every region holds the same data (anti-entropy digests); " +
			"exit 0 iff all agree, 1 if not",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "discovery", Value: "127.0.0.1:10200", EnvVars: []string{"DISCOVERY_ADDR"}, Usage: "any region's discovery `host:port`"},
			secretFileFlag,
			storagePasswordFlag,
			jsonFlag,
			&cli.StringFlag{Name: "wait", Value: "0", Usage: fmt.Sprintf(
				"compare again every %v until all agree or this `DURATION` has passed (0: once)", verify.DefaultInterval)},
			&cli.StringFlag{Name: "sample", Value: strconv.Itoa(verify.DefaultSample),
				Usage: "show up to `N` keys of the differing buckets, with each replica's version (0: none)"},
		},
		Action: verifyAction,
	}
}

// verifyConfig builds the verifier's configuration and --wait from the
// flags.
func verifyConfig(c *cli.Context) (verify.Config, time.Duration, error) {
	var cfg verify.Config
	if c.NArg() != 0 {
		return cfg, 0, usageError("usage: planet verify [--discovery host:port] [--wait DURATION] [--sample N] [--json]")
	}
	addr, err := config.ParseHostPort(c.String("discovery"))
	if err != nil {
		return cfg, 0, config.Invalid("DISCOVERY_ADDR", c.String("discovery"), err)
	}
	wait, err := config.ParseDuration(c.String("wait"), 0, 24*time.Hour)
	if err != nil {
		return cfg, 0, usageError("--wait %q: %v", c.String("wait"), err)
	}
	n, err := strconv.Atoi(c.String("sample"))
	if err != nil || n < 0 || n > 10_000 {
		return cfg, 0, usageError("--sample %q: want an integer from 0 to 10000", c.String("sample"))
	}
	cfg.Sample = n
	if n == 0 {
		cfg.Sample = -1 // none
	}
	if cfg.Secret, err = loadSecret(c); err != nil {
		return cfg, 0, err
	}
	cfg.Password = c.String("password")
	cfg.Discovery, err = client.New(client.Config{Addr: addr, MaxStale: -1, Secret: cfg.Secret})
	return cfg, wait, err
}

func verifyAction(c *cli.Context) error {
	cfg, wait, err := verifyConfig(c)
	if err != nil {
		return err
	}
	v, err := verify.New(cfg)
	if err != nil {
		return err
	}
	defer v.Close()
	var progress func(*verify.Report)
	if isTerminal(os.Stdout) {
		progress = func(r *verify.Report) { fmt.Printf("\r\033[Kwaiting: %s…", r.Summary()) }
	}
	r, err := v.Wait(c.Context, wait, progress)
	if progress != nil {
		fmt.Print("\r\033[K") // clear the progress line
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		err = printJSON(r)
	} else {
		err = r.WriteTable(os.Stdout)
	}
	if err != nil {
		return err
	}
	if !r.Agree() {
		return cli.Exit(r.Summary(), 1)
	}
	if !c.Bool("json") {
		fmt.Println(r.Summary())
	}
	return nil
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
