package wg

import (
	"context"
	"maps"
	"net/netip"
	"time"

	"planet/regions"
)

// handshakePoll is how often Run reads the device while it waits for a
// first handshake before it turns a peer's keepalive on.
const handshakePoll = time.Second

// runner is Run's state; only Run's goroutine uses it.
type runner struct {
	*Mesh
	ctl  controller
	bind *delayBind // nil without emulation

	src       meshSource
	endpoints map[string]netip.AddrPort // region → resolved endpoint
	since     map[regions.Key]time.Time // peer → when first configured
	awaiting  bool                      // a peer's keepalive waits for a handshake
	names     map[regions.Key]string    // peer → region, of this and past tables
}

func (r *runner) loop(ctx context.Context) error {
	var resolve <-chan time.Time
	if r.cfg.ResolveInterval > 0 {
		t := time.NewTicker(r.cfg.ResolveInterval)
		defer t.Stop()
		resolve = t.C
	}
	poll := time.NewTicker(handshakePoll)
	defer poll.Stop()
	for {
		var pollC <-chan time.Time
		if r.awaiting {
			pollC = poll.C
		}
		select {
		case <-ctx.Done():
			r.log.Info("wg: down", "interface", r.cfg.Interface)
			return nil
		case <-r.wake:
			if p := r.takePending(); p != nil {
				r.src = *p
				r.log.Info("wg: reloading the region table")
				r.resolve(ctx)
			}
		case <-resolve:
			r.resolve(ctx)
		case <-pollC:
		}
		if err := r.sync(); err != nil {
			r.log.Warn("wg: configuring the device failed; retrying at the next change", "err", err)
		}
	}
}

// resolve resolves the table's endpoints again; a failed lookup keeps the
// address it had.
func (r *runner) resolve(ctx context.Context) {
	eps, err := resolveEndpoints(ctx, r.cfg.Resolver, r.src.table, r.cfg.Region, r.endpoints)
	if err != nil {
		r.log.Warn("wg: resolving endpoints", "err", err)
	}
	r.endpoints = eps
}

// sync brings the device in step with the table: it reads the device,
// plans and applies the changes, one peer at a time.
func (r *runner) sync() error {
	actual, err := readDevice(r.ctl, r.cfg.Interface)
	if err != nil {
		return err
	}
	desired := r.desired(actual)
	plan := Plan(desired, actual)
	names := regionNames(r.src.table, r.names)
	r.names = names
	for _, ch := range plan {
		if ch.Kind == SetPrivateKey || ch.Kind == SetListenPort {
			r.log.Info("wg: " + ch.String())
		} else {
			r.log.Info("wg: "+ch.Kind.String(), "peer", names[ch.Peer.PublicKey], "change", ch.String())
		}
	}
	if err := apply(r.ctl, r.cfg.Interface, plan); err != nil {
		return err
	}
	if r.bind != nil {
		r.bind.setDelays(r.emulatedDelays())
	}
	return nil
}

// desired is the device the table wants now, given the device's state
// (its handshakes decide the keepalives of peers this region does not
// initiate with).
func (r *runner) desired(actual Device) Device {
	now := r.cfg.Now()
	self := r.src.key.PublicKey()
	have := make(map[regions.Key]Peer, len(actual.Peers))
	for _, p := range actual.Peers {
		have[p.PublicKey] = p
	}
	since := make(map[regions.Key]time.Time, len(r.since))
	r.awaiting = false
	keepalive := func(peer regions.Key) time.Duration {
		first, ok := r.since[peer]
		if !ok {
			first = now
		}
		since[peer] = first
		p := have[peer]
		on := !p.LastHandshake.IsZero() || (p.Keepalive > 0 && p.Keepalive == r.cfg.Keepalive)
		ka := keepaliveFor(r.cfg.Keepalive, self, peer, on, now.Sub(first), r.cfg.KeepaliveDelay)
		if ka == 0 && r.cfg.Keepalive > 0 {
			r.awaiting = true
		}
		return ka
	}
	d := desiredDevice(r.src.table, r.cfg.Region, r.src.key, r.endpoints, keepalive)
	r.since = since
	return d
}

// emulatedDelays maps the endpoints of the regions with an emulated RTT
// to the one-way delay: half the RTT.
func (r *runner) emulatedDelays() map[netip.AddrPort]time.Duration {
	d := make(map[netip.AddrPort]time.Duration, len(r.cfg.EmulateRTT))
	for name, rtt := range r.cfg.EmulateRTT {
		if ep, ok := r.endpoints[name]; ok {
			d[ep] = rtt / 2
		}
	}
	return d
}

// regionNames maps public keys to region names: those of t, then those
// of prev (so that a removed peer is still named).
func regionNames(t *regions.Table, prev map[regions.Key]string) map[regions.Key]string {
	m := maps.Clone(prev)
	if m == nil {
		m = make(map[regions.Key]string, len(t.Regions))
	}
	for _, r := range t.Regions {
		m[r.PublicKey] = r.Name
	}
	return m
}
