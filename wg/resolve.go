package wg

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"planet/regions"
)

// Resolver looks up a DNS name's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// lookupTimeout bounds one DNS lookup.
const lookupTimeout = 5 * time.Second

// resolveEndpoints resolves the endpoint of every region of t but self.
// An IP literal needs no lookup. A DNS name is looked up; one that fails
// keeps its address in prev, if any, and its error is among those
// returned. See pickAddr for the choice among several addresses.
func resolveEndpoints(ctx context.Context, r Resolver, t *regions.Table, self string, prev map[string]netip.AddrPort) (map[string]netip.AddrPort, error) {
	out := make(map[string]netip.AddrPort, len(t.Regions))
	var errs []error
	for _, reg := range t.Regions {
		if reg.Name == self {
			continue
		}
		host, port := endpointHost(reg.Endpoint), uint16(endpointPort(reg.Endpoint))
		if ip, err := netip.ParseAddr(host); err == nil {
			out[reg.Name] = netip.AddrPortFrom(ip.Unmap(), port)
			continue
		}
		old := prev[reg.Name]
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		addrs, err := r.LookupNetIP(lctx, "ip", host)
		cancel()
		if err == nil && len(addrs) == 0 {
			err = errors.New("no addresses")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("region %s: resolving %s: %w", reg.Name, host, err))
			if old.IsValid() {
				out[reg.Name] = old
			}
			continue
		}
		out[reg.Name] = netip.AddrPortFrom(pickAddr(addrs, old.Addr()), port)
	}
	return out, errors.Join(errs...)
}

// pickAddr chooses the endpoint address among a name's addresses: the
// current one if it is still among them (round-robin DNS then causes no
// endpoint updates), else the first IPv4 address, else the first.
func pickAddr(addrs []netip.Addr, current netip.Addr) netip.Addr {
	for _, a := range addrs {
		if a.Unmap() == current {
			return current
		}
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap()
		}
	}
	return addrs[0]
}

// ResolveAll returns every address that the endpoint of each region of t
// but self resolves to, for Status. A region whose name does not resolve
// is left out (its endpoint is not compared).
func ResolveAll(ctx context.Context, r Resolver, t *regions.Table, self string) map[string][]netip.AddrPort {
	out := make(map[string][]netip.AddrPort, len(t.Regions))
	for _, reg := range t.Regions {
		if reg.Name == self {
			continue
		}
		host, port := endpointHost(reg.Endpoint), uint16(endpointPort(reg.Endpoint))
		if ip, err := netip.ParseAddr(host); err == nil {
			out[reg.Name] = []netip.AddrPort{netip.AddrPortFrom(ip.Unmap(), port)}
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		addrs, err := r.LookupNetIP(lctx, "ip", host)
		cancel()
		if err != nil || len(addrs) == 0 {
			continue
		}
		for _, a := range addrs {
			out[reg.Name] = append(out[reg.Name], netip.AddrPortFrom(a.Unmap(), port))
		}
	}
	return out
}
