package decode

import (
	"testing"

	"planet/internal/peer"
)

func bulk(s string) peer.Reply { return peer.Reply{Kind: peer.KindBulk, Str: []byte(s)} }

func arr(rs ...peer.Reply) peer.Reply { return peer.Reply{Kind: peer.KindArray, Array: rs} }

// TestDecode: the replies replicas send decode; anything else is an
// error, never a panic or a half-decoded entry.
func TestDecode(t *testing.T) {
	kvs, err := Bucket(arr(bulk("a"), bulk("1.0.sfo-1"), bulk("b"), bulk("2.3.nyc-1")))
	if err != nil || len(kvs) != 2 || string(kvs[1].Key) != "b" || kvs[1].Version.Origin() != "nyc" {
		t.Fatalf("Bucket: %+v, %v", kvs, err)
	}
	for _, bad := range []peer.Reply{arr(bulk("a")), arr(bulk("a"), bulk("x")), bulk("a"), {Kind: peer.KindNil}} {
		if _, err := Bucket(bad); err == nil {
			t.Errorf("Bucket(%v): no error", bad)
		}
	}
	if it, found, err := VGet([]byte("k"), arr(bulk("v"), bulk("1.0.sfo-1"))); err != nil || !found || string(it.Value) != "v" || it.Delete {
		t.Fatalf("VGet of a value: %+v %v %v", it, found, err)
	}
	if it, found, err := VGet([]byte("k"), arr(peer.Reply{Kind: peer.KindNil}, bulk("1.0.sfo-1"))); err != nil || !found || !it.Delete {
		t.Fatalf("VGet of a tombstone: %+v %v %v", it, found, err)
	}
	if _, found, err := VGet([]byte("k"), peer.Reply{Kind: peer.KindNil}); err != nil || found {
		t.Fatalf("VGet of nothing: %v %v", found, err)
	}
	for _, bad := range []peer.Reply{arr(bulk("v")), arr(bulk("v"), bulk("nope")), arr(peer.Reply{Kind: peer.KindInt}, bulk("1.0.sfo-1")), bulk("v")} {
		if _, found, err := VGet([]byte("k"), bad); err == nil || found {
			t.Errorf("VGet(%v): %v %v", bad, found, err)
		}
	}
}
