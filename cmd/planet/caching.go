package main

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"planet/caching"
	"planet/internal/config"
)

func cachingCommand() *cli.Command {
	return &cli.Command{
		Name:  "caching",
		Usage: "Redis-compatible cache for strings and keys (RESP), replicated to every region's caches",
		Subcommands: []*cli.Command{
			cachingCmdCommand(),
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
					&cli.StringFlag{Name: "mode", Value: "eventual", EnvVars: []string{"CACHE_MODE"}, Usage: "replication mode of a write that names none (PLANET.MODE): eventual, quorum or strong"},
					&cli.StringFlag{Name: "strong-timeout", Value: "1s", EnvVars: []string{"CACHE_STRONG_TIMEOUT"}, Usage: "how long a quorum or strong write waits for its peers before it fails"},
					&cli.StringFlag{Name: "replication-queue", Value: "65536", EnvVars: []string{"CACHE_REPLICATION_QUEUE"}, Usage: "writes queued per peer; beyond, the peer gets invalidations"},
					&cli.StringFlag{Name: "tombstone-grace", Value: "60s", EnvVars: []string{"CACHE_TOMBSTONE_GRACE"}, Usage: "how long deleted keys' tombstones are kept, and how late a replicated write may still arrive as a value"},
					&cli.StringFlag{Name: "warm-start", Value: "true", EnvVars: []string{"CACHE_WARM_START"}, Usage: "copy a cache of this region before answering (true or false)"},
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
	if cfg.Mode, err = caching.ParseMode(c.String("mode")); err != nil {
		return cfg, config.Invalid("CACHE_MODE", c.String("mode"), errors.New("want eventual, quorum or strong"))
	}
	if cfg.StrongTimeout, err = config.ParseDuration(c.String("strong-timeout"), time.Millisecond, time.Hour); err != nil {
		return cfg, config.Invalid("CACHE_STRONG_TIMEOUT", c.String("strong-timeout"), err)
	}
	if cfg.TombstoneGrace, err = config.ParseDuration(c.String("tombstone-grace"), time.Second, 24*time.Hour); err != nil {
		return cfg, config.Invalid("CACHE_TOMBSTONE_GRACE", c.String("tombstone-grace"), err)
	}
	if cfg.ReplicationQueue, err = strconv.Atoi(c.String("replication-queue")); err != nil || cfg.ReplicationQueue < 1 || cfg.ReplicationQueue > 1<<24 {
		return cfg, config.Invalid("CACHE_REPLICATION_QUEUE", c.String("replication-queue"), errors.New("want a number of writes from 1 to 16777216"))
	}
	warm, err := strconv.ParseBool(c.String("warm-start"))
	if err != nil {
		return cfg, config.Invalid("CACHE_WARM_START", c.String("warm-start"), errors.New("want true or false"))
	}
	cfg.NoWarmStart = !warm
	return cfg, nil
}

func cachingServe(c *cli.Context) error {
	return serve(c, cachingConfig, func(cfg *caching.Config) string { return cfg.Region },
		func(cfg *caching.Config, l *slog.Logger) { cfg.Logger = l }, caching.New)
}
