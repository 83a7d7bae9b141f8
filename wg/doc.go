// Package wg configures a region's WireGuard interface from the region
// table (package regions): its private key, its listen port (the port of
// the region's own endpoint in the table), and one peer per other region
// with that region's public key, endpoint, WireGuard IP as its only allowed
// IP (/32 or /128) and a persistent keepalive (DefaultKeepalive). It is the
// only package that imports wgctrl and wireguard-go; callers see its own
// types (Device, Peer, Change, PrivateKey) and regions.Key.
//
// # Kernel or embedded device
//
// Mesh.Run creates a kernel WireGuard link if the kernel has WireGuard, and
// otherwise runs an embedded wireguard-go device in the process: a TUN
// interface and a UAPI socket, /var/run/wireguard/IFACE.sock, through which
// wgctrl, `planet wg status` and `wg show` read it. The socket directory
// is per file system, not per network namespace, so two embedded devices
// on one machine need two interface names even in different namespaces.
// Run gives the interface this region's IP with the mesh's prefix length,
// sets it up, logs "wg: up" and keeps it configured until its context is
// done; then it removes the interface (and the socket).
//
// # Plan
//
// Every configuration step is Plan(desired, actual): desired from the
// table, actual as the device reports it. Plan is pure: a peer is matched
// by public key, a peer whose key changed is removed and added, a peer
// that agrees gets no change, and an update sets only the fields that
// differ (endpoint, allowed IPs, keepalive). The changes are applied one
// ConfigureDevice call each; ReplacePeers is never used, since it drops
// every session. A desired endpoint that is unknown (a DNS name that does
// not resolve) leaves the device's endpoint alone.
//
// Run plans again when told (Mesh.Update, after SIGHUP re-reads the table
// and key file), when it re-resolves endpoints given as DNS names
// (Config.ResolveInterval, DefaultResolveInterval: the address changes only
// if the current one is no longer among the answers, so round-robin DNS
// causes no updates; a failed lookup keeps the old address), and every
// second while it waits for a first handshake (below).
//
// # Crossed handshakes
//
// If two peers start their keepalive at the same instant, each sends a
// handshake initiation, each answers the other's, and both end up
// responders waiting for the other to send first: the first handshake
// stalls for WireGuard's rekey timeout (5 s). To avoid it, of two regions
// the one whose public key sorts lower (bytewise) initiates: it configures
// the peer with its keepalive at once, which sends a first packet. The
// other configures the peer with the keepalive off and turns it on after
// the first handshake with that peer, or after Config.KeepaliveDelay
// (DefaultKeepaliveDelay, 1 s) without one. One second is several first
// handshakes across the widest WAN RTT we plan for (165 ms), so two
// regions starting together do not cross; and a region that starts after
// its peer, whose first initiation was lost while this one was down,
// connects within that second instead of at the peer's 5 s retry (also
// when only this side can reach the other, behind a NAT).
//
// # WAN emulation
//
// For tests on one machine, Config.EmulateRTT delays the encrypted packets
// sent to some regions' endpoints by half the given round-trip time, so
// two regions that emulate the same RTT for each other see it in full. A
// wrapping conn.Bind holds each destination's packets in a FIFO queue of
// its own, drained by one goroutine with one timer (the delay is fixed per
// destination, so the queue is in due order); Send never blocks and one
// destination never holds up another. It needs the embedded device.
//
// # Rotating a region's key
//
// `planet wg rotate` writes a new key next to the old one (KEY.new) and
// prints its public key. Then: (1) change the region's key in the region
// table of every region; (2) reload every other region (SIGHUP): each
// removes the old peer and adds the new one, and this region gets no
// packets until (3) here: move KEY.new over KEY and reload this region,
// which sets its new private key. The new public key thus reaches every
// other region before this one switches to it; the sessions are
// re-established by the first handshake after step 3. Done in a row
// (scripts/deploy.sh --rotate-key REGION), the gap is the time between
// the reloads, which TCP connections over the mesh ride through: the
// mesh smoke test rotates a key under an open connection, whose next
// echo came back 0.4-1 s after the other region's reload.
package wg
