// Package regions owns Planet's region table: the one file, the same in
// every region, that says which regions make up the mesh, their WireGuard
// addresses, public endpoints and public keys. From it the wg package
// configures the WireGuard interface and Env renders each region's
// region.env (DISCOVERY_PEERS is the only variable that wires regions
// together, and it comes from here).
//
// The package uses the standard library (and internal/atomicfile to write
// the table); it knows WireGuard keys as 32 bytes
// and their base64 text, nothing of wgctrl.
//
// # File format
//
// The table is plain UTF-8 text, one directive per line, so that it can be
// written by hand, diffed and reviewed. In ABNF (RFC 5234), literals
// case-sensitive:
//
//	file      = *comment mesh-line *( *comment region-line ) *comment
//	mesh-line = *WSP "mesh" 1*WSP prefix *WSP EOL
//	region-line = *WSP "region" 1*WSP name 1*WSP ip 1*WSP endpoint 1*WSP key *WSP EOL
//	comment   = *WSP [ "#" *ANY ] EOL    ; a blank line or a comment
//	ANY       = %x00-09 / %x0B-FF        ; any byte but LF
//	name      = %x61-7A *31( %x61-7A / DIGIT )  ; hlc.ValidRegion: [a-z][a-z0-9]*, 1..32
//	prefix    = IP "/" bits              ; the mesh subnet, masked: 10.0.0.0/24
//	ip        = IPv4 / IPv6              ; no zone
//	endpoint  = host ":" port            ; IPv6 literals in brackets
//	host      = dns-name / IPv4 / "[" IPv6 "]"
//	dns-name  = label *( "." label )     ; letters, digits, "-"; at most 253 bytes
//	label     = 1*63( ALPHA / DIGIT / "-" )  ; not starting or ending with "-"
//	port      = %x31-39 *4DIGIT          ; 1..65535, no leading zeros
//	key       = 43base64 "="             ; standard base64 of 32 bytes, as `wg pubkey` prints
//	EOL       = LF / CRLF / end of file
//
// WSP is any run of spaces and tabs (other Unicode spaces too); columns need
// not line up. A "#" starts a comment only at the start of a line: a region
// line has exactly five fields and nothing after the key. The file is at
// most MaxFileSize bytes.
//
// For example (keys shortened):
//
//	# Planet region table.
//	mesh 10.0.0.0/24
//
//	# region NAME WG_IP ENDPOINT PUBLIC_KEY
//	region sfo 10.0.0.1 sfo.example.com:51820 AQIDBAUG...HB0eHyA=
//	region nyc 10.0.0.2 nyc.example.com:51820 ISIjJCUm...PD0+P0A=
//
// # Parsing and checking
//
// Parse checks the syntax of every line and reports every bad line, each as
// a *SyntaxError ("regions: line 4: ..."), joined with errors.Join. A table
// that parses may still be wrong as a whole; Table.Check reports the rest:
//
//   - names, WireGuard IPs, public keys and endpoints are unique (endpoints
//     compared with the host's case folded);
//   - every IP is inside the mesh subnet and is neither its network address
//     nor, for IPv4 subnets of /30 and wider, its broadcast address;
//   - no key is all zeros.
//
// # Comments and the canonical form
//
// Format writes the canonical form: the comment lines above the mesh line
// (Table.Comment), the mesh line, then each region's comment lines
// (Region.Comment: those directly above it, since the previous directive)
// and its line with the columns aligned, then the comment lines after the
// last region (Table.Trailer). Comments are kept, with leading and trailing
// white space trimmed; blank lines are not kept (Format puts one before each
// commented region). So Format(Parse(Format(t))) == Format(t), and
// Add/Remove followed by WriteFile keeps every comment but those of a removed
// region.
//
// # Editing
//
// Table.Add refuses a region that Check would reject; WriteFile replaces the
// file atomically (temporary file in the same directory, fsync, rename,
// fsync of the directory), keeping its mode. Two editors at once are not
// serialised: the last rename wins, but the file is never torn.
package regions
