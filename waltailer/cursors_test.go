package waltailer

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"planet/storage/wal"
)

// TestCursorsRoundTrip: saved cursors load back; a file of another
// region, another format or with a bad position is refused with an error
// that says what to do.
func TestCursorsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "waltailer", "cursors.json")
	c, err := loadCursors(path, "sfo")
	if err != nil || len(c.regions()) != 0 {
		t.Fatalf("a missing file: %v %v", c, err)
	}
	c.set("storage-10600", "nyc", wal.Position{Generation: 3, Offset: 1024})
	c.set("storage-10601", "ams", wal.Position{Generation: 1, Offset: 7})
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	d, err := loadCursors(path, "sfo")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.table, d.table) {
		t.Fatalf("loaded %v, saved %v", d.table, c.table)
	}
	if _, err := loadCursors(path, "nyc"); err == nil || !strings.Contains(err.Error(), "remove it") {
		t.Fatalf("another region's file: %v", err)
	}
	for _, bad := range []string{
		`{"format":2,"region":"sfo","cursors":{}}`,
		`{"format":1,"region":"sfo","cursors":{"storage-x":{"nyc":"1:0"}}}`,
		`{"format":1,"region":"sfo","cursors":{"storage-1":{"nyc":"0:5"}}}`,
		`{"format":1,"region":"sfo","cursors":{"storage-1":{"sfo":"1:5"}}}`,
		`{"format":1,"region":"sfo","cursors":{"storage-1":{"nyc":"1:-5"}}}`,
		`not json`,
	} {
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := loadCursors(path, "sfo"); err == nil {
			t.Errorf("%s: loaded", bad)
		}
	}
}

// FuzzDecodeCursors: no input crashes the decoder, and what it accepts is
// a table of valid cursors that saves and loads back the same.
func FuzzDecodeCursors(f *testing.F) {
	f.Add([]byte(`{"format":1,"region":"sfo","cursors":{"storage-10600":{"nyc":"3:1024","ams":"1:0"}}}`))
	f.Add([]byte(`{"format":1,"region":"sfo","cursors":{}}`))
	f.Add([]byte(`{"format":1,"region":"sfo","cursors":{"storage-1":{"nyc":"1:0"}}} `))
	f.Fuzz(func(t *testing.T, b []byte) {
		table, err := decodeCursors(b, "sfo")
		if err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "c.json")
		c := &cursors{path: path, region: "sfo", table: table, dirty: true}
		if err := c.save(); err != nil {
			t.Fatal(err)
		}
		d, err := loadCursors(path, "sfo")
		if err != nil {
			t.Fatalf("saved cursors do not load: %v", err)
		}
		for name, m := range table {
			for r, p := range m {
				if p.Generation == 0 || p.Offset < 0 || r == "sfo" {
					t.Fatalf("accepted %s/%s %v", name, r, p)
				}
				if d.table[name][r] != p {
					t.Fatalf("%s/%s: %v after a round trip, was %v", name, r, d.table[name][r], p)
				}
			}
		}
	})
}
