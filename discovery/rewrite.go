package discovery

import (
	"net"
	"strings"
)

// RewriteAddress returns the address under which another region reaches an
// instance registered here as addr: a loopback or unspecified host
// (127.0.0.0/8, ::1, localhost, 0.0.0.0, ::) is replaced by this region's
// WireGuard IP; any other host is kept. addr must be host:port.
func RewriteAddress(addr string, wgIP net.IP) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || wgIP == nil {
		return addr
	}
	if !isLocalOnlyHost(host) {
		return addr
	}
	return net.JoinHostPort(wgIP.String(), port)
}

func isLocalOnlyHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}
