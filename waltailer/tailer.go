package waltailer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"planet/discovery/api"
	"planet/discovery/client"
	"planet/internal/admin"
	"planet/internal/config"
	"planet/internal/peer"
	"planet/internal/secret"
	"planet/storage/wal"
)

// Tailer is one region's WAL tailer.
type Tailer struct {
	cfg     Config
	log     *slog.Logger
	disc    Discovery
	pool    *peer.Pool
	cursors *cursors
	m       *tailerMetrics
	adminLn net.Listener
	notify  *notifier
	ae      *antiEntropy

	mu       sync.Mutex
	wals     map[string]string   // local WAL name → directory
	heads    map[string]*walHead // by WAL name
	shippers map[string]*shipper // by remote region
	local    []string            // local replicas' addresses
	runCtx   context.Context
	shipWG   sync.WaitGroup
}

// Discovery is what the tailer asks of discovery (discovery/client.Client).
type Discovery interface {
	List(ctx context.Context, name string) ([]api.Instance, error)
	ListLocal(ctx context.Context, name string) ([]api.Instance, error)
	Register(ctx context.Context, name, addr string) error
}

// New checks cfg, loads the cursors and binds the admin port.
func New(cfg Config) (*Tailer, error) {
	cfg.fillDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Tailer{cfg: cfg, log: cfg.Logger.With("component", "waltailer"), m: newMetrics(),
		wals: make(map[string]string), heads: make(map[string]*walHead), shippers: make(map[string]*shipper)}
	var err error
	if t.cursors, err = loadCursors(filepath.Join(cfg.DataDir, "waltailer", "cursors.json"), cfg.Region); err != nil {
		return nil, fmt.Errorf("waltailer: %w", err)
	}
	if t.disc = cfg.Discovery; t.disc == nil {
		if t.disc, err = client.New(client.Config{Addr: cfg.DiscoveryAddr, Secret: cfg.Secret, Logger: t.log}); err != nil {
			return nil, fmt.Errorf("waltailer: %w", err)
		}
	}
	pc := peer.Config{Conns: 1, IOTimeout: t.applyTimeout(cfg.BatchBytes)}
	if cfg.Secret != nil {
		pc.Username, pc.Password = secret.PlatformUser, cfg.Secret.RESPPassword()
	}
	t.pool = peer.NewPool(pc)
	if t.adminLn, err = net.Listen("tcp", net.JoinHostPort(cfg.BindHost, strconv.Itoa(max(cfg.AdminPort, 0)))); err != nil {
		return nil, fmt.Errorf("waltailer: listen admin: %w", err)
	}
	t.ae = newAntiEntropy(t)
	return t, nil
}

// AdminAddr is the address of /health, /metrics and /v1/status.
func (t *Tailer) AdminAddr() string { return t.adminLn.Addr().String() }

// Run ships until ctx ends, then saves the cursors.
func (t *Tailer) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.runCtx = ctx
	var wg sync.WaitGroup
	mux := http.NewServeMux()
	admin.Handle(mux, t.health, t.m.reg)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(t.Status())
	})
	t.registerLagMetrics()
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	wg.Go(func() {
		if err := hs.Serve(t.adminLn); !errors.Is(err, http.ErrServerClosed) {
			t.log.Error("waltailer: admin server", "err", err)
		}
	})
	var err error
	if t.notify, err = newNotifier(); err != nil {
		t.log.Warn("waltailer: no inotify; polling the WALs every "+t.cfg.PollMax.String(), "err", err)
	}
	for _, r := range t.cursors.regions() {
		t.shipper(r) // a region known from the cursors is shipped to (and its lag shown) before discovery answers
	}
	t.refresh(ctx)
	wg.Go(func() { t.refreshLoop(ctx) })
	wg.Go(func() { t.headLoop(ctx) })
	wg.Go(func() { t.flushLoop(ctx) })
	wg.Go(func() { t.ae.run(ctx) })
	wg.Go(func() {
		if err := t.disc.Register(ctx, "waltailer", t.advertised()); err != nil {
			t.log.Error("waltailer: discovery registration refused", "err", err)
		}
	})
	if t.notify != nil {
		wg.Go(func() { t.notify.run(ctx, t.pokeAll) })
	}
	if t.cfg.Secret == nil && !config.IsLoopback(t.cfg.BindHost) {
		t.log.Warn("waltailer: no PLANET_SECRET_FILE: remote storage accepts REPL.APPLY only from the platform outside development")
	}
	t.log.Info("waltailer: serving", "admin", t.AdminAddr(), "data_dir", t.cfg.DataDir,
		"wake", map[bool]string{true: "inotify", false: "poll"}[t.notify != nil])
	<-ctx.Done()
	hs.Close()
	t.shipWG.Wait()
	wg.Wait()
	if t.notify != nil {
		t.notify.close()
	}
	t.mu.Lock()
	for _, h := range t.heads {
		h.close()
	}
	t.mu.Unlock()
	t.pool.Close()
	if err := t.cursors.save(); err != nil {
		t.log.Error("waltailer: cursors not saved at shutdown (records after the last saved cursors will be sent again)", "err", err)
	}
	t.log.Info("waltailer: stopped")
	return nil
}

// advertised is the admin address registered as "waltailer".
func (t *Tailer) advertised() string { return t.AdminAddr() }

func (t *Tailer) health() (any, error) {
	return map[string]any{"status": "ok", "region": t.cfg.Region, "wals": t.walNames(), "regions": len(t.regionNames())}, nil
}

// refreshLoop follows discovery: local replicas (their WALs) and remote
// regions' replicas.
func (t *Tailer) refreshLoop(ctx context.Context) {
	tick := time.NewTicker(t.cfg.RefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.refresh(ctx)
		}
	}
}

func (t *Tailer) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	local, err := t.disc.ListLocal(ctx, "storage")
	if err != nil {
		t.log.Debug("waltailer: list_local(storage)", "err", err)
		return
	}
	all, err := t.disc.List(ctx, "storage")
	if err != nil {
		t.log.Debug("waltailer: list(storage)", "err", err)
		return
	}
	var localAddrs []string
	for _, in := range local {
		localAddrs = append(localAddrs, in.Address)
		_, p, err := net.SplitHostPort(in.Address)
		port, perr := strconv.Atoi(p)
		if err != nil || perr != nil {
			continue
		}
		t.addWAL(walName(port))
	}
	slices.Sort(localAddrs)
	byRegion := make(map[string][]string)
	for _, in := range all {
		if in.Local || in.Region == t.cfg.Region || in.Region == "" {
			continue
		}
		byRegion[in.Region] = append(byRegion[in.Region], in.Address)
	}
	t.mu.Lock()
	t.local = localAddrs
	t.mu.Unlock()
	for r, addrs := range byRegion {
		slices.Sort(addrs)
		t.shipper(r).setAddrs(addrs)
	}
	for _, r := range t.regionNames() {
		if _, ok := byRegion[r]; !ok {
			t.shipper(r).setAddrs(nil) // down or partitioned: keep its cursors, retry
		}
	}
}

// addWAL starts following the WAL of a local replica, if its directory
// is on this machine.
func (t *Tailer) addWAL(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.wals[name]; ok {
		return
	}
	dir := filepath.Join(t.cfg.DataDir, name)
	if _, err := os.Stat(dir); err != nil {
		t.log.Debug("waltailer: a local replica's WAL is not on this machine", "wal", name, "err", err)
		return
	}
	t.wals[name] = dir
	start := wal.Position{}
	for _, r := range t.cursorRegionsLocked() {
		pos, ok := t.cursors.get(name, r)
		if !ok {
			start = wal.Position{}
			break
		}
		if start.Generation == 0 || pos.Compare(start) < 0 {
			start = pos
		}
	}
	t.heads[name] = newWALHead(name, dir, t.cfg.Region, start)
	if t.notify != nil {
		if err := t.notify.watch(dir); err != nil {
			t.log.Warn("waltailer: cannot watch a WAL directory; polling it", "dir", dir, "err", err)
		}
	}
	t.log.Info("waltailer: following a WAL", "wal", name, "dir", dir)
	for _, s := range t.shippers {
		s.poke()
	}
}

// cursorRegionsLocked returns the regions the cursors and shippers know.
func (t *Tailer) cursorRegionsLocked() []string {
	rs := t.cursors.regions()
	for r := range t.shippers {
		if !slices.Contains(rs, r) {
			rs = append(rs, r)
		}
	}
	return rs
}

// shipper returns the shipper of region, starting it if needed.
func (t *Tailer) shipper(region string) *shipper {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.shippers[region]
	if ok {
		return s
	}
	s = newShipper(t, region)
	t.shippers[region] = s
	t.log.Info("waltailer: shipping to a remote region", "remote", region)
	t.shipWG.Go(func() { s.run(t.runCtx) })
	return s
}

func (t *Tailer) walNames() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Sorted(maps.Keys(t.wals))
}

func (t *Tailer) walDir(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.wals[name]
}

func (t *Tailer) head(name string) *walHead {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.heads[name]
}

func (t *Tailer) regionNames() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Sorted(maps.Keys(t.shippers))
}

func (t *Tailer) allShippers() []*shipper {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*shipper, 0, len(t.shippers))
	for _, s := range t.shippers {
		out = append(out, s)
	}
	return out
}

func (t *Tailer) pokeAll() {
	for _, s := range t.allShippers() {
		s.poke()
	}
}

// headLoop keeps the heads at the end of their WALs, for the lag.
func (t *Tailer) headLoop(ctx context.Context) {
	tick := time.NewTicker(t.cfg.HeadInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t.mu.Lock()
		heads := make([]*walHead, 0, len(t.heads))
		for _, h := range t.heads {
			heads = append(heads, h)
		}
		regions := t.cursorRegionsLocked()
		t.mu.Unlock()
		for _, h := range heads {
			h.poll(1 << 16)
			low := wal.Position{}
			for i, r := range regions {
				pos, _ := t.cursors.get(h.name, r)
				if i == 0 || pos.Compare(low) < 0 {
					low = pos
				}
			}
			h.prune(low)
		}
	}
}

// flushLoop saves the cursors every FlushInterval if they moved.
func (t *Tailer) flushLoop(ctx context.Context) {
	tick := time.NewTicker(t.cfg.FlushInterval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := t.cursors.save()
		if err != nil && !failing {
			t.log.Error("waltailer: cannot save the cursors (retrying; a restart would resend more)", "err", err)
		}
		failing = err != nil
	}
}

// applyTimeout bounds one REPL.APPLY of size bytes: ApplyTimeout, plus
// the time to move the batch at 2 MiB/s.
func (t *Tailer) applyTimeout(size int) time.Duration {
	return t.cfg.ApplyTimeout + time.Duration(size)*time.Second/(2<<20)
}
