package wg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"
)

// uapiDir is where wireguard-go, wgctrl and wg(8) keep userspace devices'
// UAPI sockets.
const uapiDir = "/var/run/wireguard"

// mtu is the interface MTU, wg-quick's and wireguard-go's default: 1500
// less the IPv6, UDP and WireGuard headers.
const mtu = device.DefaultMTU

// Device kinds, as a link reports them.
const (
	KindKernel    = "kernel"
	KindUserspace = "userspace"
)

// link is the WireGuard network interface: a kernel link or an embedded
// wireguard-go device with its TUN and UAPI socket.
type link struct {
	name string
	kind string // KindKernel or KindUserspace

	// Userspace only.
	dev      *device.Device
	uapi     net.Listener
	accepted sync.WaitGroup // the UAPI accept loop

	closeOnce sync.Once
	closeErr  error
}

// openLink creates interface name: a kernel WireGuard link unless
// userspace is set or the kernel has no WireGuard, else an embedded device
// sending through bind.
func openLink(name string, userspace bool, bind conn.Bind, log *slog.Logger) (*link, error) {
	if !userspace {
		err := netlink.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}})
		if err == nil {
			return &link{name: name, kind: KindKernel}, nil
		}
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOTSUP) {
			return nil, fmt.Errorf("wg: creating kernel link %s: %w", name, err)
		}
		log.Debug("the kernel has no WireGuard; running the embedded device", "err", err)
	}
	return openUserspace(name, bind, log)
}

func openUserspace(name string, bind conn.Bind, log *slog.Logger) (*link, error) {
	td, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, fmt.Errorf("wg: creating TUN %s: %w", name, err)
	}
	l := &link{name: name, kind: KindUserspace}
	l.dev = device.NewDevice(td, bind, deviceLogger(log)) // owns td from here
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		l.dev.Close()
		return nil, fmt.Errorf("wg: opening the UAPI socket %s: %w (UAPI sockets are per file system, not per network namespace: give each namespace's interface its own name)", l.socketPath(), err)
	}
	l.uapi, err = ipc.UAPIListen(name, f)
	f.Close()
	if err != nil {
		l.dev.Close()
		os.Remove(l.socketPath())
		return nil, fmt.Errorf("wg: listening on the UAPI socket of %s: %w", name, err)
	}
	l.accepted.Add(1)
	go l.acceptUAPI()
	return l, nil
}

// acceptUAPI serves wgctrl and wg(8) on the UAPI socket until it closes.
func (l *link) acceptUAPI() {
	defer l.accepted.Done()
	for {
		c, err := l.uapi.Accept()
		if err != nil {
			return
		}
		go l.dev.IpcHandle(c) // returns when the client hangs up
	}
}

func (l *link) socketPath() string { return filepath.Join(uapiDir, l.name+".sock") }

// up gives the interface address addr (the region's IP with the mesh's
// prefix length) and sets it up; the embedded device is listening when up
// returns.
func (l *link) up(addr netip.Prefix) error {
	nl, err := netlink.LinkByName(l.name)
	if err != nil {
		return fmt.Errorf("wg: %s: %w", l.name, err)
	}
	ipnet := &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), addr.Addr().BitLen())}
	if err := netlink.AddrReplace(nl, &netlink.Addr{IPNet: ipnet}); err != nil {
		return fmt.Errorf("wg: %s: adding address %s: %w", l.name, addr, err)
	}
	if err := netlink.LinkSetUp(nl); err != nil {
		return fmt.Errorf("wg: %s: setting it up: %w", l.name, err)
	}
	if l.dev != nil {
		// The TUN's netlink event brings the device up too, later;
		// doing it here opens the bind before up returns.
		if err := l.dev.Up(); err != nil {
			return fmt.Errorf("wg: %s: %w", l.name, err)
		}
	}
	return nil
}

// Close removes the interface: the kernel link, or the embedded device,
// its TUN and its UAPI socket. It is idempotent.
func (l *link) Close() error {
	l.closeOnce.Do(func() {
		if l.kind == KindKernel {
			l.closeErr = netlink.LinkDel(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: l.name}})
			return
		}
		l.uapi.Close()
		l.accepted.Wait()
		l.dev.Close()
		if err := os.Remove(l.socketPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.closeErr = err
		}
	})
	return l.closeErr
}

// deviceLogger passes wireguard-go's log lines to log: its errors (mostly
// transient send failures) as warnings, the rest at debug level.
func deviceLogger(log *slog.Logger) *device.Logger {
	l := &device.Logger{Errorf: func(format string, args ...any) {
		log.Warn(fmt.Sprintf(format, args...), "source", "wireguard-go")
	}}
	if log.Enabled(context.Background(), slog.LevelDebug) {
		l.Verbosef = func(format string, args ...any) {
			log.Debug(fmt.Sprintf(format, args...), "source", "wireguard-go")
		}
	} else {
		l.Verbosef = device.DiscardLogf
	}
	return l
}
