package regions

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"planet/internal/atomicfile"
)

// DefaultFileMode is the mode of a region table that WriteFile creates: the
// table holds public keys only.
const DefaultFileMode fs.FileMode = 0o644

// ReadFile reads and parses the region table at path. A file that cannot be
// read gives an *fs.PathError, one that does not parse Parse's errors.
func ReadFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// WriteFile replaces the file at path (following a symbolic link) with the
// canonical text of t, atomically: it writes a temporary file in the same
// directory, fsyncs it, renames it over path and fsyncs the directory, so a
// reader sees the old table or the new one, even across a crash. The file
// keeps its mode (DefaultFileMode for a new file); its owner becomes the
// writer. It refuses a table whose text would not parse back.
func WriteFile(path string, t *Table) error {
	data := t.Format()
	if _, err := Parse(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("regions: refusing to write a table that does not parse back: %w", err)
	}
	mode := DefaultFileMode
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return atomicfile.Write(path, data, mode)
}
