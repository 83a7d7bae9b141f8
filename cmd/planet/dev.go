package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"planet/internal/config"
	"planet/internal/secret"
	"planet/internal/supervisor"
)

// devRegions are the regions `planet dev` runs; region i gets the loopback
// address <ip-prefix>.<i+1> as its stand-in WireGuard IP.
var devRegions = []string{"sfo", "nyc", "ams"}

var controlFlag = &cli.StringFlag{Name: "control", Value: "127.0.0.1:10199", EnvVars: []string{"PLANET_DEV_CONTROL"},
	Usage: "`host:port` of the dev control API"}

func devCommand() *cli.Command {
	action := func(verb, usage string) *cli.Command {
		return &cli.Command{
			Name: verb, Usage: usage, ArgsUsage: "REGION SERVICE",
			Flags:  []cli.Flag{controlFlag, jsonFlag},
			Action: func(c *cli.Context) error { return devAction(c, verb) },
		}
	}
	return &cli.Command{
		Name:  "dev",
		Usage: "run the whole three-region platform (sfo, nyc, ams) on this machine",
		Description: "Each region gets its own loopback address standing in for its WireGuard IP\n" +
			"and runs its services as supervised child processes with prefixed logs.\n" +
			"Ctrl-C stops everything. The subcommands control a running `planet dev`.",
		Flags: []cli.Flag{
			controlFlag,
			&cli.StringFlag{Name: "ip-prefix", Value: "127.0.1", EnvVars: []string{"PLANET_DEV_IP_PREFIX"},
				Usage: "regions get `PREFIX`.1, .2, .3"},
			&cli.StringFlag{Name: "discovery-port", Value: "10200", Usage: "discovery port in every region"},
			&cli.StringFlag{Name: "data-dir", Value: filepath.Join(os.TempDir(), "planet-dev"), EnvVars: []string{"DATA_DIR"},
				Usage: "root of the regions' on-disk state"},
		},
		Action: devRun,
		Subcommands: []*cli.Command{
			{Name: "ps", Usage: "list the platform's processes", Flags: []cli.Flag{controlFlag, jsonFlag}, Action: devPS},
			action("kill", "SIGKILL a process (it stays down until start)"),
			action("stop", "stop a process gracefully (SIGTERM)"),
			action("start", "start a stopped or killed process"),
			action("pause", "freeze a process (SIGSTOP), as a hung host"),
			action("resume", "unfreeze a paused process (SIGCONT)"),
		},
	}
}

// devStoragePorts are the storage replicas of every dev region.
var devStoragePorts = []int{10600, 10601, 10602}

// devCachePort is the port of every dev region's one cache.
const devCachePort = 10300

type devRegion struct {
	name, ip string
}

func devRun(c *cli.Context) error {
	prefix := c.String("ip-prefix")
	if ip := net.ParseIP(prefix + ".1"); ip == nil || !ip.IsLoopback() {
		return config.Invalid("PLANET_DEV_IP_PREFIX", prefix, errors.New("must be three octets of a loopback address, e.g. 127.0.1"))
	}
	port, err := config.ParsePort(c.String("discovery-port"))
	if err != nil {
		return config.Invalid("--discovery-port", c.String("discovery-port"), err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var regions []devRegion
	for i, name := range devRegions {
		regions = append(regions, devRegion{name, fmt.Sprintf("%s.%d", prefix, i+1)})
	}
	secretFile, err := devSecret(c.String("data-dir"))
	if err != nil {
		return err
	}
	specs := devSpecs(self, regions, port, c.String("data-dir"), c.String("log-level"), secretFile)
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	sup, err := supervisor.New(supervisor.Config{Specs: specs, Output: os.Stdout, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("control"))
	if err != nil {
		return fmt.Errorf("dev control API: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctl := &http.Server{Handler: sup.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go ctl.Serve(ln)
	defer ctl.Close()

	go announce(ctx, regions, port, ln.Addr().String())
	return sup.Run(ctx)
}

// devSpecs returns the child processes of every region.
func devSpecs(self string, regions []devRegion, discoveryPort int, dataDir, logLevel, secretFile string) []supervisor.Spec {
	var specs []supervisor.Spec
	for _, r := range regions {
		var peers []string
		for _, o := range regions {
			if o.name != r.name {
				peers = append(peers, net.JoinHostPort(o.ip, strconv.Itoa(discoveryPort)))
			}
		}
		env := []string{
			"REGION=" + r.name,
			"WG_IP=" + r.ip,
			"BIND_HOST=" + r.ip,
			"DISCOVERY_PEERS=" + strings.Join(peers, ","),
			"DISCOVERY_ADDR=" + net.JoinHostPort(r.ip, strconv.Itoa(discoveryPort)),
			"DISCOVERY_PORT=" + strconv.Itoa(discoveryPort),
			"DATA_DIR=" + filepath.Join(dataDir, r.name),
			"LOG_LEVEL=" + logLevel,
			secret.Env + "=" + secretFile,
		}
		specs = append(specs, supervisor.Spec{
			Region: r.name, Service: "discovery", Path: self, Args: []string{"discovery", "serve"}, Env: env,
		})
		for _, port := range devStoragePorts {
			p := strconv.Itoa(port)
			specs = append(specs, supervisor.Spec{
				Region: r.name, Service: "storage-" + p, Path: self, Args: []string{"storage", "serve"},
				Env: append(env[:len(env):len(env)], "PORT="+p),
			})
		}
		specs = append(specs, supervisor.Spec{
			Region: r.name, Service: "waltailer", Path: self, Args: []string{"waltailer", "serve"}, Env: env,
		})
		specs = append(specs, supervisor.Spec{
			Region: r.name, Service: "caching", Path: self, Args: []string{"caching", "serve"},
			Env: append(env[:len(env):len(env)], "PORT="+strconv.Itoa(devCachePort)),
		})
	}
	return specs
}

// devSecret returns the platform secret file of the dev platform,
// DATA_DIR/secret, generated on the first run and kept (so the platform
// restarts with its data), and tells where it is.
func devSecret(dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dataDir, "secret")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := secret.Generate(path); err != nil {
			return "", err
		}
	}
	if _, err := secret.Load(path); err != nil {
		return "", &config.Error{Var: secret.Env, Err: err}
	}
	fmt.Printf("planet dev: platform secret %s; for the CLI: export %s=%s\n", path, secret.Env, path)
	return path, nil
}

// announce prints where everything is once every region's discovery
// answers /health.
func announce(ctx context.Context, regions []devRegion, port int, control string) {
	client := &http.Client{Timeout: time.Second}
	for _, r := range regions {
		url := fmt.Sprintf("http://%s/health", net.JoinHostPort(r.ip, strconv.Itoa(port)))
		for {
			resp, err := client.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	var b strings.Builder
	b.WriteString("\nplanet dev: all regions up\n")
	for _, r := range regions {
		fmt.Fprintf(&b, "  %-4s WG_IP=%-10s discovery=%s storage=%s:%d-%d cache=%s\n", r.name, r.ip,
			net.JoinHostPort(r.ip, strconv.Itoa(port)), r.ip, devStoragePorts[0], devStoragePorts[len(devStoragePorts)-1],
			net.JoinHostPort(r.ip, strconv.Itoa(devCachePort)))
	}
	fmt.Fprintf(&b, "  control API %s (planet dev ps|kill|start|pause|resume)\n  Ctrl-C stops everything\n\n", control)
	os.Stdout.WriteString(b.String())
}

func devClient(c *cli.Context) (*supervisor.Client, error) {
	addr := c.String("control")
	if _, err := config.ParseHostPort(addr); err != nil {
		return nil, config.Invalid("PLANET_DEV_CONTROL", addr, err)
	}
	return &supervisor.Client{Addr: addr}, nil
}

func devPS(c *cli.Context) error {
	cl, err := devClient(c)
	if err != nil {
		return err
	}
	procs, err := cl.Processes(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(procs)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROCESS\tSTATE\tPID\tRESTARTS")
	for _, p := range procs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", p.Name, p.State, p.PID, p.Restarts)
	}
	return tw.Flush()
}

func devAction(c *cli.Context, verb string) error {
	region, service, err := twoArgs(c, "planet dev "+verb+" REGION SERVICE")
	if err != nil {
		return err
	}
	cl, err := devClient(c)
	if err != nil {
		return err
	}
	st, err := cl.Do(c.Context, region, service, verb)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(st)
	}
	fmt.Printf("%s: %s (pid %d)\n", st.Name, st.State, st.PID)
	return nil
}
