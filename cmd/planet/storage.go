package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"planet/internal/config"
	"planet/internal/peer"
	"planet/storage"
	"planet/storage/engine"
)

var (
	storageAddrFlag = &cli.StringFlag{Name: "addr", Value: "127.0.0.1:10600", EnvVars: []string{"STORAGE_ADDR"},
		Usage: "any storage replica's `host:port`"}
	storagePasswordFlag = &cli.StringFlag{Name: "password", Aliases: []string{"a"}, EnvVars: []string{"STORAGE_PASSWORD"},
		Usage: "the applications' password (AUTH); empty: none"}
)

func storageCommand() *cli.Command {
	return &cli.Command{
		Name:  "storage",
		Usage: "durable versioned key-value store with local quorum (RESP)",
		Subcommands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "run one storage replica",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "region", EnvVars: []string{"REGION"}, Usage: "this region's name"},
					&cli.StringFlag{Name: "bind-host", Value: "127.0.0.1", EnvVars: []string{"BIND_HOST"}, Usage: "address to listen on"},
					&cli.StringFlag{Name: "port", Value: "10600", EnvVars: []string{"PORT"}, Usage: "RESP port"},
					&cli.StringFlag{Name: "admin-port", EnvVars: []string{"ADMIN_PORT"}, Usage: "/health and /metrics port (default PORT+1000)"},
					&cli.StringFlag{Name: "data-dir", Value: "/var/lib/planet", EnvVars: []string{"DATA_DIR"}, Usage: "root of on-disk state (uses storage-PORT/)"},
					&cli.StringFlag{Name: "discovery", Value: "127.0.0.1:10200", EnvVars: []string{"DISCOVERY_ADDR"}, Usage: "this region's discovery `host:port`"},
					&cli.StringFlag{Name: "w", Value: "2", EnvVars: []string{"QUORUM_W"}, Usage: "write quorum (replicas, this one included)"},
					&cli.StringFlag{Name: "r", Value: "2", EnvVars: []string{"QUORUM_R"}, Usage: "read quorum (replicas, this one included)"},
					&cli.StringFlag{Name: "consistency", Value: "linearizable", EnvVars: []string{"STORAGE_CONSISTENCY"}, Usage: "linearizable (reads write back disagreeing replicas; writes order above a quorum's versions) or quorum"},
					&cli.BoolFlag{Name: "pprof", EnvVars: []string{"STORAGE_PPROF"}, Usage: "serve Go's profiles under /debug/pprof/ on the admin port"},
					&cli.StringFlag{Name: "durability", Value: "always", EnvVars: []string{"STORAGE_DURABILITY"}, Usage: "always (fsync before reply), interval or never"},
					&cli.StringFlag{Name: "sync-interval", Value: "100ms", EnvVars: []string{"STORAGE_SYNC_INTERVAL"}, Usage: "fsync period of --durability interval"},
					&cli.StringFlag{Name: "max-value", Value: strconv.Itoa(storage.DefaultMaxValue), EnvVars: []string{"STORAGE_MAX_VALUE"}, Usage: "largest value, bytes"},
					&cli.StringFlag{Name: "cache-bytes", Value: strconv.Itoa(engine.DefaultCacheBytes), EnvVars: []string{"STORAGE_CACHE_BYTES"}, Usage: "row cache size, bytes (0: off)"},
					&cli.StringFlag{Name: "compact-bytes", Value: strconv.Itoa(64 << 20), EnvVars: []string{"STORAGE_COMPACT_BYTES"}, Usage: "WAL size that starts a new generation with a snapshot"},
					&cli.StringFlag{Name: "tombstone-grace", Value: "240h", EnvVars: []string{"STORAGE_TOMBSTONE_GRACE"}, Usage: "how long tombstones are kept"},
					&cli.StringFlag{Name: "quorum-timeout", Value: "2s", EnvVars: []string{"STORAGE_QUORUM_TIMEOUT"}, Usage: "bound of a quorum write or read"},
					&cli.StringFlag{Name: "peer-conns", Value: "1", EnvVars: []string{"STORAGE_PEER_CONNS"}, Usage: "pipelined connections to each peer replica"},
					secretFileFlag,
					&cli.StringFlag{Name: "password", EnvVars: []string{"STORAGE_PASSWORD"}, Usage: "applications' password (Redis requirepass); empty: none"},
					&cli.StringFlag{Name: "maxclients", Value: "10000", EnvVars: []string{"STORAGE_MAXCLIENTS"}, Usage: "most client connections (Redis maxclients)"},
					&cli.StringFlag{Name: "timeout", Value: "0", EnvVars: []string{"STORAGE_TIMEOUT"}, Usage: "close client connections idle this long, a Go duration (Redis timeout); 0: never"},
					&cli.StringFlag{Name: "anti-entropy-interval", Value: "10s", EnvVars: []string{"STORAGE_ANTI_ENTROPY_INTERVAL"}, Usage: "digest comparison period with each peer"},
				},
				Action: storageServe,
			},
			{
				Name: "get", Usage: "read a key (quorum read; --local: this replica's own copy and version)", ArgsUsage: "KEY",
				Flags: []cli.Flag{storageAddrFlag, storagePasswordFlag, jsonFlag,
					&cli.BoolFlag{Name: "local", Usage: "read only the replica at --addr (VGET), with the version; no quorum, no repair"}},
				Action: storageGet,
			},
			{
				Name: "set", Usage: "write a key (quorum write)", ArgsUsage: "KEY VALUE",
				Flags:  []cli.Flag{storageAddrFlag, storagePasswordFlag},
				Action: storageSet,
			},
			{
				Name: "del", Usage: "delete keys (quorum write)", ArgsUsage: "KEY...",
				Flags:  []cli.Flag{storageAddrFlag, storagePasswordFlag, jsonFlag},
				Action: storageDel,
			},
		},
	}
}

func intVar(c *cli.Context, flag, env string, min, max int) (int, error) {
	n, err := strconv.Atoi(c.String(flag))
	if err != nil || n < min || n > max {
		return 0, config.Invalid(env, c.String(flag), fmt.Errorf("want an integer from %d to %d", min, max))
	}
	return n, nil
}

func durationVar(c *cli.Context, flag, env string, min, max time.Duration) (time.Duration, error) {
	d, err := config.ParseDuration(c.String(flag), min, max)
	if err != nil {
		return 0, config.Invalid(env, c.String(flag), err)
	}
	return d, nil
}

func storageConfig(c *cli.Context) (storage.Config, error) {
	var cfg storage.Config
	var err error
	if cfg.Region, cfg.BindHost, err = regionHost(c); err != nil {
		return cfg, err
	}
	if cfg.Port, cfg.AdminPort, err = servicePorts(c); err != nil {
		return cfg, err
	}
	if cfg.DataDir = c.String("data-dir"); cfg.DataDir == "" {
		return cfg, config.Invalid("DATA_DIR", "", errors.New("must not be empty"))
	}
	if cfg.DiscoveryAddr, err = config.ParseHostPort(c.String("discovery")); err != nil {
		return cfg, config.Invalid("DISCOVERY_ADDR", c.String("discovery"), err)
	}
	if cfg.W, err = intVar(c, "w", "QUORUM_W", 1, 64); err != nil {
		return cfg, err
	}
	if cfg.R, err = intVar(c, "r", "QUORUM_R", 1, 64); err != nil {
		return cfg, err
	}
	if cfg.Consistency, err = storage.ParseConsistency(c.String("consistency")); err != nil {
		return cfg, config.Invalid("STORAGE_CONSISTENCY", c.String("consistency"), err)
	}
	cfg.Pprof = c.Bool("pprof")
	if cfg.Engine.Durability, err = engine.ParseDurability(c.String("durability")); err != nil {
		return cfg, config.Invalid("STORAGE_DURABILITY", c.String("durability"), err)
	}
	if cfg.Engine.SyncInterval, err = durationVar(c, "sync-interval", "STORAGE_SYNC_INTERVAL", time.Millisecond, time.Minute); err != nil {
		return cfg, err
	}
	if cfg.MaxValue, err = intVar(c, "max-value", "STORAGE_MAX_VALUE", 1, 512<<20); err != nil {
		return cfg, err
	}
	compact, err := intVar(c, "compact-bytes", "STORAGE_COMPACT_BYTES", 1<<10, 1<<40)
	if err != nil {
		return cfg, err
	}
	cfg.Engine.CompactBytes = int64(compact)
	cache, err := intVar(c, "cache-bytes", "STORAGE_CACHE_BYTES", 0, 1<<40)
	if err != nil {
		return cfg, err
	}
	cfg.Engine.CacheBytes = int64(cache)
	if cache == 0 {
		cfg.Engine.CacheBytes = -1 // off
	}
	if cfg.Engine.TombstoneGrace, err = durationVar(c, "tombstone-grace", "STORAGE_TOMBSTONE_GRACE", time.Second, 10*365*24*time.Hour); err != nil {
		return cfg, err
	}
	if cfg.QuorumTimeout, err = durationVar(c, "quorum-timeout", "STORAGE_QUORUM_TIMEOUT", time.Millisecond, time.Minute); err != nil {
		return cfg, err
	}
	if cfg.AntiEntropyInterval, err = durationVar(c, "anti-entropy-interval", "STORAGE_ANTI_ENTROPY_INTERVAL", 100*time.Millisecond, 24*time.Hour); err != nil {
		return cfg, err
	}
	if cfg.PeerConns, err = intVar(c, "peer-conns", "STORAGE_PEER_CONNS", 1, 64); err != nil {
		return cfg, err
	}
	if cfg.Secret, err = loadSecret(c); err != nil {
		return cfg, err
	}
	cfg.Password = c.String("password")
	if cfg.MaxClients, cfg.IdleTimeout, err = clientLimits(c, "STORAGE"); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func storageServe(c *cli.Context) error {
	return serve(c, storageConfig, func(cfg *storage.Config) string { return cfg.Region },
		func(cfg *storage.Config, l *slog.Logger) { cfg.Logger = l }, storage.New)
}

// storageDo sends one command to the replica at --addr.
func storageDo(c *cli.Context, args ...string) (peer.Reply, error) {
	addr, err := config.ParseHostPort(c.String("addr"))
	if err != nil {
		return peer.Reply{}, config.Invalid("STORAGE_ADDR", c.String("addr"), err)
	}
	cl := peer.New(addr, peer.Config{Conns: 1, Password: c.String("password")})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	defer cancel()
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	r, err := cl.Do(ctx, b...)
	var re *peer.ReplyError
	if errors.As(err, &re) {
		return r, cli.Exit(re.Msg, 1)
	}
	return r, err
}

func storageGet(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("usage: planet storage get KEY [--addr host:port] [--json]")
	}
	key := c.Args().First()
	if c.Bool("local") {
		return storageGetLocal(c, key)
	}
	r, err := storageDo(c, "GET", key)
	if err != nil {
		return err
	}
	found := r.Kind == peer.KindBulk
	if c.Bool("json") {
		out := map[string]any{"key": key, "found": found}
		if found {
			out["value"] = string(r.Str)
		}
		return printJSON(out)
	}
	if !found {
		return cli.Exit("(nil)", 1)
	}
	os.Stdout.Write(append(r.Str, '\n'))
	return nil
}

// storageGetLocal prints one replica's own entry of key: value (or
// "(deleted)") and version.
func storageGetLocal(c *cli.Context, key string) error {
	r, err := storageDo(c, "VGET", key)
	if err != nil {
		return err
	}
	found := r.Kind == peer.KindArray && len(r.Array) == 2
	deleted := found && r.Array[0].Kind == peer.KindNil
	if c.Bool("json") {
		out := map[string]any{"key": key, "found": found}
		if found {
			out["deleted"] = deleted
			out["version"] = string(r.Array[1].Str)
			if !deleted {
				out["value"] = string(r.Array[0].Str)
			}
		}
		return printJSON(out)
	}
	if !found {
		return cli.Exit("(nil)", 1)
	}
	if deleted {
		fmt.Printf("(deleted)\nversion %s\n", r.Array[1].Str)
		return nil
	}
	os.Stdout.Write(append(r.Array[0].Str, '\n'))
	fmt.Printf("version %s\n", r.Array[1].Str)
	return nil
}

func storageSet(c *cli.Context) error {
	key, value, err := twoArgs(c, "planet storage set KEY VALUE [--addr host:port]")
	if err != nil {
		return err
	}
	if _, err := storageDo(c, "SET", key, value); err != nil {
		return err
	}
	fmt.Println("OK")
	return nil
}

func storageDel(c *cli.Context) error {
	if c.NArg() < 1 {
		return usageError("usage: planet storage del KEY... [--addr host:port] [--json]")
	}
	r, err := storageDo(c, append([]string{"DEL"}, c.Args().Slice()...)...)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(map[string]int64{"deleted": r.Int})
	}
	fmt.Println(r.Int)
	return nil
}
