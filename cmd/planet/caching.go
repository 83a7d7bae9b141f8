package main

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"planet/caching"
	"planet/internal/config"
)

func cachingCommand() *cli.Command {
	return &cli.Command{
		Name:  "caching",
		Usage: "Redis-compatible cache for strings and keys (RESP); single node so far",
		Subcommands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "run one cache",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "region", EnvVars: []string{"REGION"}, Usage: "this region's name"},
					&cli.StringFlag{Name: "bind-host", Value: "127.0.0.1", EnvVars: []string{"BIND_HOST"}, Usage: "address to listen on"},
					&cli.StringFlag{Name: "port", Value: strconv.Itoa(caching.DefaultPort), EnvVars: []string{"PORT"}, Usage: "RESP port"},
					&cli.StringFlag{Name: "admin-port", EnvVars: []string{"ADMIN_PORT"}, Usage: "/health and /metrics port (default PORT+1000)"},
					&cli.StringFlag{Name: "discovery", Value: caching.DefaultDiscoveryAddr, EnvVars: []string{"DISCOVERY_ADDR"}, Usage: "this region's discovery `host:port`"},
					secretFileFlag,
					&cli.StringFlag{Name: "password", EnvVars: []string{"CACHE_PASSWORD"}, Usage: "applications' password (Redis requirepass); empty: none"},
					&cli.StringFlag{Name: "maxmemory", Value: "0", EnvVars: []string{"CACHE_MAXMEMORY"}, Usage: "memory limit, bytes or with a unit k, kb, m, mb, g, gb as Redis (0: none)"},
					&cli.StringFlag{Name: "maxmemory-policy", Value: string(caching.DefaultPolicy), EnvVars: []string{"CACHE_MAXMEMORY_POLICY"}, Usage: "allkeys-lru, volatile-lru, allkeys-random or noeviction"},
					&cli.StringFlag{Name: "maxclients", Value: "10000", EnvVars: []string{"CACHE_MAXCLIENTS"}, Usage: "most client connections (Redis maxclients)"},
					&cli.StringFlag{Name: "timeout", Value: "0", EnvVars: []string{"CACHE_TIMEOUT"}, Usage: "close client connections idle this long, a Go duration (Redis timeout); 0: never"},
				},
				Action: cachingServe,
			},
		},
	}
}

func cachingConfig(c *cli.Context) (caching.Config, error) {
	var cfg caching.Config
	var err error
	if cfg.Region, cfg.BindHost, err = regionHost(c); err != nil {
		return cfg, err
	}
	if cfg.Port, cfg.AdminPort, err = servicePorts(c); err != nil {
		return cfg, err
	}
	if cfg.DiscoveryAddr, err = config.ParseHostPort(c.String("discovery")); err != nil {
		return cfg, config.Invalid("DISCOVERY_ADDR", c.String("discovery"), err)
	}
	if cfg.Secret, err = loadSecret(c); err != nil {
		return cfg, err
	}
	cfg.Password = c.String("password")
	if cfg.MaxMemory, err = caching.ParseMemory(c.String("maxmemory")); err != nil {
		return cfg, config.Invalid("CACHE_MAXMEMORY", c.String("maxmemory"), errors.New("want bytes, or a number with a unit k, kb, m, mb, g or gb"))
	}
	if cfg.Policy, err = caching.ParsePolicy(strings.ToLower(c.String("maxmemory-policy"))); err != nil {
		return cfg, config.Invalid("CACHE_MAXMEMORY_POLICY", c.String("maxmemory-policy"),
			errors.New("want allkeys-lru, volatile-lru, allkeys-random or noeviction"))
	}
	if cfg.MaxClients, cfg.IdleTimeout, err = clientLimits(c, "CACHE"); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func cachingServe(c *cli.Context) error {
	return serve(c, cachingConfig, func(cfg *caching.Config) string { return cfg.Region },
		func(cfg *caching.Config, l *slog.Logger) { cfg.Logger = l }, caching.New)
}
