package hlc

import (
	"strings"
	"testing"
)

func TestValidRegion(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"sfo", true},
		{"a", true},
		{"eu1", true},
		{strings.Repeat("a", MaxRegionLen), true},
		{strings.Repeat("a", MaxRegionLen+1), false},
		{"", false},
		{"SFO", false},
		{"1sfo", false},
		{"sf-o", false},
		{"sfo ", false},
		{"sfö", false},
	} {
		if err := ValidRegion(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidRegion(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestNodeIDOrigin(t *testing.T) {
	id := NodeID("nyc", 10601)
	if id != "nyc-10601" {
		t.Fatalf("NodeID = %q", id)
	}
	if err := ValidNode(NodeID(strings.Repeat("z", MaxRegionLen), 65535)); err != nil {
		t.Fatalf("longest node id invalid: %v", err)
	}
	if o := (Version{Time: 1, Node: id}).Origin(); o != "nyc" {
		t.Fatalf("Origin = %q", o)
	}
	if o := RegionOf("ams"); o != "ams" {
		t.Fatalf("RegionOf without port = %q", o)
	}
}
