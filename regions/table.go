package regions

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"planet/internal/hlc"
)

// ErrUnknownRegion is returned for a region name that is not in the table.
var ErrUnknownRegion = errors.New("regions: no such region")

// Table is the region table: the mesh subnet and one entry per region.
type Table struct {
	// Mesh is the WireGuard subnet that every region's IP is in.
	Mesh netip.Prefix
	// Regions in file order.
	Regions []Region
	// Comment holds the comment lines above the mesh line, Trailer those
	// after the last region, each with its "#" and trimmed of white space.
	Comment, Trailer []string
}

// Region is one region of the mesh.
type Region struct {
	// Name is the region's name (hlc.ValidRegion), REGION in its region.env.
	Name string `json:"name"`
	// IP is the region's WireGuard address, WG_IP in its region.env.
	IP netip.Addr `json:"wg_ip"`
	// Endpoint is where other regions send WireGuard packets: "host:port",
	// the host a DNS name or an IP address.
	Endpoint string `json:"endpoint"`
	// PublicKey is the region's WireGuard public key.
	PublicKey Key `json:"public_key"`
	// Comment holds the comment lines directly above the region's line.
	Comment []string `json:"-"`
}

// Lookup returns the region called name.
func (t *Table) Lookup(name string) (Region, bool) {
	i := t.index(name)
	if i < 0 {
		return Region{}, false
	}
	return t.Regions[i], true
}

func (t *Table) index(name string) int {
	return slices.IndexFunc(t.Regions, func(r Region) bool { return r.Name == name })
}

// Check returns every problem of the table as a whole (see the package
// documentation), or nil if there is none.
func (t *Table) Check() []error {
	var errs []error
	if err := checkMesh(t.Mesh); err != nil {
		errs = append(errs, err)
	}
	s := seen{}
	for _, r := range t.Regions {
		errs = append(errs, checkRegion(t.Mesh, r)...)
		errs = append(errs, s.clashes(r)...)
		s.add(r)
	}
	return errs
}

// Add appends r to the table, or changes nothing and returns every reason
// that Check would reject r for.
func (t *Table) Add(r Region) error {
	s := seen{}
	for _, o := range t.Regions {
		s.add(o)
	}
	errs := append(checkRegion(t.Mesh, r), s.clashes(r)...)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = err.Error()
		}
		return fmt.Errorf("regions: cannot add %q: %s", r.Name, strings.Join(msgs, "; "))
	}
	r.Comment = slices.Clone(r.Comment)
	t.Regions = append(t.Regions, r)
	return nil
}

// Remove removes the region called name, with its comment lines.
func (t *Table) Remove(name string) error {
	i := t.index(name)
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrUnknownRegion, name)
	}
	t.Regions = slices.Delete(t.Regions, i, i+1)
	return nil
}

func checkMesh(p netip.Prefix) error {
	switch {
	case !p.IsValid():
		return errors.New("mesh: no valid subnet")
	case p != p.Masked():
		return fmt.Errorf("mesh %s: not a subnet's first address, want %s", p, p.Masked())
	case p.Addr().Zone() != "":
		return fmt.Errorf("mesh %s: zones are not allowed", p)
	}
	return nil
}

// checkRegion returns what is wrong with r on its own in mesh.
func checkRegion(mesh netip.Prefix, r Region) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("region %s: "+format, append([]any{r.Name}, args...)...))
	}
	if err := hlc.ValidRegion(r.Name); err != nil {
		bad("name: %v", err)
	}
	switch {
	case !r.IP.IsValid():
		bad("no wg ip")
	case r.IP.Zone() != "":
		bad("wg ip %s: zones are not allowed", r.IP)
	case !mesh.Contains(r.IP):
		bad("wg ip %s is outside the mesh %s", r.IP, mesh)
	case r.IP == mesh.Addr():
		bad("wg ip %s is the mesh's network address", r.IP)
	case r.IP == broadcast(mesh):
		bad("wg ip %s is the mesh's broadcast address", r.IP)
	}
	if err := ValidEndpoint(r.Endpoint); err != nil {
		bad("%v", err)
	}
	if r.PublicKey.IsZero() {
		bad("%v", errZeroKey)
	}
	return errs
}

// seen maps what must be unique ("wg ip 10.0.0.1") to the first region
// that has it, so that Check stays linear in the number of regions.
type seen map[string]string

// unique is one of a region's identities that no other region may share.
type unique struct {
	what  string // "name", "wg ip", "endpoint", "public key"
	id    string // compared
	shown string // in messages
}

func uniques(r Region) []unique {
	u := []unique{{"name", r.Name, r.Name}}
	if r.IP.IsValid() {
		u = append(u, unique{"wg ip", r.IP.String(), r.IP.String()})
	}
	if r.Endpoint != "" {
		u = append(u, unique{"endpoint", endpointID(r.Endpoint), r.Endpoint})
	}
	if !r.PublicKey.IsZero() {
		u = append(u, unique{"public key", r.PublicKey.String(), r.PublicKey.String()})
	}
	return u
}

func (s seen) add(r Region) {
	for _, u := range uniques(r) {
		if _, ok := s[u.what+" "+u.id]; !ok {
			s[u.what+" "+u.id] = r.Name
		}
	}
}

// clashes returns how r clashes with the regions seen so far.
func (s seen) clashes(r Region) []error {
	var errs []error
	for _, u := range uniques(r) {
		other, ok := s[u.what+" "+u.id]
		switch {
		case !ok:
		case u.what == "name":
			errs = append(errs, fmt.Errorf("region %s: name used twice", r.Name))
		default:
			errs = append(errs, fmt.Errorf("region %s: %s %s is also %s's", r.Name, u.what, u.shown, other))
		}
	}
	return errs
}

// broadcast returns the IPv4 broadcast address of p, or the zero Addr for
// IPv6 and for /31 and /32, which have none.
func broadcast(p netip.Prefix) netip.Addr {
	if !p.Addr().Is4() || p.Bits() > 30 {
		return netip.Addr{}
	}
	a := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a)
}
