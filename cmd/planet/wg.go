package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"planet/internal/config"
	"planet/regions"
	"planet/wg"
)

var (
	wgTableFlag = &cli.StringFlag{Name: "table", Value: "/etc/planet/regions", EnvVars: []string{"PLANET_REGIONS"},
		Usage: "the region table `FILE`"}
	wgRegionFlag = &cli.StringFlag{Name: "region", EnvVars: []string{"REGION"}, Usage: "this region's name in the table"}
	wgKeyFlag    = &cli.StringFlag{Name: "key", Value: "/etc/planet/wg.key", EnvVars: []string{"WG_KEY_FILE"},
		Usage: "this region's private key `FILE` (mode 0600, from planet wg genkey)"}
	wgInterfaceFlag = &cli.StringFlag{Name: "interface", Value: wg.DefaultInterface, EnvVars: []string{"WG_INTERFACE"},
		Usage: "the WireGuard interface's name"}
	wgKeepaliveFlag = &cli.StringFlag{Name: "keepalive", Value: "25s", EnvVars: []string{"WG_KEEPALIVE"},
		Usage: "persistent keepalive of every peer, a Go duration (0: off)"}
)

func wgCommand() *cli.Command {
	return &cli.Command{
		Name:  "wg",
		Usage: "the WireGuard mesh: keys, this region's interface, its status",
		Subcommands: []*cli.Command{
			{
				Name: "genkey", Usage: "write a new private key to FILE (mode 0600; refuses to overwrite) and print its public key",
				ArgsUsage: "FILE", Action: wgGenkey,
			},
			{
				Name: "pubkey", Usage: "print the public key of the private key in FILE (or standard input: - or nothing)",
				ArgsUsage: "[FILE|-]", Action: wgPubkey,
			},
			{
				Name:  "up",
				Usage: "create and configure this region's WireGuard interface and keep it configured (SIGHUP: re-read the table and key)",
				Flags: []cli.Flag{wgTableFlag, wgRegionFlag, wgKeyFlag, wgInterfaceFlag, wgKeepaliveFlag,
					&cli.StringFlag{Name: "resolve-interval", Value: "60s", EnvVars: []string{"WG_RESOLVE_INTERVAL"},
						Usage: "how often endpoints' DNS names are resolved again, a Go duration (0: never)"},
					&cli.StringFlag{Name: "emulate-rtt", EnvVars: []string{"WG_EMULATE_RTT"},
						Usage: "WAN emulation for tests, `REGION=RTT,...` (nyc=74ms,ams=165ms): packets to each region wait half the RTT; implies --userspace"},
					&cli.BoolFlag{Name: "userspace", EnvVars: []string{"WG_USERSPACE"},
						Usage: "run the embedded wireguard-go device even if the kernel has WireGuard"},
				},
				Action: wgUp,
			},
			{
				Name:  "status",
				Usage: "the peers' endpoints, handshakes, traffic and reachability, and the drift from the region table (with --region)",
				Flags: []cli.Flag{wgInterfaceFlag, wgRegionFlag, jsonFlag,
					&cli.StringFlag{Name: "table", EnvVars: []string{"PLANET_REGIONS"}, Usage: "the region table `FILE` (with --region: compare)"}},
				Action: wgStatus,
			},
			{
				Name: "render", Usage: "print this region's wg-quick configuration",
				Flags:  []cli.Flag{wgTableFlag, wgRegionFlag, wgKeyFlag, wgKeepaliveFlag},
				Action: wgRender,
			},
			{
				Name: "rotate", Usage: "write a new private key next to --key (FILE.new) and print its public key and the steps to switch to it",
				Flags:  []cli.Flag{wgTableFlag, wgRegionFlag, wgKeyFlag},
				Action: wgRotate,
			},
		},
	}
}

func wgGenkey(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("usage: planet wg genkey FILE")
	}
	pub, err := wg.GenerateKeyFile(c.Args().First())
	if err != nil {
		return cli.Exit(err.Error(), config.ExitCode)
	}
	_, err = fmt.Fprintln(c.App.Writer, pub)
	return err
}

func wgPubkey(c *cli.Context) error {
	if c.NArg() > 1 {
		return usageError("usage: planet wg pubkey [FILE|-]")
	}
	var k wg.PrivateKey
	var err error
	if path := c.Args().First(); path == "" || path == "-" {
		k, err = wg.ReadPrivateKey(os.Stdin)
	} else {
		k, err = wg.ReadKeyFile(path)
	}
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	_, err = fmt.Fprintln(c.App.Writer, k.PublicKey())
	return err
}

// wgSource reads the table, checks --region and reads the key: any
// problem is bad configuration (exit 2).
func wgSource(c *cli.Context) (*regions.Table, string, wg.PrivateKey, error) {
	path := c.String(wgTableFlag.Name)
	t, err := regions.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, "", wg.PrivateKey{}, config.Invalid("PLANET_REGIONS", path, err)
	}
	region, err := config.ParseRegion(c.String("region"))
	if err != nil {
		return nil, "", wg.PrivateKey{}, config.Invalid("REGION", c.String("region"), err)
	}
	if _, ok := t.Lookup(region); !ok {
		return nil, "", wg.PrivateKey{}, config.Invalid("REGION", region, fmt.Errorf("not in the region table %s", path))
	}
	key, err := wg.ReadKeyFile(c.String("key"))
	if err != nil {
		return nil, "", wg.PrivateKey{}, config.Invalid("WG_KEY_FILE", c.String("key"), err)
	}
	return t, region, key, nil
}

// wgDuration parses a duration flag; "0" is zero.
func wgDuration(c *cli.Context, flag, env string, max time.Duration) (time.Duration, error) {
	if c.String(flag) == "0" {
		return 0, nil
	}
	return durationVar(c, flag, env, time.Second, max)
}

func wgUp(c *cli.Context) error {
	cfg, err := wgConfig(c)
	if err != nil {
		return err
	}
	if cfg.Logger, err = newLogger(c, "component", "wg", "region", cfg.Region); err != nil {
		return err
	}
	m, err := wg.New(cfg)
	if err != nil {
		return &config.Error{Var: "PLANET_REGIONS", Value: c.String("table"), Err: err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				t, _, key, err := wgSource(c)
				if err == nil {
					err = m.Update(t, key)
				}
				if err != nil {
					cfg.Logger.Error("wg: reload refused; keeping the running configuration", "err", err)
				}
			}
		}
	}()
	if err := m.Run(ctx); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	return nil
}

func wgConfig(c *cli.Context) (wg.Config, error) {
	var cfg wg.Config
	var err error
	if cfg.Table, cfg.Region, cfg.Key, err = wgSource(c); err != nil {
		return cfg, err
	}
	cfg.Interface = c.String("interface")
	if cfg.Keepalive, err = wgDuration(c, "keepalive", "WG_KEEPALIVE", time.Hour); err != nil {
		return cfg, err
	}
	if cfg.Keepalive == 0 {
		cfg.Keepalive = -1 // off
	}
	if cfg.ResolveInterval, err = wgDuration(c, "resolve-interval", "WG_RESOLVE_INTERVAL", 24*time.Hour); err != nil {
		return cfg, err
	}
	if cfg.ResolveInterval == 0 {
		cfg.ResolveInterval = -1 // never
	}
	if cfg.EmulateRTT, err = wg.ParseEmulateRTT(c.String("emulate-rtt"), cfg.Table, cfg.Region); err != nil {
		return cfg, config.Invalid("WG_EMULATE_RTT", c.String("emulate-rtt"), err)
	}
	cfg.Userspace = c.Bool("userspace")
	return cfg, nil
}

func wgRender(c *cli.Context) error {
	t, region, key, err := wgSource(c)
	if err != nil {
		return err
	}
	keepalive, err := wgDuration(c, "keepalive", "WG_KEEPALIVE", time.Hour)
	if err != nil {
		return err
	}
	out, err := wg.Render(t, region, key, keepalive)
	if err != nil {
		return &config.Error{Var: "PLANET_REGIONS", Value: c.String("table"), Err: err}
	}
	_, err = c.App.Writer.Write(out)
	return err
}

func wgStatus(c *cli.Context) error {
	dev, err := wg.ReadDevice(c.String("interface"))
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	var t *regions.Table
	var resolved map[string][]netip.AddrPort
	region := c.String("region")
	if region != "" && c.String("table") != "" {
		path := c.String("table")
		if t, err = regions.ReadFile(path); err != nil {
			return config.Invalid("PLANET_REGIONS", path, err)
		}
		if _, ok := t.Lookup(region); !ok {
			return config.Invalid("REGION", region, fmt.Errorf("not in the region table %s", path))
		}
		ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
		resolved = wg.ResolveAll(ctx, net.DefaultResolver, t, region)
		cancel()
	}
	rep := wg.Status(dev, t, region, resolved, time.Now())
	if c.Bool("json") {
		return printJSONTo(c.App.Writer, rep)
	}
	return printWgStatus(c.App.Writer, c.String("interface"), rep)
}

func printWgStatus(w io.Writer, iface string, rep wg.Report) error {
	fmt.Fprintf(w, "interface %s: public key %s, listening on %d\n", iface, rep.PublicKey, rep.ListenPort)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tENDPOINT\tALLOWED_IPS\tHANDSHAKE\tRX\tTX\tKEEPALIVE\tSTATE")
	for _, p := range rep.Peers {
		name := p.Region
		if name == "" {
			name = p.PublicKey.String()
		}
		ep, hs, ka := "none", "never", "off"
		if p.Endpoint.IsValid() {
			ep = p.Endpoint.String()
		}
		if !p.LastHandshake.IsZero() {
			hs = p.HandshakeAge.Round(time.Second).String() + " ago"
		}
		if p.Keepalive > 0 {
			ka = p.Keepalive.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", name, ep, prefixes(p.AllowedIPs), hs, p.RxBytes, p.TxBytes, ka, p.State)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range rep.Drift {
		fmt.Fprintf(w, "drift: %s %s: table %s, device %s\n", d.Kind, d.Region, orNone(d.Table), orNone(d.Device))
	}
	return nil
}

func prefixes(ps []netip.Prefix) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ","
		}
		s += p.String()
	}
	return orNone(s)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func wgRotate(c *cli.Context) error {
	t, region, _, err := wgSource(c)
	if err != nil {
		return err
	}
	me, _ := t.Lookup(region)
	keyPath, newPath := c.String("key"), c.String("key")+".new"
	pub, err := wg.GenerateKeyFile(newPath)
	if err != nil {
		return cli.Exit(err.Error(), config.ExitCode)
	}
	fmt.Fprintf(c.App.Writer, `wrote %s; its public key:
%s

To switch region %s to it:
 1. In the region table of every region, change %s's key:
      planet regions remove %s && planet regions add %s %s %s %s
 2. Reload every other region (systemctl reload planet-wg, or kill -HUP): each
    replaces %s's old peer with the new one; %s gets no packets until step 3.
 3. Here: mv %s %s and reload this region the same way.
Done in a row (scripts/deploy.sh --rotate-key %s does it), the gap is the
time between the reloads: TCP connections over the mesh ride through it.
`, newPath, pub, region, region, region, region, me.IP, me.Endpoint, pub, region, region, newPath, keyPath, region)
	return nil
}
