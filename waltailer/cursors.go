package waltailer

// The cursor file.
//
// The tailer keeps its cursors in DATA_DIR/waltailer/cursors.json: for
// each local WAL (the directory of a storage replica, "storage-<port>")
// and each remote region, the position up to which that region has
// acknowledged the WAL's records. It is one JSON object (shown indented;
// it is written on one line):
//
//	{
//	  "format": 1,
//	  "region": "sfo",
//	  "cursors": {
//	    "storage-10600": {"nyc": "3:1024", "ams": "3:980"}
//	  }
//	}
//
// Positions are wal.Position's text form. The file is replaced whole
// (internal/atomicfile), only with positions that the remote region
// acknowledged, at most every FlushInterval and at shutdown, so a crash
// loses at most that much progress: the records after the cursor are sent
// again, which applying tolerates (it is idempotent). A file that does not
// decode, has another format or was written by another region is an
// error at start: starting over would resend every WAL to every region,
// so the operator decides (remove the file to do just that).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"

	"planet/internal/atomicfile"
	"planet/internal/hlc"
	"planet/storage/wal"
)

const cursorFormat = 1

type cursorFile struct {
	Format  int                                `json:"format"`
	Region  string                             `json:"region"`
	Cursors map[string]map[string]wal.Position `json:"cursors"`
}

// cursors is the table of acknowledged positions, by WAL name and remote
// region, and the file that keeps it.
type cursors struct {
	path   string
	region string

	mu    sync.Mutex
	table map[string]map[string]wal.Position // guarded by mu
	dirty bool                               // guarded by mu: changed since saved
}

// loadCursors reads path; a missing file is an empty table.
func loadCursors(path, region string) (*cursors, error) {
	c := &cursors{path: path, region: region, table: make(map[string]map[string]wal.Position)}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := decodeCursors(b, region)
	if err != nil {
		return nil, fmt.Errorf("cursor file %s: %w (remove it to send every WAL to every region again)", path, err)
	}
	c.table = t
	return c, nil
}

// decodeCursors decodes and checks the file's contents.
func decodeCursors(b []byte, region string) (map[string]map[string]wal.Position, error) {
	var f cursorFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	switch {
	case f.Format != cursorFormat:
		return nil, fmt.Errorf("format %d, want %d", f.Format, cursorFormat)
	case f.Region != region:
		return nil, fmt.Errorf("written by region %q, this is %q", f.Region, region)
	}
	t := make(map[string]map[string]wal.Position, len(f.Cursors))
	for name, byRegion := range f.Cursors {
		if _, err := walPort(name); err != nil {
			return nil, err
		}
		for r, pos := range byRegion {
			if err := hlc.ValidRegion(r); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if r == region {
				return nil, fmt.Errorf("%s: a cursor for this region itself", name)
			}
			if pos.Generation == 0 {
				return nil, fmt.Errorf("%s/%s: position %v: %w", name, r, pos, wal.ErrInvalidPosition)
			}
		}
		t[name] = maps.Clone(byRegion)
	}
	return t, nil
}

// get returns the cursor of (wal, region), and whether there is one.
func (c *cursors) get(name, region string) (wal.Position, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.table[name][region]
	return p, ok
}

// regions returns every remote region with a cursor.
func (c *cursors) regions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[string]bool)
	var out []string
	for _, byRegion := range c.table {
		for r := range byRegion {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// set records an acknowledged position.
func (c *cursors) set(name, region string, pos wal.Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.table[name]
	if m == nil {
		m = make(map[string]wal.Position)
		c.table[name] = m
	}
	if m[region] != pos {
		m[region] = pos
		c.dirty = true
	}
}

// save writes the table if it changed since the last save.
func (c *cursors) save() error {
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	f := cursorFile{Format: cursorFormat, Region: c.region, Cursors: make(map[string]map[string]wal.Position, len(c.table))}
	for name, m := range c.table {
		f.Cursors[name] = maps.Clone(m)
	}
	c.dirty = false
	c.mu.Unlock()
	b, err := json.Marshal(f)
	if err == nil {
		if err = os.MkdirAll(filepath.Dir(c.path), 0o755); err == nil {
			err = atomicfile.Write(c.path, b, 0o644)
		}
	}
	if err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return fmt.Errorf("save cursors: %w", err)
	}
	return nil
}
