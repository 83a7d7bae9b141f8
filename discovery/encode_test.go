package discovery

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"planet/discovery/api"
)

// FuzzAppendInstances: the hand-written encoder writes exactly what
// encoding/json writes.
func FuzzAppendInstances(f *testing.F) {
	f.Add("web", "127.0.0.1:80", "sfo", true, int64(1))
	f.Add("a\"b\\c<>&\x01", "é:1", "\u2028", false, int64(-1))
	f.Fuzz(func(t *testing.T, name, addr, region string, local bool, ns int64) {
		list := []api.Instance{{Name: name, Address: addr, Region: region, Local: local, LastSeen: time.Unix(0, ns).UTC()},
			{Name: "x", Address: "y:1", Region: "z", LastSeen: time.Unix(0, 0).UTC()}}
		var want bytes.Buffer
		json.NewEncoder(&want).Encode(list)
		if got := appendInstances(nil, list); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("got  %s\nwant %s", got, want.Bytes())
		}
	})
}

func TestAppendInstancesEmpty(t *testing.T) {
	if got := string(appendInstances(nil, []api.Instance{})); got != "[]\n" {
		t.Fatalf("got %q", got)
	}
}
