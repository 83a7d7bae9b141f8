package wg

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/wgctrl"

	"planet/regions"
)

// Config configures a Mesh: this region's WireGuard interface.
type Config struct {
	// Interface is the network interface's name. Empty means
	// DefaultInterface.
	Interface string
	// Table is the region table; Region is this region's name in it, and
	// Key the private key whose public key the table lists for it.
	Table  *regions.Table
	Region string
	Key    PrivateKey
	// Keepalive is the persistent keepalive interval of every peer. Zero
	// means DefaultKeepalive; negative turns it off.
	Keepalive time.Duration
	// KeepaliveDelay is how long the region that does not initiate (see
	// the package documentation) waits for a first handshake before it
	// turns the keepalive on anyway. Zero means DefaultKeepaliveDelay.
	KeepaliveDelay time.Duration
	// ResolveInterval is how often endpoints given as DNS names are
	// resolved again. Zero means DefaultResolveInterval; negative: never.
	ResolveInterval time.Duration
	// EmulateRTT maps regions to a round-trip time to emulate (see
	// ParseEmulateRTT): the packets sent to each are held for half of it,
	// so two regions that emulate the same RTT for each other see it in
	// full. It needs (and implies) the embedded device. Nil: none.
	EmulateRTT map[string]time.Duration
	// Userspace runs the embedded wireguard-go device even if the kernel
	// has WireGuard.
	Userspace bool
	// Resolver looks up endpoints' DNS names. Nil means net.DefaultResolver.
	Resolver Resolver
	// Logger receives the mesh's log; nil means slog.Default().
	Logger *slog.Logger
	// Now tells the time; nil means time.Now.
	Now func() time.Time
}

// Mesh keeps this region's WireGuard interface configured from the region
// table: New checks the configuration, Run creates the interface and
// keeps it in step, Update hands it a new table or key.
type Mesh struct {
	cfg  Config
	addr netip.Prefix // the interface's address: this region's IP, mesh bits
	log  *slog.Logger

	mu      sync.Mutex
	pending *meshSource // guarded by mu: the last Update that Run has not taken
	wake    chan struct{}
}

// meshSource is what the interface is configured from.
type meshSource struct {
	table *regions.Table
	key   PrivateKey
}

// New checks cfg (errors wrap ErrConfig) and returns a Mesh to Run.
func New(cfg Config) (*Mesh, error) {
	if cfg.Interface == "" {
		cfg.Interface = DefaultInterface
	}
	if cfg.Keepalive == 0 {
		cfg.Keepalive = DefaultKeepalive
	}
	if cfg.KeepaliveDelay == 0 {
		cfg.KeepaliveDelay = DefaultKeepaliveDelay
	}
	if cfg.ResolveInterval == 0 {
		cfg.ResolveInterval = DefaultResolveInterval
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.EmulateRTT) > 0 {
		cfg.Userspace = true
	}
	cfg.EmulateRTT = maps.Clone(cfg.EmulateRTT)
	if err := validInterface(cfg.Interface); err != nil {
		return nil, err
	}
	me, err := checkMesh(cfg.Table, cfg.Region, cfg.Key)
	if err != nil {
		return nil, err
	}
	for name := range cfg.EmulateRTT {
		if _, ok := cfg.Table.Lookup(name); !ok || name == cfg.Region {
			return nil, fmt.Errorf("%w: emulated RTT for %q, not another region of the table", ErrConfig, name)
		}
	}
	return &Mesh{cfg: cfg, addr: netip.PrefixFrom(me.IP, cfg.Table.Mesh.Bits()),
		log: cfg.Logger, wake: make(chan struct{}, 1)}, nil
}

// validInterface checks an interface name as Linux does: 1 to 15 bytes,
// no "/", blank or ":", not "." or "..".
func validInterface(name string) error {
	if len(name) > 15 || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n") {
		return fmt.Errorf("%w: interface name %q: want 1 to 15 bytes without '/', ':' or blanks", ErrConfig, name)
	}
	return nil
}

// Update hands Run a new table and key (re-read after SIGHUP). It checks
// them as New does and returns the error without changing anything; else
// Run applies them soon, touching only the peers that changed. A table
// that moves this region to another address or mesh prefix needs a
// restart.
func (m *Mesh) Update(t *regions.Table, key PrivateKey) error {
	me, err := checkMesh(t, m.cfg.Region, key)
	if err != nil {
		return err
	}
	if addr := netip.PrefixFrom(me.IP, t.Mesh.Bits()); addr != m.addr {
		return fmt.Errorf("%w: region %s's address changed from %s to %s; restart to apply", ErrConfig, m.cfg.Region, m.addr, addr)
	}
	m.mu.Lock()
	m.pending = &meshSource{table: t, key: key}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

func (m *Mesh) takePending() *meshSource {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pending
	m.pending = nil
	return p
}

// Run creates the interface, configures it, logs "wg: up" and keeps it
// configured until ctx is done; then it removes the interface.
func (m *Mesh) Run(ctx context.Context) error {
	var bind *delayBind
	var b conn.Bind = conn.NewDefaultBind()
	if len(m.cfg.EmulateRTT) > 0 {
		bind = newDelayBind(b)
		b = bind
	}
	l, err := openLink(m.cfg.Interface, m.cfg.Userspace, b, m.log)
	if err != nil {
		return err
	}
	defer l.Close()
	ctl, err := wgctrl.New()
	if err != nil {
		return fmt.Errorf("wg: %w", err)
	}
	defer ctl.Close()
	r := &runner{Mesh: m, ctl: ctl, bind: bind,
		src: meshSource{table: m.cfg.Table, key: m.cfg.Key}, since: map[regions.Key]time.Time{}}
	r.resolve(ctx)
	if err := r.sync(); err != nil {
		return err
	}
	if err := l.up(m.addr); err != nil {
		return err
	}
	m.log.Info("wg: up", "interface", m.cfg.Interface, "device", l.kind, "address", m.addr,
		"listen_port", endpointPortOf(r.src.table, m.cfg.Region), "peers", len(r.src.table.Regions)-1,
		"public_key", r.src.key.PublicKey())
	return r.loop(ctx)
}

func endpointPortOf(t *regions.Table, name string) int {
	me, _ := t.Lookup(name)
	return endpointPort(me.Endpoint)
}
