package regions

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"planet/internal/hlc"
)

// MaxFileSize is the largest region table Parse reads, in bytes.
const MaxFileSize = 1 << 20

// SyntaxError is a line of a region table that does not parse.
type SyntaxError struct {
	Line int    // 1-based line number; 0 for the file as a whole
	Msg  string // what is wrong
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return "regions: " + e.Msg
	}
	return fmt.Sprintf("regions: line %d: %s", e.Line, e.Msg)
}

// Parse reads a region table (see the package documentation for the
// format). It checks every line's syntax and returns all bad lines as
// *SyntaxError values joined with errors.Join, and no table. It does not
// run Table.Check.
func Parse(r io.Reader) (*Table, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("regions: read: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, &SyntaxError{Msg: fmt.Sprintf("file larger than %d bytes", MaxFileSize)}
	}
	p := parser{t: &Table{}}
	for i, line := range strings.Split(string(data), "\n") {
		p.line(i+1, line)
	}
	if p.meshLine == 0 && len(p.errs) == 0 {
		p.errs = append(p.errs, &SyntaxError{Msg: "no mesh line (mesh PREFIX, e.g. mesh 10.0.0.0/24)"})
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	p.t.Trailer = p.comments
	return p.t, nil
}

// parser holds the state of Parse between lines.
type parser struct {
	t        *Table
	meshLine int      // line of the mesh directive, 0 before it
	comments []string // comment lines since the last directive
	errs     []error
}

func (p *parser) fail(n int, format string, args ...any) {
	p.errs = append(p.errs, &SyntaxError{Line: n, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) line(n int, line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	if line[0] == '#' {
		p.comments = append(p.comments, line)
		return
	}
	f := strings.Fields(line)
	switch f[0] {
	case "mesh":
		p.mesh(n, f)
	case "region":
		p.region(n, f)
	default:
		p.fail(n, "unknown directive %q (want mesh or region)", f[0])
	}
	p.comments = nil
}

func (p *parser) mesh(n int, f []string) {
	if p.meshLine != 0 {
		p.fail(n, "second mesh line (the first is line %d)", p.meshLine)
		return
	}
	p.meshLine = n
	p.t.Comment = p.comments
	if len(f) != 2 {
		p.fail(n, "want mesh PREFIX, got %d fields", len(f))
		return
	}
	prefix, err := netip.ParsePrefix(f[1])
	if err != nil {
		p.fail(n, "mesh %q: not a subnet like 10.0.0.0/24", f[1])
		return
	}
	if err := checkMesh(prefix); err != nil {
		p.fail(n, "%v", err)
		return
	}
	p.t.Mesh = prefix
}

func (p *parser) region(n int, f []string) {
	if p.meshLine == 0 {
		p.fail(n, "region before the mesh line")
		return
	}
	if len(f) != 5 {
		hint := ""
		if slices.ContainsFunc(f, func(s string) bool { return strings.HasPrefix(s, "#") }) {
			hint = " (comments go on their own line)"
		}
		p.fail(n, "want region NAME WG_IP ENDPOINT PUBLIC_KEY, got %d fields%s", len(f), hint)
		return
	}
	r := Region{Name: f[1], Endpoint: f[3], Comment: p.comments}
	var errs []string
	if err := hlc.ValidRegion(f[1]); err != nil {
		errs = append(errs, fmt.Sprintf("name %q: %v", f[1], err))
	}
	var err error
	if r.IP, err = netip.ParseAddr(f[2]); err != nil || r.IP.Zone() != "" {
		errs = append(errs, fmt.Sprintf("wg ip %q: not an IP address without zone", f[2]))
	}
	if err := ValidEndpoint(f[3]); err != nil {
		errs = append(errs, err.Error())
	}
	if r.PublicKey, err = ParseKey(f[4]); err != nil {
		errs = append(errs, "public "+err.Error())
	}
	if len(errs) > 0 {
		p.fail(n, "%s", strings.Join(errs, "; "))
		return
	}
	p.t.Regions = append(p.t.Regions, r)
}

// Format returns the canonical text of t (see the package documentation).
func (t *Table) Format() []byte {
	var b bytes.Buffer
	writeComments(&b, t.Comment)
	fmt.Fprintf(&b, "mesh %s\n", t.Mesh)
	var wName, wIP, wEnd int
	for _, r := range t.Regions {
		wName = max(wName, len(r.Name))
		wIP = max(wIP, len(r.IP.String()))
		wEnd = max(wEnd, len(r.Endpoint))
	}
	for i, r := range t.Regions {
		if i == 0 || len(r.Comment) > 0 {
			b.WriteByte('\n')
		}
		writeComments(&b, r.Comment)
		fmt.Fprintf(&b, "region %-*s %-*s %-*s %s\n", wName, r.Name, wIP, r.IP, wEnd, r.Endpoint, r.PublicKey)
	}
	if len(t.Trailer) > 0 {
		b.WriteByte('\n')
		writeComments(&b, t.Trailer)
	}
	return b.Bytes()
}

func writeComments(b *bytes.Buffer, lines []string) {
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

// WriteTo writes the canonical text of t to w.
func (t *Table) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(t.Format())
	return int64(n), err
}

var _ io.WriterTo = (*Table)(nil)
