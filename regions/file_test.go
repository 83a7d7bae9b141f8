package regions

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestWriteFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "regions")
	example, err := os.ReadFile("regions.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, example, 0o640); err != nil {
		t.Fatal(err)
	}
	tab, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lon := testRegion("lon", 4)
	lon.Comment = []string{"# added later"}
	if err := tab.Add(lon); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, tab); err != nil {
		t.Fatal(err)
	}
	added, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(added, tab) {
		t.Fatalf("read back %+v, want %+v", added, tab)
	}
	assertMode(t, path, 0o640)
	if err := added.Remove("lon"); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, added); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(example) {
		t.Errorf("add then remove changed the file:\n%s", got)
	}
	assertMode(t, path, 0o640)
	assertOnly(t, dir, "regions")
}

func TestWriteFileNewAndSymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new")
	if err := WriteFile(path, testTable()); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path, DefaultFileMode)
	link := filepath.Join(dir, "link")
	if err := os.Symlink("new", link); err != nil {
		t.Fatal(err)
	}
	tab := testTable()
	tab.Regions = tab.Regions[:1]
	if err := WriteFile(link, tab); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
	if got, err := ReadFile(path); err != nil || len(got.Regions) != 1 {
		t.Errorf("target not written: %v %v", got, err)
	}
}

func TestWriteFileRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "regions")
	if err := WriteFile(path, &Table{}); err == nil {
		t.Error("wrote a table without mesh")
	}
	bad := testTable()
	bad.Regions[0].Comment = []string{"not a comment"}
	if err := WriteFile(path, bad); err == nil {
		t.Error("wrote a table whose text does not parse")
	}
	assertOnly(t, dir)
	if _, err := ReadFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file = %v", err)
	}
}

func assertMode(t testing.TB, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
	}
}

// assertOnly checks that dir holds exactly names: no temporary file left.
func assertOnly(t testing.TB, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) && !(len(got) == 0 && len(names) == 0) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}
