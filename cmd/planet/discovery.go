package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"planet/discovery"
	"planet/discovery/api"
	"planet/discovery/client"
	"planet/internal/config"
	"planet/internal/secret"
)

var (
	addrFlag = &cli.StringFlag{Name: "addr", Value: "127.0.0.1:10200", EnvVars: []string{"DISCOVERY_ADDR"}, Usage: "discovery `host:port`"}
	jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON (for scripts)"}
)

func discoveryCommand() *cli.Command {
	return &cli.Command{
		Name:  "discovery",
		Usage: "federated service discovery",
		Subcommands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "run this region's discovery (HTTP API and gossip on one port)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "region", EnvVars: []string{"REGION"}, Usage: "this region's name"},
					&cli.StringFlag{Name: "wg-ip", EnvVars: []string{"WG_IP"}, Usage: "this region's WireGuard IP"},
					&cli.StringFlag{Name: "bind-host", Value: "127.0.0.1", EnvVars: []string{"BIND_HOST"}, Usage: "address to listen on"},
					&cli.StringFlag{Name: "peers", EnvVars: []string{"DISCOVERY_PEERS"}, Usage: "other regions' discovery, `host:port,...`"},
					&cli.StringFlag{Name: "port", Value: "10200", EnvVars: []string{"DISCOVERY_PORT"}, Usage: "API and gossip port"},
					&cli.StringFlag{Name: "data-dir", Value: "/var/lib/planet", EnvVars: []string{"DATA_DIR"}, Usage: "root of on-disk state (uses discovery/)"},
					&cli.StringFlag{Name: "secret-file", EnvVars: []string{secret.Env},
						Usage: "the mesh's platform secret `PATH` (mode 0600): API writes need its token, gossip is encrypted with it; unset: open (dev only)"},
				},
				Action: discoveryServe,
			},
			{
				Name:      "list",
				Usage:     "list a service's instances (every region, or --local)",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{addrFlag, jsonFlag, &cli.BoolFlag{Name: "local", Usage: "this region only (list_local)"}},
				Action:    discoveryList,
			},
			{
				Name:      "register",
				Usage:     "register an instance (once, or --heartbeat until interrupted)",
				ArgsUsage: "NAME ADDR",
				Flags: []cli.Flag{addrFlag, secretFileFlag,
					&cli.StringFlag{Name: "ttl", Value: "15s", EnvVars: []string{"DISCOVERY_TTL"}, Usage: "registration TTL"},
					&cli.BoolFlag{Name: "heartbeat", Usage: "keep the registration alive until interrupted, then deregister"},
				},
				Action: discoveryRegister,
			},
			{
				Name:      "deregister",
				Usage:     "remove an instance",
				ArgsUsage: "NAME ADDR",
				Flags:     []cli.Flag{addrFlag, secretFileFlag},
				Action:    discoveryDeregister,
			},
			{
				Name:   "regions",
				Usage:  "list the regions gossip knows and their state",
				Flags:  []cli.Flag{addrFlag, jsonFlag},
				Action: discoveryRegions,
			},
		},
	}
}

func discoveryServe(c *cli.Context) error {
	region, err := config.ParseRegion(c.String("region"))
	if err != nil {
		return config.Invalid("REGION", c.String("region"), err)
	}
	wgIP, err := config.ParseIP(c.String("wg-ip"))
	if err != nil {
		return config.Invalid("WG_IP", c.String("wg-ip"), err)
	}
	if _, err := config.ParseIP(c.String("bind-host")); err != nil {
		return config.Invalid("BIND_HOST", c.String("bind-host"), err)
	}
	peers, err := config.ParsePeers(c.String("peers"))
	if err != nil {
		return config.Invalid("DISCOVERY_PEERS", c.String("peers"), err)
	}
	port, err := config.ParsePort(c.String("port"))
	if err != nil {
		return config.Invalid("DISCOVERY_PORT", c.String("port"), err)
	}
	dataDir := c.String("data-dir")
	if dataDir == "" {
		return config.Invalid("DATA_DIR", "", errors.New("must not be empty"))
	}
	sec, err := loadSecret(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c, "component", "discovery", "region", region)
	if err != nil {
		return err
	}
	srv, err := discovery.New(discovery.Config{
		Region: region, WGIP: wgIP, BindHost: c.String("bind-host"), Port: port, Peers: peers,
		Secret: sec, DataDir: dataDir, Logger: log,
	})
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx)
}

func newClient(c *cli.Context, ttl time.Duration) (*client.Client, error) {
	addr := c.String("addr")
	if _, err := config.ParseHostPort(addr); err != nil {
		return nil, config.Invalid("DISCOVERY_ADDR", addr, err)
	}
	sec, err := loadSecret(c)
	if err != nil {
		return nil, err
	}
	return client.New(client.Config{Addr: addr, TTL: ttl, MaxStale: -1, Secret: sec})
}

func discoveryList(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("usage: planet discovery list NAME [--local] [--json]")
	}
	cl, err := newClient(c, 0)
	if err != nil {
		return err
	}
	list := cl.List
	if c.Bool("local") {
		list = cl.ListLocal
	}
	instances, err := list(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(instances)
	}
	for _, in := range instances {
		fmt.Println(in.Address)
	}
	return nil
}

func twoArgs(c *cli.Context, usage string) (string, string, error) {
	if c.NArg() != 2 {
		return "", "", usageError("usage: %s", usage)
	}
	return c.Args().Get(0), c.Args().Get(1), nil
}

func discoveryRegister(c *cli.Context) error {
	name, addr, err := twoArgs(c, "planet discovery register NAME ADDR [--ttl 15s] [--heartbeat]")
	if err != nil {
		return err
	}
	ttl, err := api.ParseTTL(c.String("ttl"))
	if err != nil {
		return config.Invalid("DISCOVERY_TTL", c.String("ttl"), err)
	}
	cl, err := newClient(c, ttl)
	if err != nil {
		return err
	}
	if !c.Bool("heartbeat") {
		return cl.RegisterOnce(c.Context, name, addr, ttl)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cl.Register(ctx, name, addr)
}

func discoveryDeregister(c *cli.Context) error {
	name, addr, err := twoArgs(c, "planet discovery deregister NAME ADDR")
	if err != nil {
		return err
	}
	cl, err := newClient(c, 0)
	if err != nil {
		return err
	}
	return cl.Deregister(c.Context, name, addr)
}

func discoveryRegions(c *cli.Context) error {
	cl, err := newClient(c, 0)
	if err != nil {
		return err
	}
	regions, err := cl.Regions(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(regions)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tADDRESS\tSTATE\tLOCAL\tNOTE")
	for _, r := range regions {
		name, note := r.Name, r.Error
		if name == "" {
			name = "-"
		}
		if r.Local {
			note = "secret " + r.SecretFingerprint
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", name, r.Address, r.State, r.Local, note)
	}
	return tw.Flush()
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
