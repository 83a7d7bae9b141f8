package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"planet/internal/config"
	"planet/regions"
)

var regionsFileFlag = &cli.StringFlag{Name: "file", Value: "/etc/planet/regions", EnvVars: []string{"PLANET_REGIONS"},
	Usage: "the region table"}

func regionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "regions",
		Usage: "the region table: list, check, render region.env, add and remove regions",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "list the regions (name, WireGuard IP, endpoint, public key)",
				Flags:  []cli.Flag{regionsFileFlag, jsonFlag},
				Action: regionsList,
			},
			{
				Name: "check", Usage: "print the table's problems, one per line (exit 1 if any)",
				Flags:  []cli.Flag{regionsFileFlag},
				Action: regionsCheck,
			},
			{
				Name: "env", Usage: "print a region's region.env", ArgsUsage: "REGION",
				Flags: []cli.Flag{regionsFileFlag,
					&cli.StringFlag{Name: "secret-file", Usage: "the mesh's secret `PATH` (must exist, mode 0600); unset: rendered commented out"},
					&cli.StringFlag{Name: "bind-host", Value: regions.DefaultBindHost, Usage: "BIND_HOST to render (0.0.0.0 or the region's WireGuard IP)"},
				},
				Action: regionsEnv,
			},
			{
				Name: "add", Usage: "add a region to the table file", ArgsUsage: "NAME WG_IP ENDPOINT PUBLIC_KEY",
				Flags:  []cli.Flag{regionsFileFlag},
				Action: regionsAdd,
			},
			{
				Name: "remove", Usage: "remove a region from the table file", ArgsUsage: "NAME",
				Flags:  []cli.Flag{regionsFileFlag},
				Action: regionsRemove,
			},
		},
	}
}

// readRegions reads the table at --file. A file that cannot be read is bad
// configuration (exit 2); one that does not parse gives the bad lines.
func readRegions(c *cli.Context) (*regions.Table, error) {
	path := c.String("file")
	t, err := regions.ReadFile(path)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, config.Invalid("PLANET_REGIONS", path, pe.Err)
	}
	return t, err
}

func regionsList(c *cli.Context) error {
	t, err := readRegions(c)
	if err != nil {
		return err
	}
	out := c.App.Writer
	if c.Bool("json") {
		list := t.Regions
		if list == nil {
			list = []regions.Region{}
		}
		return printJSONTo(out, list)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tWG_IP\tENDPOINT\tPUBLIC_KEY")
	for _, r := range t.Regions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.IP, r.Endpoint, r.PublicKey)
	}
	return tw.Flush()
}

func regionsCheck(c *cli.Context) error {
	t, err := readRegions(c)
	var se *regions.SyntaxError
	if errors.As(err, &se) {
		fmt.Fprintln(c.App.Writer, err) // one bad line per line
		return cli.Exit("the region table does not parse", 1)
	}
	if err != nil {
		return err
	}
	problems := t.Check()
	for _, p := range problems {
		fmt.Fprintln(c.App.Writer, p)
	}
	if len(problems) > 0 {
		return cli.Exit(fmt.Sprintf("%d problem(s) in %s", len(problems), c.String("file")), 1)
	}
	fmt.Fprintf(c.App.Writer, "ok: %d regions\n", len(t.Regions))
	return nil
}

func regionsEnv(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("usage: planet regions env REGION [--secret-file PATH] [--bind-host IP]")
	}
	t, err := readRegions(c)
	if err != nil {
		return err
	}
	name := c.Args().First()
	if _, ok := t.Lookup(name); !ok {
		return usageError("regions env: no region %q in %s", name, c.String("file"))
	}
	// The secret must be one the services will accept.
	if _, err := loadSecret(c); err != nil {
		return err
	}
	env, err := t.Env(name, regions.EnvOptions{BindHost: c.String("bind-host"), SecretFile: c.String("secret-file")})
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(c.App.Writer, env)
	return err
}

func regionsAdd(c *cli.Context) error {
	if c.NArg() != 4 {
		return usageError("usage: planet regions add NAME WG_IP ENDPOINT PUBLIC_KEY")
	}
	a := c.Args()
	ip, err := netip.ParseAddr(a.Get(1))
	if err != nil {
		return usageError("regions add: wg ip %q is not an IP address", a.Get(1))
	}
	key, err := regions.ParseKey(a.Get(3))
	if err != nil {
		return usageError("regions add: public %v", err)
	}
	t, err := readRegions(c)
	if err != nil {
		return err
	}
	r := regions.Region{Name: a.Get(0), IP: ip, Endpoint: a.Get(2), PublicKey: key}
	if err := t.Add(r); err != nil {
		return usageError("%v", err)
	}
	return writeRegions(c, t, "added "+r.Name)
}

func regionsRemove(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("usage: planet regions remove NAME")
	}
	t, err := readRegions(c)
	if err != nil {
		return err
	}
	name := c.Args().First()
	if err := t.Remove(name); err != nil {
		return usageError("%v", err)
	}
	return writeRegions(c, t, "removed "+name)
}

func writeRegions(c *cli.Context, t *regions.Table, did string) error {
	path := c.String("file")
	if err := regions.WriteFile(path, t); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s in %s (%d regions); render region.env again in every region: DISCOVERY_PEERS changed\n",
		did, path, len(t.Regions))
	return nil
}

func printJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
