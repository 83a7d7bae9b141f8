package wg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"planet/regions"
)

// ErrNoDevice is returned for an interface that is not a WireGuard device
// (neither a kernel link nor a userspace device's UAPI socket).
var ErrNoDevice = errors.New("wg: no such WireGuard device")

// controller is the part of *wgctrl.Client that configures devices.
type controller interface {
	Device(name string) (*wgtypes.Device, error)
	ConfigureDevice(name string, cfg wgtypes.Config) error
}

var _ controller = (*wgctrl.Client)(nil)

// readDevice reads the configuration and counters of interface name.
func readDevice(c controller, name string) (Device, error) {
	d, err := c.Device(name)
	if errors.Is(err, os.ErrNotExist) {
		return Device{}, fmt.Errorf("%w: %s", ErrNoDevice, name)
	}
	if err != nil {
		return Device{}, fmt.Errorf("wg: reading %s: %w", name, err)
	}
	return fromWgtypes(d), nil
}

// ReadDevice reads the configuration and counters of the WireGuard
// interface name, kernel or userspace.
func ReadDevice(name string) (Device, error) {
	c, err := wgctrl.New()
	if err != nil {
		return Device{}, fmt.Errorf("wg: %w", err)
	}
	defer c.Close()
	return readDevice(c, name)
}

// apply applies plan to interface name, one ConfigureDevice call per
// change, so that each touches only the peer it names (never ReplacePeers,
// which would drop every session). It stops at the first failure.
func apply(c controller, name string, plan []Change) error {
	for _, ch := range plan {
		if err := c.ConfigureDevice(name, changeConfig(ch)); err != nil {
			return fmt.Errorf("wg: %s: %v: %w", name, ch, err)
		}
	}
	return nil
}

// changeConfig translates one change to wgctrl's terms.
func changeConfig(ch Change) wgtypes.Config {
	switch ch.Kind {
	case SetPrivateKey:
		k := wgtypes.Key(ch.PrivateKey)
		return wgtypes.Config{PrivateKey: &k}
	case SetListenPort:
		port := ch.ListenPort
		return wgtypes.Config{ListenPort: &port}
	}
	p := ch.Peer
	pc := wgtypes.PeerConfig{PublicKey: wgtypes.Key(p.PublicKey)}
	f := ch.Fields
	switch ch.Kind {
	case RemovePeer:
		pc.Remove = true
		f = 0
	case UpdatePeer:
		pc.UpdateOnly = true
	case AddPeer:
		f = FieldAllowedIPs | FieldKeepalive
		if p.Endpoint.IsValid() {
			f |= FieldEndpoint
		}
	}
	if f&FieldEndpoint != 0 {
		pc.Endpoint = net.UDPAddrFromAddrPort(p.Endpoint)
	}
	if f&FieldAllowedIPs != 0 {
		pc.ReplaceAllowedIPs = true
		pc.AllowedIPs = toIPNets(p.AllowedIPs)
	}
	if f&FieldKeepalive != 0 {
		ka := p.Keepalive
		pc.PersistentKeepaliveInterval = &ka
	}
	return wgtypes.Config{Peers: []wgtypes.PeerConfig{pc}}
}

func fromWgtypes(d *wgtypes.Device) Device {
	dev := Device{PrivateKey: PrivateKey(d.PrivateKey), ListenPort: d.ListenPort}
	for _, p := range d.Peers {
		dev.Peers = append(dev.Peers, Peer{
			PublicKey:     regions.Key(p.PublicKey),
			Endpoint:      addrPort(p.Endpoint),
			AllowedIPs:    fromIPNets(p.AllowedIPs),
			Keepalive:     p.PersistentKeepaliveInterval.Round(time.Second),
			LastHandshake: p.LastHandshakeTime,
			RxBytes:       p.ReceiveBytes,
			TxBytes:       p.TransmitBytes,
		})
	}
	return dev
}

func addrPort(a *net.UDPAddr) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func toIPNets(ps []netip.Prefix) []net.IPNet {
	nets := make([]net.IPNet, 0, len(ps))
	for _, p := range ps {
		a := p.Addr()
		nets = append(nets, net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())})
	}
	return nets
}

func fromIPNets(nets []net.IPNet) []netip.Prefix {
	var ps []netip.Prefix
	for _, n := range nets {
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		if a.Is4In6() || len(n.Mask) == net.IPv4len {
			a = a.Unmap()
		}
		bits, _ := n.Mask.Size()
		ps = append(ps, netip.PrefixFrom(a, bits))
	}
	return ps
}
