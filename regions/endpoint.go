package regions

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ValidEndpoint returns nil if s is a usable WireGuard endpoint:
// "host:port" where host is a DNS name, an IPv4 address or a bracketed IPv6
// address (not unspecified, multicast or with a zone) and port is 1-65535
// in decimal without leading zeros.
func ValidEndpoint(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("endpoint %q: want host:port", s)
	}
	if err := validPort(port); err != nil {
		return fmt.Errorf("endpoint %q: %w", s, err)
	}
	if err := validHost(host, s); err != nil {
		return fmt.Errorf("endpoint %q: %w", s, err)
	}
	return nil
}

func validPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] < '1' || p[0] > '9' {
		return errors.New("port must be 1-65535")
	}
	return nil
}

// validHost checks host, the host part of endpoint s.
func validHost(host, s string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		switch {
		case ip.Zone() != "":
			return errors.New("IPv6 zones are not allowed")
		case ip.Is6() != strings.HasPrefix(s, "["):
			return errors.New("IPv6 addresses, and only they, go in brackets")
		case ip.IsUnspecified() || ip.IsMulticast():
			return errors.New("host is not a unicast address")
		}
		return nil
	}
	if strings.HasPrefix(s, "[") {
		return errors.New("only IPv6 addresses go in brackets")
	}
	return validDNSName(host)
}

// validDNSName checks a host name by the letters-digits-hyphen rule.
func validDNSName(h string) error {
	if h == "" || len(h) > 253 {
		return errors.New("host must be a DNS name of 1-253 bytes or an IP address")
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("bad DNS label %q in host", label)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c == '-' || '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z') {
				return fmt.Errorf("bad character %q in host", c)
			}
		}
	}
	return nil
}

// endpointID is the identity of a valid endpoint for uniqueness: DNS names
// compare without case, IP addresses by value.
func endpointID(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String()
	}
	return strings.ToLower(s)
}
