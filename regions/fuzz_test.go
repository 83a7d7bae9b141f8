package regions

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, and that a table that parses
// formats to text that parses back to the same table, in canonical form.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("regions.example")
	if err != nil {
		f.Fatal(err)
	}
	k := testKey(7).String()
	for _, s := range []string{
		string(example), "", "mesh 10.0.0.0/24", "# c\nmesh fd00::/64\n#x\n",
		"mesh 10.0.0.0/24\nregion a 10.0.0.1 [::1]:1 " + k + "\n# t\n\n# u",
		"mesh 10.0.0.0/24\r\nregion a ::ffff:10.0.0.1 A.b-c.D:65535 " + k + "\r\n",
		"mesh 10.0.0.0/24\nregion a 10.0.0.1 a:1 " + k + "\nregion a 10.0.0.1 a:1 " + k,
		"mesh 1.2.3.4/33\nregion\nbogus #\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		_ = tab.Check()
		text := tab.Format()
		again, err := Parse(bytes.NewReader(text))
		if err != nil {
			t.Fatalf("formatted table does not parse: %v\n%s", err, text)
		}
		if !reflect.DeepEqual(again, tab) {
			t.Fatalf("round trip changed the table:\n%+v\n%+v\n%s", tab, again, text)
		}
		if text2 := again.Format(); !bytes.Equal(text2, text) {
			t.Fatalf("Format not canonical:\n%s\n%s", text, text2)
		}
	})
}
