package storage_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"planet/storage/storagetest"
	"planet/storage/wal"
)

// remoteVersion is a version minted in region nyc, ahead of the clock by
// ahead milliseconds (within the allowed skew).
func remoteVersion(ahead int64) string {
	return fmt.Sprintf("%d.0.nyc-10600", time.Now().UnixMilli()+ahead)
}

// TestRegionApply: REPL.APPLY applies another region's records with this
// region's write quorum, keeps their versions (so their origin), applies
// only what is newer, and a bad batch changes nothing.
func TestRegionApply(t *testing.T) {
	r := storagetest.NewRegion(t, 3)
	v1, v2, old := remoteVersion(1), remoteVersion(2), remoteVersion(-60_000)
	if got := r.MustDo(0, "REPL.APPLY", "PUT", "a", "1", v1, "DEL", "b", v1, "PUT", "c", "x y", v2); string(got.Str) != "OK" {
		t.Fatalf("REPL.APPLY: %v, want OK", got)
	}
	holders := 0
	for i := range r.Len() {
		if e := r.VGet(i, "a"); e.Version == v1 && e.Value == "1" {
			holders++
		}
	}
	if holders < 2 {
		t.Fatalf("right after OK %d replicas hold the record, want W=2", holders)
	}
	r.WaitConverged()
	for i := range r.Len() {
		if e := r.VGet(i, "b"); !e.Deleted || e.Version != v1 {
			t.Errorf("replica %d: b = %+v, want a tombstone at %s", i, e, v1)
		}
		if e := r.VGet(i, "c"); e.Value != "x y" || e.Version != v2 {
			t.Errorf("replica %d: c = %+v", i, e)
		}
	}
	// A batch of one tombstone alone.
	if got := r.MustDo(2, "REPL.APPLY", "DEL", "c", remoteVersion(3)); string(got.Str) != "OK" {
		t.Fatalf("REPL.APPLY DEL alone: %v", got)
	}
	// Older: acknowledged, not applied.
	r.MustDo(1, "REPL.APPLY", "PUT", "a", "older", old)
	if e := r.VGet(0, "a"); e.Value != "1" {
		t.Fatalf("an older record replaced a newer one: %+v", e)
	}
	// A batch with one bad record applies nothing.
	for _, bad := range [][]string{
		{"REPL.APPLY", "PUT", "d", "1", v2, "PUT", "e", "1", "not-a-version"},
		{"REPL.APPLY", "PUT", "d", "1", v2, "SET", "e", "1", v2},
		{"REPL.APPLY", "PUT", "d", "1", v2, "DEL", "e"},
		{"REPL.APPLY", "PUT", "d", "1", remoteVersion(3_600_000)},
	} {
		if _, err := r.Do(2, bad...); err == nil || !strings.Contains(err.Error(), "ERR") {
			t.Errorf("%q: %v, want an error", bad, err)
		}
	}
	if e := r.VGet(2, "d"); e.Found {
		t.Fatalf("a rejected batch applied d: %+v", e)
	}
	// The records in the WALs keep their origin: nyc, not this region.
	for i := range r.Len() {
		dir := filepath.Join(r.DataDir(), "storage-"+portOf(r.Addr(i)))
		b, err := os.ReadFile(filepath.Join(dir, wal.LogName(1)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "VPUT a=1@"+v1+" nyc ") {
			t.Errorf("replica %d's WAL has no record of origin nyc for a:\n%s", i, strings.TrimRight(string(b), "\x00"))
		}
	}
	if got := r.Metric(0, "storage_region_apply_records_total"); got != 3 {
		t.Errorf("storage_region_apply_records_total on the coordinator: %v, want 3", got)
	}

	// Without W replicas the reply is an error, never OK.
	r.Stop(1)
	r.Stop(2)
	_, err := r.Do(0, "REPL.APPLY", "PUT", "f", "1", remoteVersion(4))
	if err == nil || !strings.Contains(err.Error(), "NOQUORUM region apply: 1 of 1 records") {
		t.Fatalf("REPL.APPLY without a quorum: %v", err)
	}
}
