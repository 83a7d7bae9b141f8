package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"planet/internal/config"
	"planet/waltailer"
)

func waltailerCommand() *cli.Command {
	return &cli.Command{
		Name:  "waltailer",
		Usage: "ship this region's storage writes to the other regions (one per region)",
		Subcommands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "follow the local storage WALs and ship this region's records to every other region",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "region", EnvVars: []string{"REGION"}, Usage: "this region's name"},
					&cli.StringFlag{Name: "bind-host", Value: "127.0.0.1", EnvVars: []string{"BIND_HOST"}, Usage: "address of the admin port"},
					&cli.StringFlag{Name: "admin-port", Value: strconv.Itoa(waltailer.DefaultAdminPort), EnvVars: []string{"WALTAILER_ADMIN_PORT"},
						Usage: "/health, /metrics and /v1/status port"},
					&cli.StringFlag{Name: "data-dir", Value: "/var/lib/planet", EnvVars: []string{"DATA_DIR"},
						Usage: "the storage replicas' DATA_DIR (WALs in storage-PORT/; cursors in waltailer/)"},
					&cli.StringFlag{Name: "discovery", Value: "127.0.0.1:10200", EnvVars: []string{"DISCOVERY_ADDR"}, Usage: "this region's discovery `host:port`"},
					secretFileFlag,
					&cli.StringFlag{Name: "batch-records", Value: "4096", EnvVars: []string{"WALTAILER_BATCH_RECORDS"}, Usage: "most records in one batch to a region"},
					&cli.StringFlag{Name: "anti-entropy-interval", Value: "30s", EnvVars: []string{"WALTAILER_ANTI_ENTROPY_INTERVAL"},
						Usage: "digest comparison period with each remote region"},
					&cli.StringFlag{Name: "repair-after", Value: "60s", EnvVars: []string{"WALTAILER_REPAIR_AFTER"},
						Usage: "in-flight window: repair a digest bucket once it has differed this long"},
				},
				Action: waltailerServe,
			},
			{
				Name:  "status",
				Usage: "per remote region: state, cursors, lag, last acknowledgement, retries",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "addr", Value: "127.0.0.1:" + strconv.Itoa(waltailer.DefaultAdminPort), EnvVars: []string{"WALTAILER_ADDR"},
						Usage: "the tailer's admin `host:port`"},
					jsonFlag,
				},
				Action: waltailerStatus,
			},
		},
	}
}

func waltailerConfig(c *cli.Context) (waltailer.Config, error) {
	var cfg waltailer.Config
	var err error
	if cfg.Region, cfg.BindHost, err = regionHost(c); err != nil {
		return cfg, err
	}
	if cfg.AdminPort, err = config.ParsePort(c.String("admin-port")); err != nil {
		return cfg, config.Invalid("WALTAILER_ADMIN_PORT", c.String("admin-port"), err)
	}
	if cfg.DataDir = c.String("data-dir"); cfg.DataDir == "" {
		return cfg, config.Invalid("DATA_DIR", "", fmt.Errorf("must not be empty"))
	}
	if cfg.DiscoveryAddr, err = config.ParseHostPort(c.String("discovery")); err != nil {
		return cfg, config.Invalid("DISCOVERY_ADDR", c.String("discovery"), err)
	}
	if cfg.BatchRecords, err = intVar(c, "batch-records", "WALTAILER_BATCH_RECORDS", 1, 1<<20); err != nil {
		return cfg, err
	}
	if cfg.AntiEntropyInterval, err = durationVar(c, "anti-entropy-interval", "WALTAILER_ANTI_ENTROPY_INTERVAL", 100*time.Millisecond, 24*time.Hour); err != nil {
		return cfg, err
	}
	if cfg.RepairAfter, err = durationVar(c, "repair-after", "WALTAILER_REPAIR_AFTER", 0, 24*time.Hour); err != nil {
		return cfg, err
	}
	if cfg.RepairAfter == 0 {
		cfg.RepairAfter = time.Nanosecond // "0": at once
	}
	if cfg.Secret, err = loadSecret(c); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func waltailerServe(c *cli.Context) error {
	return serve(c, waltailerConfig, func(cfg *waltailer.Config) string { return cfg.Region },
		func(cfg *waltailer.Config, l *slog.Logger) { cfg.Logger = l }, waltailer.New)
}

func waltailerStatus(c *cli.Context) error {
	addr, err := config.ParseHostPort(c.String("addr"))
	if err != nil {
		return config.Invalid("WALTAILER_ADDR", c.String("addr"), err)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + addr + "/v1/status")
	if err != nil {
		return cli.Exit(fmt.Sprintf("waltailer at %s: %v", addr, err), 1)
	}
	defer resp.Body.Close()
	var st waltailer.Status
	if resp.StatusCode != http.StatusOK {
		return cli.Exit(fmt.Sprintf("waltailer at %s: %s", addr, resp.Status), 1)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return cli.Exit(fmt.Sprintf("waltailer at %s: %v", addr, err), 1)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printTailerStatus(st)
	return nil
}

func printTailerStatus(st waltailer.Status) {
	fmt.Printf("region %s; local WALs:", st.Region)
	for _, w := range st.WALs {
		fmt.Printf(" %s (head %v)", w.Name, w.Head)
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REMOTE\tSTATE\tLAG RECORDS\tLAG BYTES\tLAG SECONDS\tLAST ACK\tRETRIES\tTARGET\tAE BUCKETS\tAE REPAIRED")
	for _, r := range st.Regions {
		last := "never"
		if !r.LastAck.IsZero() {
			last = time.Since(r.LastAck).Round(time.Millisecond).String() + " ago"
		}
		target := r.Target
		if target == "" {
			target = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%s\t%d\t%s\t%d\t%d\n", r.Region, r.State, r.LagRecords, r.LagBytes, r.LagSeconds,
			last, r.Retries, target, r.AntiEntropy.DifferingBuckets, r.AntiEntropy.RepairedKeys)
	}
	tw.Flush()
	for _, r := range st.Regions {
		names := make([]string, 0, len(r.Cursors))
		for n := range r.Cursors {
			names = append(names, n)
		}
		slices.Sort(names)
		var parts []string
		for _, n := range names {
			parts = append(parts, n+"="+r.Cursors[n].String())
		}
		fmt.Printf("cursors %s: %s\n", r.Region, strings.Join(parts, " "))
		if r.LastError != "" && (r.State == "retrying" || r.State == "rejected") {
			fmt.Printf("last error %s: %s\n", r.Region, r.LastError)
		}
		for _, e := range r.WALErrors {
			fmt.Printf("WAL error %s: %s\n", r.Region, e)
		}
	}
}
