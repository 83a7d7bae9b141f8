package hlc

import (
	"errors"
	"fmt"
	"strconv"
)

// MaxRegionLen is the longest region name: a node id "<region>-<port>"
// then always fits the 64 bytes of a node.
const MaxRegionLen = 32

// ValidRegion returns nil if s is a valid region name: 1..32 bytes, a
// lowercase letter then lowercase letters and digits ([a-z][a-z0-9]*).
// It is the one rule for region names in the whole code base: REGION in
// region.env, the origin of WAL records, the region part of node ids.
func ValidRegion(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > MaxRegionLen:
		return fmt.Errorf("longer than %d characters", MaxRegionLen)
	case s[0] < 'a' || s[0] > 'z':
		return errors.New("must start with a lowercase letter")
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return fmt.Errorf("must be lowercase letters and digits only (found %q)", c)
		}
	}
	return nil
}

// NodeID is the id of the replica on port in region, "<region>-<port>",
// which versions carry: the origin region can be read off any version.
func NodeID(region string, port int) string { return region + "-" + strconv.Itoa(port) }

// Origin returns the region part of v's node: the region where the write
// that v versions was first accepted.
func (v Version) Origin() string { return RegionOf(v.Node) }

// RegionOf returns the region part of a node id "<region>-<port>".
func RegionOf(node string) string {
	for i := 0; i < len(node); i++ {
		if node[i] == '-' {
			return node[:i]
		}
	}
	return node
}
